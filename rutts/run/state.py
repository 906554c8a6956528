"""Small records a run folder keeps beside its checkpoints: which vocoder the voice speaks with (vocoder.json) and
where early stopping stands (early_stop.json)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from rutts.files import atomic_output
from rutts.run.errors import RunError

LINK_FILE = "vocoder.json"  # in a TTS run folder: {"vocoder_run": path of the vocoder run, relative to the TTS run}
EARLY_STOP_STATE = "early_stop.json"  # the early-stop count survives --continue-path
CHECK_FILE = "heldout_check.json"  # in a vocoder run: its held-out score against Griffin-Lim's, and of which model


def _write_json(path: Path, data: dict) -> None:
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")


def link_vocoder(tts_run: Path, vocoder_run: Path) -> Path:
    """Make a TTS run name its vocoder (tts_run/vocoder.json), so synthesis needs no --vocoder."""
    try:
        target = os.path.relpath(Path(vocoder_run).resolve(), Path(tts_run).resolve())
    except ValueError:  # another drive on Windows
        target = str(Path(vocoder_run).resolve())
    link = Path(tts_run) / LINK_FILE
    _write_json(link, {"vocoder_run": Path(target).as_posix()})
    return link


def linked_vocoder(tts_run: Path) -> Path | None:
    """The vocoder run a TTS run names, or None; RunError when vocoder.json is there but unreadable."""
    link = Path(tts_run) / LINK_FILE
    if not link.is_file():
        return None
    try:
        return (Path(tts_run) / json.loads(link.read_text(encoding="utf-8"))["vocoder_run"]).resolve()
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise RunError(f"{link} не читается ({type(error).__name__})") from None


def vocoder_to_finetune(base: Path) -> Path | None:
    """The vocoder a fine-tuned model's base names (base: its run folder or a checkpoint in it), or None. The new
    run does not take it over: a vocoder learns its speaker (on the own-voice benchmark, fine-tuning the base's
    vocoder on her clips took PESQ on her held-out clips from 1.04 to 1.21), so it is fine-tuned for the new voice."""
    base = Path(base)
    try:
        named = linked_vocoder(base if base.is_dir() else base.parent)
    except RunError:
        return None
    return named if named is not None and named.exists() else None


def read_early_stop(run_dir: Path) -> tuple[float, int] | None:
    """(best eval loss, evaluations since it) a run recorded; None for a run without the record or a damaged one."""
    try:
        state = json.loads((Path(run_dir) / EARLY_STOP_STATE).read_text(encoding="utf-8"))
        return float(state["best_eval_loss"]), int(state["evaluations_without_gain"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_early_stop(run_dir: Path, best_eval_loss: float, evaluations_without_gain: int) -> None:
    _write_json(Path(run_dir) / EARLY_STOP_STATE,
                {"best_eval_loss": best_eval_loss, "evaluations_without_gain": evaluations_without_gain})


def write_vocoder_check(vocoder_run: Path, checkpoint: Path, scores: dict) -> None:
    """Record how the vocoder's `checkpoint` compared with Griffin-Lim (rutts.speech.heldout)."""
    stat = Path(checkpoint).stat()
    _write_json(Path(vocoder_run) / CHECK_FILE, {"checkpoint": Path(checkpoint).name, "mtime_ns": stat.st_mtime_ns,
                                                 **scores})

