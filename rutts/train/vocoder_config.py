"""A vocoder's training config: Coqui's HiFi-GAN config + presets/vocoder/<preset>.json + `--coqpit.field=value`.
The audio section is copied from the TTS config (one source of truth): a preset or override that touches `audio`, a
run continued with another TTS config, or a checkpoint to fine-tune from made for other mel settings is refused,
naming the fields."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from rutts.run import RunError, RunFolder, read_vocoder_config, vocoder_config_class
from rutts.speech import mel_differences
from rutts.train.config import PRESETS_DIR, TrainingSetupError, deep_merge, load_config, parse_overrides, read_json

log = logging.getLogger(__name__)

VOCODER_PRESETS_DIR = PRESETS_DIR / "vocoder"
TARGET_LOSS = "G_l1_spec_loss"  # best_model.pth = lowest eval mel loss (Coqui's default, loss_0, is the D loss)
ARCHITECTURE_KEYS = ("generator_model", "generator_model_params", "discriminator_model",
                     "discriminator_model_params")


def available_vocoder_presets() -> list[str]:
    return sorted(p.stem for p in VOCODER_PRESETS_DIR.glob("*.json"))


def read_tts_config(path: Path):
    """The GlowTTS config a vocoder takes its audio settings (and by default its corpus) from."""
    if Path(path).is_dir():
        path = RunFolder(path).config_path
    if not Path(path).is_file():
        raise TrainingSetupError(f"Нет конфига TTS {path}: укажите --tts-run outputs/<прогон> или --tts-config")
    try:
        return load_config(path)
    except TrainingSetupError as error:
        if "не конфиг GlowTTS" in str(error) and "generator_model" in read_json(Path(path)):
            raise TrainingSetupError(f"{path} — конфиг вокодера, а не TTS: --tts-run/--tts-config называют прогон "
                                     "или конфиг GlowTTS; продолжить прогон вокодера — --continue-path") from None
        raise


def _merge(config: dict, update: dict, where: str) -> dict:
    """A preset or overrides over the config dict: unknown fields refused, `audio` refused (it comes from the TTS
    config). Fields whose keys depend on another field are taken as given: discriminator_model_params (empty by
    default) and the lr schedulers' params, which replace the default ExponentialLR's."""
    if "audio" in update:
        raise TrainingSetupError(f"{where}: настройки звука вокодера берутся из конфига TTS (поле audio), чтобы "
                                 "мелы совпадали; меняйте их там, а не в настройках вокодера")
    update = dict(update)
    config["discriminator_model_params"].update(update.pop("discriminator_model_params", {}))
    for params in ("lr_scheduler_gen_params", "lr_scheduler_disc_params"):
        if params in update:
            if not isinstance(update[params], dict):
                raise TrainingSetupError(f"{where}: {params} — словарь параметров планировщика, а не "
                                         f"{update[params]!r}")
            config[params] = update.pop(params)
    return deep_merge(config, update, where)


def vocoder_config(tts_config, preset: str | None = None, overrides: list[str] | None = None,
                   data: str | Path | None = None):
    """HifiganConfig: preset + overrides, audio from the TTS config, corpus = `data` or the TTS config's."""
    config = vocoder_config_class()()
    merged = config.to_dict()
    if preset:
        preset_path = VOCODER_PRESETS_DIR / f"{preset}.json" if not preset.endswith(".json") else Path(preset)
        if not preset_path.is_file():
            raise TrainingSetupError(f"Нет пресета вокодера «{preset}». Есть: {', '.join(available_vocoder_presets())}")
        merged = _merge(merged, read_json(preset_path), preset_path.name)
    if overrides:
        merged = _merge(merged, parse_overrides(overrides), "--coqpit")
    merged["audio"] = tts_config.audio.to_dict()
    merged["data_path"] = str(data or tts_config.datasets[0].path)
    merged["output_path"] = tts_config.output_path
    merged["target_loss"] = TARGET_LOSS
    try:
        config.from_dict(merged)
    except (TypeError, ValueError, KeyError) as error:
        raise TrainingSetupError(f"неверное значение в настройках вокодера: {error}") from None
    _fit_loss_to_audio(config)
    _check_schedulers(config)
    return config


def _check_schedulers(config) -> None:
    """Each lr scheduler built once on a dummy optimizer, so a wrong name or parameter stops here, not after the
    data and the model are loaded."""
    from trainer.trainer_utils import get_scheduler

    for name in ("lr_scheduler_gen", "lr_scheduler_disc"):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        try:
            get_scheduler(getattr(config, name), getattr(config, f"{name}_params"), optimizer)
        except (AttributeError, TypeError, ValueError) as error:
            raise TrainingSetupError(f"планировщик {name}={getattr(config, name)!r} с параметрами "
                                     f"{getattr(config, f'{name}_params')} не создаётся: {error}") from None


def _fit_loss_to_audio(config) -> None:
    """The mel loss sees the corpus's sample rate and frames (its mel keeps the full band: fmax None)."""
    audio = config.audio
    config.l1_spec_loss_params.update(sample_rate=audio.sample_rate, n_fft=audio.fft_size,
                                      hop_length=audio.hop_length, win_length=audio.win_length,
                                      n_mels=audio.num_mels)
    if config.seq_len % audio.hop_length:
        raise TrainingSetupError(f"seq_len {config.seq_len} должен делиться на hop_length {audio.hop_length}")


def read_run_config(run: Path):
    """The HifiganConfig of a vocoder run folder (to continue it)."""
    path = RunFolder(run).config_path
    if not path.is_file():
        raise TrainingSetupError(f"В {run} нет config.json: это не папка прогона")
    try:
        return read_vocoder_config(path)
    except RunError as error:
        raise TrainingSetupError(f"{error} (продолжить прогон GlowTTS — train_glowtts.py --continue-path)") from None


def restore_architecture(config, checkpoint: Path) -> None:
    """Take the generator/discriminator shape from the config beside a checkpoint to fine-tune from; refuse one
    made for other mel settings."""
    beside = RunFolder(Path(checkpoint).parent).config_path
    if not beside.is_file():
        log.warning("рядом с %s нет config.json: размеры генератора берутся из пресета", checkpoint)
        return
    try:
        theirs = read_vocoder_config(beside)
    except RunError as error:
        raise TrainingSetupError(f"--restore-path: {error}") from None
    differ = mel_differences(config.audio, theirs.audio)
    if differ:
        raise TrainingSetupError(f"--restore-path: вокодер {checkpoint} обучен с другими настройками "
                                 f"мел-спектрограммы (TTS ≠ вокодер): {', '.join(differ)}")
    for key in ARCHITECTURE_KEYS:
        if key in theirs:
            setattr(config, key, theirs[key])
