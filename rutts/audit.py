"""The audit of a corpus in RUSLAN's layout (check_sample_rate.py): every utterance's wav (present, readable, header,
length, and with `signal` its samples: clipping, loudness, edge silence) and text (through the front end), as
errors that keep it out of the split and warnings that do not."""
from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf

from rutts.audio import AudioError, read_audio, speech_bounds, to_mono, wav_shortfall
from rutts.dataset import (CACHE_FILE, WAV_DIR, DatasetError, process_texts, read_metadata, wav_path)
from rutts.text import FrontEnd

log = logging.getLogger(__name__)

FULL_SCALE = 32767 / 32768  # a 16-bit sample at its limit, as float

ERRORS = ("missing_wav", "empty_wav", "corrupt_wav", "truncated_wav", "not_wav", "no_audio", "sample_rate",
          "channels", "subtype", "empty_text", "text_error", "unencodable")
WARNINGS = ("orphan_wav", "too_short", "too_long", "text_too_short", "text_too_long", "clipping", "quiet",
            "long_silence")


@dataclass(frozen=True)
class AuditLimits:
    """What the model expects of its data, taken from config.json."""

    sample_rate: int
    alphabet: frozenset[str]
    min_samples: int
    max_samples: int
    min_text_chars: int = 1
    max_text_chars: float = math.inf
    clip_share: float = 0.001  # share of samples at full scale
    quiet_dbfs: float = -45.0  # RMS of the whole file
    edge_silence_s: float = 1.0  # leading or trailing
    audit_defaults: tuple[str, ...] = ()  # audio length limits the config leaves open, filled in by the audit

    @classmethod
    def from_config(cls, config: dict) -> AuditLimits:
        """Read a Coqui config dict (as training will use it, presets applied); an absent or infinite audio
        length limit falls back to 0.5 or 15 s, named in `audit_defaults` (training itself would not skip)."""
        try:
            sample_rate = int(config["audio"]["sample_rate"])
            alphabet = frozenset(config["characters"]["characters"] + config["characters"]["punctuations"])
        except (KeyError, TypeError) as error:
            raise DatasetError(
                f"в конфиге нет нужного поля ({error}): audio.sample_rate, characters.characters, "
                "characters.punctuations"
            ) from None

        defaults = []

        def samples(key: str, default_s: float) -> int:
            value = config.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                return int(value)
            defaults.append(key)
            return int(default_s * sample_rate)

        return cls(
            sample_rate, alphabet, samples("min_audio_len", 0.5), samples("max_audio_len", 15.0),
            config.get("min_text_len") or 1, config.get("max_text_len") or math.inf, audit_defaults=tuple(defaults),
        )


@dataclass(frozen=True)
class Issue:
    code: str  # one of ERRORS or WARNINGS
    utt_id: str  # for orphan_wav: the wav's stem
    detail: str = ""

    @property
    def is_error(self) -> bool:
        return self.code in ERRORS


class SignalStats(NamedTuple):
    clip_share: float
    rms_dbfs: float
    lead_s: float
    trail_s: float


@dataclass
class Audit:
    rows: list[tuple[str, str]]  # (id, raw text) in metadata order
    processed: dict[str, str]  # id -> processed text
    seconds: dict[str, float]  # id -> duration from the wav header
    issues: list[Issue]
    wav_count: int
    text_fresh: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.is_error]

    @property
    def warnings(self) -> list[Issue]:
        return [issue for issue in self.issues if not issue.is_error]

    def usable(self) -> list[tuple[str, str]]:
        """(id, processed text) of the utterances without errors, in metadata order."""
        bad = {issue.utt_id for issue in self.errors}
        return [(utt_id, self.processed[utt_id]) for utt_id, _ in self.rows if utt_id not in bad]


def signal_stats(path: Path) -> SignalStats | str:
    """Decode one file (~0.5 ms for 5 s of audio: a whole RUSLAN takes seconds of CPU in one process);
    the reason instead if it cannot be decoded."""
    try:
        audio, rate = read_audio(path)
    except AudioError as error:
        return str(error).removeprefix(f"{path}: ")
    audio = to_mono(audio)
    clip_share = np.count_nonzero(np.abs(audio) >= FULL_SCALE) / audio.size
    rms_dbfs = 10 * math.log10(float(np.mean(np.square(audio))) + 1e-12)
    start, end = speech_bounds(audio, rate)
    return SignalStats(clip_share, rms_dbfs, start / rate, (audio.size - end) / rate)


