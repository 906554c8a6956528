"""A run's config.json: a GlowTTS config (Coqui's GlowTTSConfig) or a vocoder config (Coqui's HiFi-GAN config, or
our frame vocoder's, model "frame_vocoder")."""
# No "from __future__ import annotations" here: coqpit reads the dataclass annotations as types, not strings.

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from rutts.files import atomic_output
from rutts.run.errors import RunError

CONFIG_NAME = "config.json"


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"конфиг не найден: {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunError(f"{path} не читается как JSON: {error}") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: в конфиге не объект JSON, а {type(data).__name__}")
    return data


def read_glowtts_config(path: Path):
    """The GlowTTSConfig in `path`; RunError for a file that is not one (a vocoder's config above all)."""
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig

    data = _read_json(path)
    if data.get("model") != "glow_tts":
        hint = ": это вокодер, его передают через --vocoder" if "generator_model" in data else ""
        raise RunError(f"{path} — не конфиг GlowTTS (model = {data.get('model')!r}){hint}")
    config = GlowTTSConfig()
    try:
        config.from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise RunError(f"{path}: конфиг GlowTTS с ошибкой: {error}") from None
    return config


@functools.cache
def vocoder_config_class():
    """HifiganConfig that keeps the discriminator's parameters too: Coqui's MelGAN discriminators read them, but
    HifiganConfig has no such field, so a smaller discriminator could be neither chosen nor saved (Coqui's own
    loader drops the field and then cannot build the model). Saved with model "hifigan", like Coqui's."""
    from TTS.vocoder.configs import HifiganConfig

    @dataclass
    class VocoderConfig(HifiganConfig):
        discriminator_model_params: dict = field(default_factory=dict)

    return VocoderConfig


FRAME_VOCODER = "frame_vocoder"  # `model` of a frame-level (iSTFT) vocoder's config


@functools.cache
def frame_vocoder_config_class():
    """Config of a frame-level vocoder (rutts.speech.frame_vocoder): Coqui's vocoder fields (audio, data_path,
    seq_len = the segment length in samples, batch_size, lr, optimizer_params, ...) plus the design and its
    losses. `cpu_bf16` None: bfloat16 autocast on a CPU that has it natively."""
    from TTS.vocoder.configs.shared_configs import BaseVocoderConfig

    @dataclass
    class FrameVocoderConfig(BaseVocoderConfig):
        model: str = FRAME_VOCODER
        design: str = "freev"
        model_params: dict = field(default_factory=dict)
        loss_params: dict = field(default_factory=dict)
        warmup_steps: int = 300
        ema_decay: float = 0.999
        cpu_bf16: bool | None = None

    return FrameVocoderConfig


def read_vocoder_config(path: Path):
    """A Coqui vocoder config; RunError for a file that is not one (a GlowTTS config above all)."""
    from TTS.config import load_config
    from TTS.vocoder.configs.shared_configs import BaseVocoderConfig

    if not Path(path).is_file():
        raise RunError(f"конфиг вокодера не найден: {path}")
    kind = _read_json(path).get("model")
    if kind == FRAME_VOCODER:
        config = frame_vocoder_config_class()()
        try:
            config.from_dict(_read_json(path))
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            raise RunError(f"{path}: конфиг вокодера с ошибкой: {error}") from None
        return config
    if kind == "glow_tts":
        raise RunError(f"{path} — конфиг модели GlowTTS, а не вокодера: модель передают через -m/--model, "
                       "вокодер — папкой прогона train_vocoder.py")
    try:
        config = load_config(str(path))
    except Exception as error:  # Coqui raises many types for an unknown model name or a broken field
        raise RunError(f"{path}: не конфиг вокодера Coqui (model = {kind!r}): {error}") from None
    if not isinstance(config, BaseVocoderConfig):
        raise RunError(f"{path} — конфиг модели {kind!r}, а не вокодера")
    if kind == "hifigan":
        config = vocoder_config_class()()
        config.from_dict(_read_json(path))
    return config


def update_run_config(run_dir: Path, **fields) -> None:
    """Change fields of the run's config.json, which the trainer re-reads when the run is continued."""
    path = Path(run_dir) / CONFIG_NAME
    data = _read_json(path)
    data.update(fields)
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(data, ensure_ascii=False, indent=4), encoding="utf-8")
