"""Train GlowTTS on a RUSLAN-layout corpus with Coqui's Trainer.

    python train_glowtts.py                                   # config.json, GPU + fp16 when there is one
    python train_glowtts.py --preset cpu --data data/demo_22k --max-minutes 30
    python train_glowtts.py --continue-path outputs/<run>     # resume after a crash, Ctrl-C or SIGTERM
                                                              # (its own config; only --max-steps, --max-minutes,
                                                              # --early-stop, --health-every and --coqpit.lr apply)
    python train_glowtts.py --restore-path outputs/<base run> --preset finetune --data data/my_voice_22k --max-steps 2000
                                                              # fine-tune a trained model (a run folder or a .pth)
    python train_glowtts.py --coqpit.batch_size=16 --coqpit.lr=5e-4  # any config field

Multi-GPU (torch DDP, through the trainer's own launcher):
    python -m trainer.distribute --script train_glowtts.py --gpus "0,1" --preset gpu8gb
"""
import argparse
import logging
import sys
from pathlib import Path

from rutts.cli import ArgumentParser, fit_run
from rutts.train.config import TrainingSetupError, available_presets, load_config, parse_overrides

# torch, Coqui and the trainer (seconds to import) are imported in main(), after the arguments are checked.

log = logging.getLogger("train_glowtts")
HEALTH_EVERY = 200


