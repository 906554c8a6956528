"""A training config: config.json (Coqui's format) + a preset from presets/ + `--coqpit.field=value` overrides;
unknown fields are refused, not ignored."""
from __future__ import annotations

import json
from pathlib import Path

PRESETS_DIR = Path(__file__).resolve().parents[2] / "presets"
VOCODER_PRESETS_DIR = PRESETS_DIR / "vocoder"


def available_vocoder_presets() -> list[str]:
    return sorted(p.stem for p in VOCODER_PRESETS_DIR.glob("*.json"))



class TrainingSetupError(RuntimeError):
    """Something the user has to fix before training can start."""



def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.json"))


def deep_merge(base: dict, update: dict, where: str) -> dict:
    for key, value in update.items():
        if isinstance(base, list) and key.isdigit() and int(key) < len(base):
            key = int(key)
        elif key not in base:
            raise TrainingSetupError(f"Неизвестные параметры: {where}: поля «{key}» нет в конфиге")
        if isinstance(value, dict) and isinstance(base[key], dict | list) and key != "encoder_params":
            deep_merge(base[key], value, f"{where}.{key}")
        else:
            base[key] = value
    return base


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainingSetupError(f"Файл не найден: {path}") from None
    except json.JSONDecodeError as error:
        raise TrainingSetupError(f"{path}: ошибка JSON в строке {error.lineno}: {error.msg}") from None


def load_config(config_path: str | Path, preset: str | None = None, overrides: list[str] | None = None):
    """config.json (Coqui's GlowTTSConfig format) + an optional preset + `--coqpit.field=value` overrides."""
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig

    config_path = Path(config_path)
    data = read_json(config_path)
    if data.get("model") != "glow_tts":
        raise TrainingSetupError(f"{config_path}: это не конфиг GlowTTS (model = {data.get('model')!r})")
    config = GlowTTSConfig()
    try:
        config.from_dict(data)
    except (TypeError, ValueError, KeyError) as error:
        raise TrainingSetupError(f"{config_path}: неверное значение в конфиге: {error}") from None
    if preset:
        preset_path = PRESETS_DIR / f"{preset}.json" if not preset.endswith(".json") else Path(preset)
        if not preset_path.exists():
            raise TrainingSetupError(f"Нет пресета «{preset}». Есть: {', '.join(available_presets())}")
        merged = deep_merge(config.to_dict(), read_json(preset_path), preset_path.name)
        config.from_dict(merged)
    if overrides:
        config.from_dict(deep_merge(config.to_dict(), parse_overrides(overrides), "--coqpit"))
    return config


def parse_overrides(arguments: list[str]) -> dict:
    """`--coqpit.a.b=value` (or `--coqpit.a.b value`) → {"a": {"b": value}}; values are JSON where they parse."""
    result: dict = {}
    tokens = list(arguments)
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("--coqpit."):
            raise TrainingSetupError(f"Неизвестные параметры: {token}")
        key, sep, raw = token[len("--coqpit."):].partition("=")
        if not sep:
            if not tokens:
                raise TrainingSetupError(f"Нет значения для {token}")
            raw = tokens.pop(0)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        *parents, leaf = key.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return result
