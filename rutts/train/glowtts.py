"""Training GlowTTS: the corpus's samples checked, the model built (or restored to fine-tune), the trainer ready."""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from trainer import TrainerArgs

from rutts.dataset import DatasetError, check_sample_rates
from rutts.run import (RunError, RunFolder, pass_record_to_run, read_record, restore_source,
                       set_aside_unreadable_checkpoints)
from rutts.run.checkpoints import check_fits, load_state
from rutts.text import TextError
from rutts.train.config import TrainingSetupError, load_config
from rutts.train.trainer import GuardedTrainer

log = logging.getLogger(__name__)


def load_samples(config) -> tuple[list[dict], list[dict]]:
    """Train/eval samples from the dataset entry; every wav they name must exist, at the config's sample rate."""
    from TTS.tts.datasets import load_tts_samples

    if not config.datasets:
        raise TrainingSetupError("В конфиге нет ни одного датасета (поле datasets)")
    for dataset in config.datasets:
        root = Path(dataset.path)
        if not root.is_dir():
            raise TrainingSetupError(f"Папка корпуса не найдена: {root}")
        for meta in (dataset.meta_file_train, dataset.meta_file_val):
            if meta and not (root / meta).is_file():
                raise TrainingSetupError(
                    f"Нет {root / meta}: сначала запустите python check_sample_rate.py {root} — он пишет разбиение"
                )
    try:
        train, evaluation = load_tts_samples(config, eval_split=True, eval_split_size=config.eval_split_size)
    except (ValueError, IndexError, UnicodeDecodeError) as error:
        raise TrainingSetupError(f"Не удалось прочитать метаданные корпуса: {error}") from None
    missing = [s["audio_file"] for s in train + evaluation if not Path(s["audio_file"]).is_file()]
    if missing:
        more = f" и ещё {len(missing) - 1}" if len(missing) > 1 else ""
        raise TrainingSetupError(f"Метаданные ссылаются на отсутствующий файл: {missing[0]}{more}")
    if not train:
        raise TrainingSetupError("Обучающая выборка пуста")
    try:
        check_sample_rates([s["audio_file"] for s in train + evaluation], config.audio.sample_rate)
    except DatasetError as error:
        raise TrainingSetupError(str(error)) from None
    return train, evaluation



def configure_device(config) -> str:
    """CUDA with fp16 when there is a GPU, otherwise CPU in fp32 (fp16 autocast does not help on CPU)."""
    if torch.cuda.is_available():
        return "cuda"
    if config.mixed_precision:
        config.mixed_precision = False
    return "cpu"


def _corpus_record(config) -> tuple[Path, dict | None]:
    """The training corpus (datasets[0], the one --data replaces) and its front-end record, checked before a run
    folder is created."""
    corpus = Path(config.datasets[0].path)
    try:
        return corpus, read_record(corpus)
    except TextError as error:
        raise TrainingSetupError(str(error)) from None


def build_trainer(config, *, continue_path=None, restore_path=None, output_path=None, limits=None, model=None,
                  trainer_args: dict | None = None, lr: float | None = None) -> GuardedTrainer:
    """Samples, model and trainer, ready for `.fit()`. `continue_path` continues that run with its own config
    (`config` may be None then; `lr`: a new learning rate for it). `restore_path` (a checkpoint or a run folder)
    starts a fine-tune: weights only, step 0, and no data-dependent re-initialisation of the restored flow layers."""
    from TTS.tts.models.glow_tts import GlowTTS

    if continue_path:
        run = RunFolder(continue_path)
        if not run.config_path.is_file():
            raise TrainingSetupError(f"В {continue_path} нет config.json: это не папка прогона")
        try:
            run.checkpoint()
            set_aside_unreadable_checkpoints(run.path)
        except RunError as error:
            raise TrainingSetupError(f"В {continue_path} нет читаемых чекпойнтов: продолжать нечего ({error})") from None
        config = load_config(run.config_path)  # Trainer reloads it too; GuardedTrainer then turns fp16 off without a GPU
    if restore_path:
        try:
            restore_path = restore_source(restore_path)
        except (FileNotFoundError, ValueError) as error:
            raise TrainingSetupError(str(error)[:1].upper() + str(error)[1:]) from None
        if config.data_dep_init_steps:
            # GlowTTS would re-run its ActNorm initialisation on the new data and overwrite the restored layers.
            log.info("дообучение с %s: data_dep_init_steps %d → 0 (слои ActNorm остаются как в базовой модели)",
                     restore_path, config.data_dep_init_steps)
            config.data_dep_init_steps = 0
    if limits is not None and limits.early_stop and not config.run_eval:
        raise TrainingSetupError("ранней остановке (--early-stop) нужна оценка на валидации: run_eval=true")
    corpus, corpus_record = _corpus_record(config)
    train, evaluation = load_samples(config)
    if model is None:
        model = GlowTTS(config)
    if restore_path:
        beside = RunFolder(restore_path.parent).config_path
        hint = f"; возьмите конфиг базовой модели: --config {beside}" if beside.is_file() else ""
        try:
            check_fits(load_state(restore_path), model, restore_path, "для дообучения этой модели", hint)
        except RunError as error:
            raise TrainingSetupError(str(error)) from None
    args = TrainerArgs(continue_path=str(continue_path or ""), restore_path=str(restore_path or ""),
                       **(trainer_args or {}))
    trainer = GuardedTrainer(args, config, output_path or config.output_path, model=model, train_samples=train,
                             eval_samples=evaluation, parse_command_line_args=False, limits=limits)
    if continue_path and lr is not None:
        trainer.continue_with_lr(lr)
    if trainer._is_main_process:
        pass_record_to_run(corpus, corpus_record, trainer.output_path)
    return trainer
