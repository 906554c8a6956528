"""A run's checkpoints: finding the one to use, checking it can be read, writing best_model.pth safely,
and checking that a checkpoint fits the model it is loaded into.

Coqui's trainer writes `checkpoint_<step>.pth` every `save_step` steps, `best_model_<step>.pth` when the eval loss
improves, and `best_model.pth`, a copy of the latter. A kill, a full disk or a crash while one of them is written
leaves it truncated; readers here skip such a file (with a warning) and take the newest one that is whole.
"""
from __future__ import annotations

import logging
import os
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from rutts.run.errors import RunError

log = logging.getLogger(__name__)

BEST = "best_model.pth"
STAGING_DIR = ".best_model_staging"


def numbered(run_dir: Path, kind: str) -> list[Path]:
    """A run's `<kind>_<step>.pth` files (kind: checkpoint or best_model), lowest step first."""
    steps = {p: p.stem.rsplit("_", 1)[-1] for p in Path(run_dir).glob(f"{kind}_*.pth")}
    return sorted((p for p, step in steps.items() if step.isdigit()), key=lambda p: int(steps[p]))


def is_readable(path: Path) -> bool:
    """Whether the checkpoint file is whole. torch.save writes a zip archive whose directory is at the very end, so
    a truncated file has none: reading the directory costs ~4 ms for a 330 MB checkpoint (torch.load with mmap:
    ~35 ms, a full load: 0.1 s from the page cache and seconds from disk). Files in torch's pre-1.6 format are
    loaded in full."""
    try:
        with open(path, "rb") as handle:
            is_zip = handle.read(4) == b"PK\x03\x04"
        if is_zip:
            with zipfile.ZipFile(path) as archive:
                return any(name.endswith("data.pkl") for name in archive.namelist())
        torch.load(path, map_location="cpu", weights_only=False)
        return True
    except Exception:  # zipfile, pickle and torch raise many types for a damaged file
        return False


def best_checkpoint(run_dir: str | Path) -> Path | None:
    """The run's checkpoint to use: best_model.pth, else (with a warning when best_model.pth is damaged) the newest
    readable best_model_<step>.pth, else the newest readable checkpoint_<step>.pth; None when there is none."""
    run_dir = Path(run_dir)
    best = run_dir / BEST
    if best.is_file() and is_readable(best):
        return best
    candidates = [*reversed(numbered(run_dir, "best_model")), *reversed(numbered(run_dir, "checkpoint"))]
    damaged = [best] if best.is_file() else []
    for path in candidates:
        if is_readable(path):
            if damaged:
                log.warning("%s не читается (файл обрезан: прогон убили во время записи?): беру %s",
                            ", ".join(p.name for p in damaged), path.name)
            return path
        damaged.append(path)
    if damaged:
        log.warning("в %s нет ни одного читаемого чекпойнта: %s обрезаны", run_dir, ", ".join(p.name for p in damaged))
    return None


def best_eval_loss(run_dir: str | Path) -> float | None:
    """The eval loss the run's best model was chosen by (`model_loss` that Coqui stores in best_model.pth, or in
    the newest readable best_model_<step>.pth); None when no best model records one."""
    run_dir = Path(run_dir)
    for path in [run_dir / BEST, *reversed(numbered(run_dir, "best_model"))]:
        if not path.is_file() or not is_readable(path):
            continue
        try:
            recorded = load_state(path).get("model_loss")
        except RunError:
            continue
        value = recorded.get("eval_loss") if isinstance(recorded, dict) else recorded
        if isinstance(value, int | float):
            return float(value)
    return None


@contextmanager
def staged_best_model(run_dir: Path, keep_older: bool) -> Iterator[Path]:
    """A folder inside the run for the trainer to save best_model_<step>.pth and best_model.pth into. When the block
    ends without error they replace the run's files with os.replace (atomic), so at every moment the run has a
    whole best_model.pth; then the older best_model_<step>.pth are removed unless `keep_older`. On error the run's
    files are left as they were."""
    run_dir = Path(run_dir)
    staging = run_dir / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)  # what a killed save left
    staging.mkdir()
    try:
        yield staging
        new = numbered(staging, "best_model")
        if new:
            os.replace(new[-1], run_dir / new[-1].name)
            os.replace(staging / BEST, run_dir / BEST)
            log.info("лучшая модель: %s (и best_model.pth)", run_dir / new[-1].name)
            if not keep_older:
                for older in numbered(run_dir, "best_model"):
                    if older.name != new[-1].name:
                        older.unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def restore_source(path: str | Path) -> Path:
    """The checkpoint `--restore-path` names: a checkpoint file, or a run folder (its best readable checkpoint).
    FileNotFoundError / ValueError with a message for the user."""
    path = Path(path)
    if path.is_dir():
        checkpoint = best_checkpoint(path)
        if checkpoint is None:
            raise ValueError(f"в папке {path} нет читаемого чекпойнта (best_model.pth или checkpoint_*.pth)")
        return checkpoint
    if not path.is_file():
        raise FileNotFoundError(f"чекпойнт для дообучения не найден: {path}")
    if not is_readable(path):
        raise ValueError(f"{path} не читается как чекпойнт PyTorch (файл обрезан или это не чекпойнт)")
    return path