def parse_args(argv):
    parser = ArgumentParser(description="Обучение GlowTTS на корпусе в раскладке RUSLAN.")
    parser.add_argument("--config", help="конфиг Coqui GlowTTS (по умолчанию config.json; при --restore-path — "
                                          "config.json базовой модели, если он рядом с её чекпойнтом)")
    parser.add_argument("--preset", choices=available_presets(), help="набор настроек поверх конфига")
    parser.add_argument("--data", help="папка корпуса (заменяет datasets[0].path конфига)")
    parser.add_argument("--continue-path", "--continue_path", default="", help="продолжить прогон из этой папки")
    parser.add_argument("--restore-path", "--restore_path", default="",
                        help="дообучить эту модель: папка прогона (её лучший читаемый чекпойнт) или файл .pth; "
                             "шаг 0, новый оптимизатор и разогрев, слои ActNorm не переинициализируются")
    parser.add_argument("--output-path", help="куда писать прогоны (по умолчанию outputs/)")
    parser.add_argument("--max-steps", type=int, help="остановиться после стольких шагов (с чекпойнтом)")
    parser.add_argument("--max-minutes", type=float, help="остановиться через столько минут (с чекпойнтом)")
    parser.add_argument("--health-every", type=int, default=HEALTH_EVERY, help="проверять кривые каждые N шагов (0 — нет)")
    parser.add_argument("--early-stop", type=int, metavar="N",
                        help="остановиться (с чекпойнтом) после N оценок на валидации подряд без улучшения eval loss; "
                             "лучшая по eval модель — best_model.pth")
    # Passed by `python -m trainer.distribute` to each DDP process.
    parser.add_argument("--rank", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--group_id", default="", help=argparse.SUPPRESS)
    parser.add_argument("--use_ddp", default="false", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    unknown = [a for a in rest if a.startswith("-") and not a.startswith("--coqpit.")]
    if unknown:
        parser.error(f"неизвестные аргументы: {' '.join(unknown)} (поля конфига задаются как --coqpit.поле=значение)")
    for name in ("max_steps", "max_minutes", "early_stop"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error(f"--{name.replace('_', '-')} должно быть больше нуля, получено {value:g}")
    if args.health_every < 0:
        parser.error(f"--health-every не может быть отрицательным, получено {args.health_every}")
    return args, rest


def config_path(args) -> Path:
    """--config, else the base model's config.json for a fine-tune (its alphabet and sizes), else config.json."""
    if args.config:
        return Path(args.config)
    if args.restore_path:
        from rutts.run import RunFolder

        base = Path(args.restore_path)
        beside = RunFolder(base if base.is_dir() else base.parent).config_path
        if beside.is_file():
            log.info("дообучение: конфиг базовой модели %s", beside)
            return beside
    return Path("config.json")


HONOURED_ON_RESUME = ("lr",)  # config fields --continue-path can change: the restored optimizer takes them


def resume_changes(args, overrides: list[str]) -> tuple[float | None, str]:
    """For --continue-path: the new learning rate (or None) and the line that says what this resume changes.
    TrainingSetupError naming the flags a resume cannot honour: the run goes on with its own config and corpus."""
    fields = parse_overrides(overrides)
    refused = [flag for flag, given in (("--config", args.config), ("--preset", args.preset), ("--data", args.data),
                                        ("--restore-path", args.restore_path), ("--output-path", args.output_path))
               if given]
    refused += [f"--coqpit.{key}" for key in fields if key not in HONOURED_ON_RESUME]
    if refused:
        raise TrainingSetupError(
            f"при --continue-path прогон продолжается со своим конфигом и корпусом, не применить: {', '.join(refused)} "
            f"(новый прогон от этих весов: --restore-path {args.continue_path})")
    lr = fields.get("lr")
    if lr is not None and (isinstance(lr, bool) or not isinstance(lr, int | float) or lr <= 0):
        raise TrainingSetupError(f"--coqpit.lr должно быть числом больше нуля, получено {lr}")
    said = [f"--{name.replace('_', '-')} {value:g}" for name, value in
            (("max_steps", args.max_steps), ("max_minutes", args.max_minutes), ("early_stop", args.early_stop))
            if value is not None]
    if args.health_every != HEALTH_EVERY:
        said.append(f"--health-every {args.health_every}")
    if lr is not None:
        said.append(f"--coqpit.lr={lr:g}")
    return (None if lr is None else float(lr)), (f"Продолжаю {args.continue_path} с {', '.join(said)}" if said else "")


def main(argv=None) -> int:
    args, overrides = parse_args(sys.argv[1:] if argv is None else argv)
    from rutts.run import best_checkpoint
    from rutts.train.glowtts import build_trainer, configure_device
    from rutts.train.stopping import Limits
    from rutts.train.trainer import summary

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        lr = config = None
        said = ""
        if args.continue_path:  # the run's own config.json, read by build_trainer
            lr, said = resume_changes(args, overrides)
        else:
            config = load_config(config_path(args), args.preset, overrides)
            if args.data:
                config.datasets[0].path = args.data
            elif args.restore_path:
                log.warning("дообучение на корпусе из конфига (%s); свой корпус задаётся через --data",
                            config.datasets[0].path)
            if configure_device(config) == "cpu" and args.preset != "cpu":
                log.warning("GPU не найден: обучение на CPU будет очень медленным. Для пробы возьмите --preset cpu")
        trainer = build_trainer(
            config,
            lr=lr,
            continue_path=args.continue_path or None,
            restore_path=args.restore_path or None,
            output_path=args.output_path,
            limits=Limits(args.max_steps, args.max_minutes, args.health_every, args.early_stop),
            trainer_args={"rank": args.rank, "group_id": args.group_id, "use_ddp": args.use_ddp == "true"},
        )
    except TrainingSetupError as error:
        print(f"Ошибка: {error}", file=sys.stderr)
        return 2
    if said:
        print(said)
    stopped = fit_run(trainer.fit, trainer.output_path,
                      f"python train_glowtts.py --continue-path {trainer.output_path}")
    if stopped is not None:
        return stopped
    print(f"\n{summary(trainer)}")
    print(f"Модель для озвучки: {best_checkpoint(trainer.output_path)}")
    print(f"Дальше: python inference.py -m {trainer.output_path} --text \"Привет! Это мой голос.\" -o outputs/hello.wav")
    print(f"Графики и проверка: python view_tensorboard.py {trainer.output_path} --report")
    if args.restore_path:
        print_base_vocoder(Path(args.restore_path), trainer.output_path)
    return 0


def print_base_vocoder(base: Path, run: Path) -> None:
    """The base's vocoder learned the base's speaker: say how to fine-tune it for this run."""
    from rutts.run import vocoder_to_finetune

    vocoder = vocoder_to_finetune(base)
    if vocoder:
        print(f"База озвучивала вокодером {vocoder}. Дообучите его на этом корпусе, и этот прогон будет "
              f"озвучивать им:\n  python train_vocoder.py --tts-run {run} --restore-path {vocoder}")


if __name__ == "__main__":
    sys.exit(main())
