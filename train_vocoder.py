"""Train a vocoder for a GlowTTS voice, on the same corpus, with Coqui's Trainer: a frame-level vocoder (FreeV or
Vocos design, trains in CPU minutes) or HiFi-GAN (Coqui's GAN, needs a GPU), chosen by the preset.

    python train_vocoder.py --tts-run outputs/<run> --max-minutes 60   # freev_cpu without a GPU, gpu8gb with one
    python train_vocoder.py --tts-run outputs/<run> --preset vocos_cpu  # presets/vocoder/: freev_*, vocos_cpu, cpu, gpu8gb
    python train_vocoder.py --tts-config config.json --data data/RUSLAN_22k --preset gpu8gb
    python train_vocoder.py --continue-path outputs/<vocoder run>     # resume after a crash, Ctrl-C or SIGTERM
    python train_vocoder.py --tts-run outputs/<run> --restore-path <folder>/model_file.pth   # fine-tune
    python train_vocoder.py --tts-run outputs/<run> --gta-from outputs/<run>    # on the TTS model's own mels
    python train_vocoder.py --tts-run outputs/<run> --coqpit.batch_size=4       # any HifiganConfig field

The audio settings always come from the TTS config (the vocoder must read the acoustic model's mels). With
--tts-run the TTS run is made to name this vocoder (outputs/<run>/vocoder.json) if it beats Griffin-Lim on the
held-out clips: inference.py, the course mode and the bot then use it without --vocoder. Train ids come from metadata_train.csv, evaluation from metadata_val.csv.
"""
import argparse
import logging
import sys
from pathlib import Path

from rutts.cli import ArgumentParser, fit_run
from rutts.train.config import TrainingSetupError, available_vocoder_presets

# torch and Coqui (seconds to import) are imported in the functions that need them, after the arguments are checked.

log = logging.getLogger("train_vocoder")


def preset_name(value: str) -> str:
    if value in available_vocoder_presets() or (value.endswith(".json") and Path(value).is_file()):
        return value
    raise argparse.ArgumentTypeError(f"нет пресета «{value}»: есть {', '.join(available_vocoder_presets())} "
                                     "или укажите файл .json")


def parse_args(argv):
    parser = ArgumentParser(description="Обучение вокодера для голоса GlowTTS (кадровый FreeV/Vocos или "
                                                 "HiFi-GAN — по пресету).")
    tts = parser.add_mutually_exclusive_group()
    tts.add_argument("--tts-run", "--tts_run", type=Path,
                     help="прогон GlowTTS: его настройки звука и корпус; он запомнит этот вокодер")
    tts.add_argument("--tts-config", "--tts_config", type=Path,
                     help="конфиг GlowTTS, откуда берутся настройки звука (по умолчанию config.json)")
    parser.add_argument("--preset", type=preset_name,
                        help=f"набор настроек вокодера: {', '.join(available_vocoder_presets())} или файл .json "
                             "(по умолчанию gpu8gb на видеокарте, иначе freev_cpu; при --restore-path — та же "
                             "схема, что у дообучаемого)")
    parser.add_argument("--data", type=Path, help="папка корпуса (по умолчанию корпус конфига TTS)")
    parser.add_argument("--continue-path", "--continue_path", type=Path, help="продолжить прогон вокодера")
    parser.add_argument("--restore-path", "--restore_path", type=Path,
                        help="дообучить с чекпойнта вокодера Coqui (рядом должен лежать его config.json)")
    parser.add_argument("--gta-from", "--gta_from", type=Path,
                        help="учить на мелах этого прогона GlowTTS для тех же записей (GTA), а не на мелах записей")
    parser.add_argument("--output-path", help="куда писать прогоны (по умолчанию outputs/)")
    parser.add_argument("--max-steps", type=int, help="остановиться после стольких шагов (с чекпойнтом)")
    parser.add_argument("--max-minutes", type=float, help="остановиться через столько минут (с чекпойнтом)")
    parser.add_argument("--health-every", type=int, default=200, help="проверять кривые каждые N шагов (0 — нет)")
    args, rest = parser.parse_known_args(argv)
    unknown = [a for a in rest if a.startswith("-") and not a.startswith("--coqpit.")]
    if unknown:
        parser.error(f"неизвестные аргументы: {' '.join(unknown)} (поля конфига задаются как --coqpit.поле=значение)")
    if args.continue_path and (args.restore_path or args.gta_from or args.preset or rest or args.data):
        parser.error("--continue-path продолжает прогон с его настройками: --preset, --data, --restore-path, "
                     "--gta-from и --coqpit.* с ним не задаются")
    return args, rest


