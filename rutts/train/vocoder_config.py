"""A vocoder's training config: presets/vocoder/<preset>.json + `--coqpit.field=value` over Coqui's HiFi-GAN config,
or over the frame vocoder's (a preset with "model": "frame_vocoder": freev_cpu, vocos_cpu, ...). The audio section is copied from the TTS config (one source of truth): a preset or override that touches `audio`, a
run continued with another TTS config, or a checkpoint to fine-tune from made for other mel settings is refused,
naming the fields."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from rutts.run import (FRAME_VOCODER, RunError, RunFolder, frame_vocoder_config_class, read_vocoder_config,
                       vocoder_config_class)
from rutts.speech import mel_differences
from rutts.speech.frame_vocoder import DESIGNS
from rutts.train.config import VOCODER_PRESETS_DIR, TrainingSetupError, available_vocoder_presets, deep_merge, load_config, parse_overrides, read_json

log = logging.getLogger(__name__)

TARGET_LOSS = "G_l1_spec_loss"  # best_model.pth = lowest eval mel loss (Coqui's default, loss_0, is the D loss)
ARCHITECTURE_KEYS = ("generator_model", "generator_model_params", "discriminator_model",
                     "discriminator_model_params")
FRAME_ARCHITECTURE_KEYS = ("design", "model_params")


def is_frame_vocoder(config) -> bool:
    return config.model == FRAME_VOCODER


def design_name(config) -> str:
    """What a vocoder config trains, for messages: "HiFi-GAN" or the frame design's name."""
    return f"кадровый {config.design}" if is_frame_vocoder(config) else "HiFi-GAN"


def default_preset(restore_path: Path | None, cuda: bool) -> str:
    """HiFi-GAN on a GPU, the FreeV frame vocoder on a CPU (HiFi-GAN cannot pass Griffin-Lim there); to fine-tune,
    the kind of the vocoder being fine-tuned."""
    frame = not cuda
    if restore_path:
        folder = Path(restore_path) if Path(restore_path).is_dir() else Path(restore_path).parent
        beside = RunFolder(folder).config_path
        try:
            frame = is_frame_vocoder(read_vocoder_config(beside))
        except RunError:  # a Coqui model name, a checkpoint without its config: HiFi-GAN, as Coqui's are
            frame = False
    if frame:
        return "freev_gpu8gb" if cuda else "freev_cpu"
    return "gpu8gb" if cuda else "cpu"


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
    if "discriminator_model_params" in config:
        config["discriminator_model_params"].update(update.pop("discriminator_model_params", {}))
    for params in ("model_params", "loss_params"):  # a frame vocoder's: their keys depend on the design
        if isinstance(update.get(params), dict) and params in config:
            config[params] = {**config[params], **update.pop(params)}
    for params in ("lr_scheduler_gen_params", "lr_scheduler_disc_params"):
        if params in update:
            if not isinstance(update[params], dict):
                raise TrainingSetupError(f"{where}: {params} — словарь параметров планировщика, а не "
                                         f"{update[params]!r}")
            config[params] = update.pop(params)
    return deep_merge(config, update, where)


def vocoder_config(tts_config, preset: str | None = None, overrides: list[str] | None = None,
                   data: str | Path | None = None):
    """The vocoder config: preset + overrides, audio from the TTS config, corpus = `data` or the TTS config's."""
    values, where = {}, ""
    if preset:
        preset_path = VOCODER_PRESETS_DIR / f"{preset}.json" if not preset.endswith(".json") else Path(preset)
        if not preset_path.is_file():
            raise TrainingSetupError(f"Нет пресета вокодера «{preset}». Есть: {', '.join(available_vocoder_presets())}")
        values, where = read_json(preset_path), preset_path.name
    frame = values.get("model") == FRAME_VOCODER
    config = (frame_vocoder_config_class() if frame else vocoder_config_class())()
    merged = config.to_dict()
    if values:
        merged = _merge(merged, values, where)
    if overrides:
        merged = _merge(merged, parse_overrides(overrides), "--coqpit")
    merged["audio"] = tts_config.audio.to_dict()
    merged["data_path"] = str(data or tts_config.datasets[0].path)
    merged["output_path"] = tts_config.output_path
    merged["target_loss"] = "loss" if frame else TARGET_LOSS
    try:
        config.from_dict(merged)
    except (TypeError, ValueError, KeyError) as error:
        raise TrainingSetupError(f"неверное значение в настройках вокодера: {error}") from None
    if config.seq_len % config.audio.hop_length:
        raise TrainingSetupError(f"seq_len {config.seq_len} должен делиться на hop_length {config.audio.hop_length}")
    if frame and config.design not in DESIGNS:
        raise TrainingSetupError(f"неизвестная схема кадрового вокодера design={config.design!r}: есть "
                                 f"{', '.join(sorted(DESIGNS))}")
    if not frame:
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
    """Take the network's shape (HiFi-GAN: generator/discriminator; a frame vocoder: design and model_params) from
    the config beside a checkpoint to fine-tune from; refuse one made for other mel settings or another kind."""
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
    if is_frame_vocoder(config) != is_frame_vocoder(theirs):
        raise TrainingSetupError(f"--restore-path: {checkpoint} — вокодер {design_name(theirs)}, а пресет учит "
                                 f"{design_name(config)}: дообучайте той же схемой (пресет по умолчанию её и "
                                 "выберет)")
    for key in FRAME_ARCHITECTURE_KEYS if is_frame_vocoder(config) else ARCHITECTURE_KEYS:
        if key in theirs:
            setattr(config, key, theirs[key])