def describe_mismatch(state: dict, model: torch.nn.Module) -> str | None:
    """Why the weights in a Coqui checkpoint `state` cannot be loaded into `model` as they are (another model type,
    another alphabet, other layer sizes), in Russian; None when they fit. The trainer itself would load a partial
    match quietly (set_partial_state_dict) and start from half-random weights."""
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        return "в файле нет весов модели (ключ 'model'): это не чекпойнт Coqui"
    trained_config = state.get("config") or {}
    ours_config = model.config
    kind = trained_config.get("model")
    if kind is not None and kind != ours_config.model:
        return f"это чекпойнт модели {kind!r}, а не {ours_config.model!r} (вокодер?)"
    trained = (trained_config.get("characters") or {}).get("characters")
    ours = ours_config.characters.characters if ours_config.characters else None
    if trained is not None and ours is not None and trained != ours:
        missing, extra = "".join(sorted(set(ours) - set(trained))), "".join(sorted(set(trained) - set(ours)))
        what = "; ".join(filter(None, [f"нет «{missing}»" if missing else "", f"лишние «{extra}»" if extra else ""]))
        return f"другой алфавит: {what or 'те же символы в другом порядке'}"
    expected = model.state_dict()
    for name, tensor in state["model"].items():
        if name in expected and expected[name].shape != tensor.shape:
            return (f"другие размеры сети: слой {name} {tuple(tensor.shape)} в чекпойнте, "
                    f"{tuple(expected[name].shape)} по конфигу")
    missing_layers = sorted(set(expected) - set(state["model"]))
    unexpected = sorted(set(state["model"]) - set(expected))
    if missing_layers or unexpected:
        return (f"другое устройство сети: нет {len(missing_layers)} слоёв, лишних {len(unexpected)} "
                f"(например {(missing_layers or unexpected)[0]})")
    return None


def load_state(checkpoint: Path) -> dict:
    """A Coqui checkpoint's contents, loaded as the trainer loads them; RunError for a file that is not one."""
    from trainer.io import load_fsspec

    try:
        state = load_fsspec(checkpoint, map_location="cpu")
    except Exception as error:  # torch raises many types for a file that is not a checkpoint
        raise RunError(f"{checkpoint} не читается как чекпоинт PyTorch ({type(error).__name__})") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise RunError(f"{checkpoint}: в файле нет весов модели (ключ 'model')")
    return state


def check_fits(state: dict, model: torch.nn.Module, checkpoint: Path, purpose: str, hint: str) -> None:
    """RunError "<checkpoint> не подходит <purpose>: <the mismatch><hint>" where the weights do not fit the model:
    the trainer would load a partial match quietly and PyTorch would answer with a wall of size errors."""
    problem = describe_mismatch(state, model)
    if problem:
        raise RunError(f"{checkpoint} не подходит {purpose}: {problem}{hint}")


def set_aside_unreadable_checkpoints(run_dir: Path) -> None:
    """A run killed while writing a checkpoint leaves it truncated, and the trainer would resume from exactly
    that file. The newest unreadable checkpoint_N / best_model_N files are renamed to unreadable-*.bak (kept,
    out of reach of the trainer's checkpoint search and rotation), so the run continues from the newest one that
    loads. RunError when none is left."""
    from trainer.io import load_fsspec  # what the trainer itself resumes with

    for kind in ("checkpoint", "best_model"):
        for path in reversed(numbered(run_dir, kind)):
            try:
                load_fsspec(path, map_location="cpu")
                break
            except Exception as error:  # torch raises many types for a truncated file
                aside = path.with_name(f"unreadable-{path.name}.bak")
                path.replace(aside)
                log.warning("%s не читается (%s; прогон убили во время записи?): отложен как %s, продолжаю с "
                            "предыдущего", path.name, type(error).__name__, aside.name)
    if not any(Path(run_dir).glob("*.pth")):
        raise RunError(f"В {run_dir} не осталось читаемых чекпойнтов: продолжать не с чего")