def build(args, overrides):
    import torch

    from rutts.train.stopping import Limits
    from rutts.train.vocoder import build_vocoder_trainer
    from rutts.train.vocoder_config import default_preset, read_tts_config, vocoder_config
    from rutts.train.vocoder_data import extract_gta_mels

    tts_source = args.tts_run or args.tts_config or (None if args.continue_path else Path("config.json"))
    tts_config = read_tts_config(tts_source) if tts_source else None
    if args.continue_path:
        return build_vocoder_trainer(None, continue_path=args.continue_path, tts_config=tts_config,
                                     limits=Limits(args.max_steps, args.max_minutes, args.health_every))
    preset = args.preset or default_preset(args.restore_path, torch.cuda.is_available())
    config = vocoder_config(tts_config, preset, overrides, args.data)
    if args.gta_from:
        config.feature_path = str(extract_gta_mels(args.gta_from, Path(config.data_path)))
    return build_vocoder_trainer(config, restore_path=args.restore_path, output_path=args.output_path,
                                 limits=Limits(args.max_steps, args.max_minutes, args.health_every))


def name_in_tts_run(tts_run: Path | None, run: Path) -> None:
    """The TTS run names this vocoder if its best checkpoint beats Griffin-Lim on the held-out clips."""
    from rutts.run import RunError, best_checkpoint, link_vocoder
    from rutts.speech.heldout import beats_griffin_lim

    if tts_run is None or best_checkpoint(run) is None:
        return
    print("Сравниваю вокодер с Гриффином-Лимом на отложенных записях...")
    try:
        scores = check_against_griffin_lim(run)
    except (RunError, OSError) as error:
        print(f"Сравнить не удалось ({error}): {tts_run} по-прежнему звучит как раньше", file=sys.stderr)
        return
    unit = "PESQ-wb {:.2f}" if scores["metric"] == "pesq_wb" else "SI-SDR {:.1f} дБ"
    verdict = (f"{unit.format(scores['vocoder'])} на копиях записей против {unit.format(scores['griffin_lim'])} у "
               f"Гриффина-Лима ({scores['clips']} фраз)")
    if not beats_griffin_lim(scores):
        print(f"Вокодер пока хуже Гриффина-Лима: {verdict}. Прогон TTS {tts_run} его не назначает; послушать: "
              f"--vocoder {run}; доучить: python train_vocoder.py --continue-path {run}")
        return
    try:
        print(f"Вокодер лучше Гриффина-Лима: {verdict}. Прогон TTS {tts_run} теперь озвучивает им "
              f"({link_vocoder(tts_run, run)})")
    except OSError as error:
        print(f"Не удалось записать {tts_run}/vocoder.json: {error.strerror}", file=sys.stderr)


def check_against_griffin_lim(run: Path) -> dict:
    """Score the run's best checkpoint against Griffin-Lim on its corpus's held-out clips and record it."""
    import torch
    from TTS.utils.audio import AudioProcessor

    from rutts.run import read_vocoder_config
    from rutts.run.state import write_vocoder_check
    from rutts.speech.heldout import compare_with_griffin_lim
    from rutts.speech.vocoders import make_vocoder, vocoder_files

    checkpoint, config_path = vocoder_files(run)
    config = read_vocoder_config(config_path)
    ap = AudioProcessor(config.audio)
    vocoder = make_vocoder(checkpoint, config_path, ap, config.audio, torch.device("cpu"))
    scores = compare_with_griffin_lim(vocoder, Path(config.data_path), ap)
    write_vocoder_check(run, checkpoint, scores)
    return scores


def main(argv=None) -> int:
    args, overrides = parse_args(sys.argv[1:] if argv is None else argv)
    from rutts.train.trainer import summary

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    try:
        trainer = build(args, overrides)
    except TrainingSetupError as error:
        print(f"Ошибка: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # e.g. while the GTA mels are extracted: the ones written are kept
        print("\nПрервано до начала обучения", file=sys.stderr)
        return 130
    run = Path(trainer.output_path)
    stopped = fit_run(trainer.fit, run, f"python train_vocoder.py --continue-path {run}")
    if stopped in (None, 130):  # finished or interrupted with a checkpoint; not after a crash
        name_in_tts_run(args.tts_run, run)
    if stopped is not None:
        return stopped
    print(f"\n{summary(trainer)}")
    model = args.tts_run or "outputs/<прогон TTS>"
    flag = "" if args.tts_run else f" --vocoder {run}"
    print(f"Дальше: python inference.py -m {model}{flag} --text \"Привет! Это мой голос.\" -o outputs/hello.wav")
    print(f"Графики и проверка: python view_tensorboard.py {run} --report")
    return 0


if __name__ == "__main__":
    sys.exit(main())