def _header_issues(utt_id: str, path: Path, limits: AuditLimits) -> tuple[list[Issue], float | None]:
    """Checks that need only the wav header; the duration in seconds when the header could be read."""
    if path.stat().st_size == 0:
        return [Issue("empty_wav", utt_id, "0 байт")], None
    try:
        info = sf.info(str(path))
    except sf.LibsndfileError as error:
        return [Issue("corrupt_wav", utt_id, error.error_string)], None
    issues = []
    shortfall = wav_shortfall(path)
    if shortfall > 0:
        issues.append(Issue("truncated_wav", utt_id, f"нет {shortfall:.0%} звука, в файле {info.duration:.2f} с"))
    if info.format not in ("WAV", "WAVEX"):
        issues.append(Issue("not_wav", utt_id, info.format))
    if info.frames == 0:
        issues.append(Issue("no_audio", utt_id, "0 отсчётов"))
    if info.samplerate != limits.sample_rate:
        issues.append(Issue("sample_rate", utt_id, f"{info.samplerate} Гц"))
    if info.channels != 1:
        issues.append(Issue("channels", utt_id, f"каналов: {info.channels}"))
    if info.subtype != "PCM_16":
        issues.append(Issue("subtype", utt_id, info.subtype))
    if info.frames and info.samplerate == limits.sample_rate:
        seconds = info.frames / info.samplerate
        if info.frames < limits.min_samples:
            issues.append(Issue("too_short", utt_id, f"{seconds:.2f} с"))
        elif info.frames > limits.max_samples:
            issues.append(Issue("too_long", utt_id, f"{seconds:.1f} с"))
    return issues, info.frames / info.samplerate if info.samplerate else None


def _signal_issues(utt_id: str, stats: SignalStats | str, limits: AuditLimits) -> list[Issue]:
    if isinstance(stats, str):
        return [Issue("corrupt_wav", utt_id, stats)]
    if stats.rms_dbfs < limits.quiet_dbfs:
        return [Issue("quiet", utt_id, f"{stats.rms_dbfs:.0f} dBFS")]
    issues = []
    if stats.clip_share >= limits.clip_share:
        issues.append(Issue("clipping", utt_id, f"{stats.clip_share:.2%} отсчётов на пределе"))
    edges = [f"в начале {stats.lead_s:.1f} с"] if stats.lead_s > limits.edge_silence_s else []
    edges += [f"в конце {stats.trail_s:.1f} с"] if stats.trail_s > limits.edge_silence_s else []
    if edges:
        issues.append(Issue("long_silence", utt_id, ", ".join(edges)))
    return issues


def audit_corpus(
    root: Path,
    metadata_path: Path,
    limits: AuditLimits,
    frontend: FrontEnd,
    signal: bool = True,
    wrap: Callable[[Iterable, str, int], Iterable] | None = None,
) -> Audit:
    """Check every utterance: wav present and readable, header, text through the front end, and (``signal``)
    the decoded samples. Raises DatasetError only when the corpus cannot be read at all."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"папка корпуса не найдена: {root}")
    wav_dir = root / WAV_DIR
    if not wav_dir.is_dir():
        raise DatasetError(f"в папке {root} нет подпапки {WAV_DIR} с wav-файлами (раскладка: {WAV_DIR}/<id>.wav)")
    rows = read_metadata(metadata_path)
    wrap = wrap or (lambda iterable, stage, total: iterable)
    timings = {}

    started = time.perf_counter()
    wav_names = {entry.name for entry in os.scandir(wav_dir) if entry.name.endswith(".wav") and entry.is_file()}
    ids = {utt_id for utt_id, _ in rows}
    issues = [Issue("orphan_wav", name[:-4]) for name in sorted(wav_names) if name[:-4] not in ids]
    seconds: dict[str, float] = {}
    decodable: list[str] = []
    for utt_id, _ in wrap(rows, "headers", len(rows)):
        path = wav_path(root, utt_id)
        if f"{utt_id}.wav" not in wav_names and not path.is_file():  # is_file: case-insensitive file systems
            issues.append(Issue("missing_wav", utt_id, f"{WAV_DIR}/{utt_id}.wav"))
            continue
        found, duration = _header_issues(utt_id, path, limits)
        issues += found
        if duration is not None:
            seconds[utt_id] = duration
        if not any(issue.is_error for issue in found):
            decodable.append(utt_id)
    timings["headers_s"] = time.perf_counter() - started

    started = time.perf_counter()
    for utt_id, text in rows:
        if not text:
            issues.append(Issue("empty_text", utt_id))
    texts = process_texts((text for _, text in rows if text), frontend, root / CACHE_FILE, wrap)
    processed = {}
    for utt_id, text in rows:
        if text in texts.failed:
            issues.append(Issue("text_error", utt_id, texts.failed[text]))
        elif text:
            processed[utt_id] = texts.processed[text]
            unknown = sorted(set(processed[utt_id]) - limits.alphabet)
            if unknown:
                issues.append(Issue("unencodable", utt_id, " ".join(f"«{ch}»" for ch in unknown)))
            # Coqui's ruslan formatter keeps the line's newline in the text whose length it filters by.
            length = len(processed[utt_id]) + 1
            if length < limits.min_text_chars:
                issues.append(Issue("text_too_short", utt_id, f"{length} симв."))
            elif length > limits.max_text_chars:
                issues.append(Issue("text_too_long", utt_id, f"{length} симв."))
    timings["text_s"] = time.perf_counter() - started

    if signal:
        started = time.perf_counter()
        for utt_id in wrap(decodable, "signal", len(decodable)):
            issues += _signal_issues(utt_id, signal_stats(wav_path(root, utt_id)), limits)
        timings["signal_s"] = time.perf_counter() - started

    return Audit(rows, processed, seconds, issues, len(wav_names), texts.fresh, timings)
