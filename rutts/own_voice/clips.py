"""One recording and the clips cut from it: speech found by frame energy against the file's noise floor, and each
clip checked (clipping, level, noise, duration against its text, and with the optional meter, Whisper CER)."""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rutts.audio import normalize_loudness, read_audio, resample, to_mono

FRAME_S = 0.01  # nominal: a frame is a whole number of samples (220 at 22,050 Hz, 9.98 ms)
SILENCE_DB = -100.0  # digital silence, as a level
MIN_PAUSE_S = 0.25  # a quieter stretch at least this long splits a take
MIN_RANGE_DB = 10.0  # speech must rise this far above the noise floor, or the file holds no speech
KEEP_S = 0.1  # silence kept at each end of a clip (as in the demo corpus)
BLIP_S = 0.12  # a shorter burst at the edge of a one-sentence file, apart from the speech, is a click
TAKE_MIN_S = 20.0  # a file with more speech than this, or than twice its sentence, is a take of several

# Clip checks.
CLIP_LEVEL = 0.999  # a sample this close to full scale is clipped
MAX_CLIPPED = 0.001  # share of clipped samples that sets a clip aside
QUIET_DBFS, QUIET_WARN_DBFS = -45.0, -35.0  # speech level (RMS of speech frames)
MIN_SNR_DB, WARN_SNR_DB = 15.0, 25.0
MAX_DURATION_RATIO = 1.6  # clip against the expected duration at her own speaking rate, either way
MAX_DURATION_RATIO_UNCALIBRATED = 2.0  # the same with the demo corpus's rate, for fewer than RATE_MIN_CLIPS clips
RATE_MIN_CLIPS = 5
DURATION_SLACK_S = 0.6  # a difference this small is never flagged (short sentences)
MAX_CER, WARN_CER = 0.35, 0.15
TARGET_LUFS = -21.0  # the level of the demo corpus the base model learned from


@dataclass(frozen=True)
class Sentence:
    number: int  # its number in script.md (1-based position in the metadata)
    utt_id: str
    text: str  # as in the script's metadata
    spoken: str  # numbers and abbreviations spelled out
    chars: int  # length of the spoken text, as the speaking rate counts it


@dataclass
class Recording:
    path: Path
    audio: np.ndarray  # mono float32 at `rate`
    rate: int
    original_rate: int
    channels: int
    clipped_times: np.ndarray  # seconds at which some channel of the original is at full scale
    floor_db: float  # noise floor: mean power of the frames between speech
    pieces: list[tuple[float, float]]  # speech stretches (seconds), in order
    levels: np.ndarray  # dB of each frame of frame_samples(rate) samples

    @property
    def speech_span(self) -> float:
        return self.pieces[-1][1] - self.pieces[0][0] if self.pieces else 0.0


@dataclass
class Clip:
    sentence: Sentence
    source: str  # file name, with the time span for a piece of a take
    recording: Recording = field(repr=False)
    start: float  # seconds in the recording: speech only, without the kept silence
    end: float
    from_take: bool
    reasons: list[str] = field(default_factory=list)  # why it is set aside (empty: kept)
    warnings: list[str] = field(default_factory=list)
    measures: dict = field(default_factory=dict)
    audio: np.ndarray | None = field(default=None, repr=False)  # cut and loudness-normalized by check_clip

    @property
    def kept(self) -> bool:
        return not self.reasons


def frame_samples(rate: int) -> int:
    return max(1, int(rate * FRAME_S))


def frame_levels(audio: np.ndarray, rate: int) -> np.ndarray:
    """RMS level of each ~10 ms frame in dBFS (digital silence at SILENCE_DB)."""
    frame = frame_samples(rate)
    frames = len(audio) // frame
    power = np.mean(np.square(audio[: frames * frame].reshape(frames, frame), dtype=np.float64), axis=1)
    return np.maximum(10 * np.log10(np.maximum(power, 1e-20)), SILENCE_DB)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) frame ranges where mask is true."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def find_speech(levels: np.ndarray, frame_s: float) -> tuple[float, list[tuple[float, float]]]:
    """(noise floor dB, speech pieces in seconds) from frame levels: frames well above the quiet ones are speech;
    pauses shorter than MIN_PAUSE_S do not split."""
    if levels.size == 0:
        return SILENCE_DB, []
    floor, loud = np.percentile(levels, 10), np.percentile(levels, 97)
    if loud - floor < MIN_RANGE_DB:
        return float(floor), []
    threshold = floor + max(8.0, 0.3 * (loud - floor))
    runs = _runs(levels > threshold)
    merged: list[list[int]] = []
    for start, end in runs:
        if merged and (start - merged[-1][1]) * frame_s < MIN_PAUSE_S:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    quiet = np.ones(levels.size, bool)
    for start, end in merged:
        quiet[start:end] = False
    between = levels[quiet]
    if between.size >= 20:  # the floor as a mean power over the real pauses
        floor = 10 * np.log10(np.mean(10 ** (between / 10)))
    # times from the real frame length: 220 samples are 9.98 ms, and 10 ms would drift 0.3 s in 2 min
    return float(floor), [(s * frame_s, e * frame_s) for s, e in merged]


def load_recording(path: Path, rate: int) -> Recording:
    """Decode, note clipped samples of the original, mix to mono, resample, find speech. AudioError if unreadable."""
    original, original_rate = read_audio(path)
    channels = 1 if original.ndim == 1 else original.shape[1]
    peak = np.abs(original) if original.ndim == 1 else np.abs(original).max(axis=1)
    clipped_times = np.flatnonzero(peak >= CLIP_LEVEL) / original_rate
    audio = resample(to_mono(original), original_rate, rate).astype(np.float32)
    levels = frame_levels(audio, rate)
    floor, pieces = find_speech(levels, frame_samples(rate) / rate)
    return Recording(path, audio, rate, original_rate, channels, clipped_times, floor, pieces, levels)


# ------------------------------------------------------------------------------------------------ files


def single_span(recording: Recording) -> tuple[float, float]:
    """Speech of a one-sentence file: its pieces without short clicks set apart at the edges."""
    pieces = list(recording.pieces)
    while len(pieces) > 1 and pieces[0][1] - pieces[0][0] < BLIP_S and pieces[1][0] - pieces[0][1] >= 0.3:
        pieces.pop(0)
    while len(pieces) > 1 and pieces[-1][1] - pieces[-1][0] < BLIP_S and pieces[-1][0] - pieces[-2][1] >= 0.3:
        pieces.pop()
    return pieces[0][0], pieces[-1][1]


def _cut(clip: Clip) -> np.ndarray:
    """The clip's samples with up to KEEP_S of the recording's own silence at each end (never a neighbour's speech)."""
    rec = clip.recording
    before = [e for s, e in rec.pieces if e <= clip.start]
    after = [s for s, e in rec.pieces if s >= clip.end]
    start = max(clip.start - KEEP_S, (clip.start + before[-1]) / 2 if before else 0.0)
    end = min(clip.end + KEEP_S, (clip.end + after[0]) / 2 if after else len(rec.audio) / rec.rate)
    return rec.audio[int(start * rec.rate): int(math.ceil(end * rec.rate))]


def check_clip(clip: Clip, rate_cps: float, max_ratio: float = MAX_DURATION_RATIO) -> None:
    """Measure the clip, fill in reasons/warnings and its loudness-normalized audio."""
    rec = clip.recording
    seconds = clip.end - clip.start
    frame_s = frame_samples(rec.rate) / rec.rate
    first, last = int(clip.start / frame_s), int(math.ceil(clip.end / frame_s))
    frames = rec.levels[first:last]
    speech = frames[frames > rec.floor_db + 6.0]
    level = 10 * np.log10(np.mean(10 ** (speech / 10))) if speech.size else SILENCE_DB
    snr = level - rec.floor_db
    clipped = np.count_nonzero((rec.clipped_times >= clip.start) & (rec.clipped_times <= clip.end))
    clipped_share = clipped / max(1.0, seconds * rec.original_rate)
    expected = clip.sentence.chars / rate_cps
    ratio = seconds / expected
    clip.measures.update(seconds=round(seconds, 2), level_dbfs=round(float(level), 1), snr_db=round(float(snr), 1),
                         clipped_share=round(float(clipped_share), 5), duration_ratio=round(float(ratio), 2),
                         expected_seconds=round(expected, 2))
    if clipped_share >= MAX_CLIPPED:
        clip.reasons.append(f"перегруз (клиппинг): {clipped_share:.1%} сэмплов на пределе — "
                            "запишите тише или отодвиньте микрофон")
    if level < QUIET_DBFS:
        clip.reasons.append(f"слишком тихо ({level:.0f} дБFS): поднесите микрофон ближе или поднимите уровень")
    elif level < QUIET_WARN_DBFS:
        clip.warnings.append(f"тихо ({level:.0f} дБFS)")
    if snr < MIN_SNR_DB:
        clip.reasons.append(f"шумно: сигнал/шум {snr:.0f} дБ (нужно от {MIN_SNR_DB:.0f}) — запишите в тишине")
    elif snr < WARN_SNR_DB:
        clip.warnings.append(f"шумновато: сигнал/шум {snr:.0f} дБ")
    if not 1 / max_ratio <= ratio <= max_ratio and abs(seconds - expected) > DURATION_SLACK_S:
        what = "длиннее" if ratio > 1 else "короче"
        clip.reasons.append(f"{seconds:.1f} с — в {max(ratio, 1 / ratio):.1f} раза {what}, чем нужно для этого "
                            f"текста ({expected:.1f} с в вашем темпе): прочитано не то, не целиком или лишнее")
    clip.audio = normalize_loudness(_cut(clip), rec.rate, target_lufs=TARGET_LUFS)


def transcribe_check(clips: Iterable[Clip], meter) -> None:
    """Whisper CER of each kept clip against its sentence; a misread sets the clip aside. `clips` is consumed as
    each is transcribed (a progress bar moves with the work)."""
    import jiwer

    from rutts.intelligibility import ASR_SAMPLE_RATE
    from rutts.intelligibility import normalize as asr_normalize

    for clip in clips:
        if not clip.kept:
            continue
        transcript = meter.transcribe(resample(clip.audio, clip.recording.rate, ASR_SAMPLE_RATE))
        reference = asr_normalize(clip.sentence.spoken)
        cer = jiwer.cer(reference, asr_normalize(transcript)) if reference else 1.0
        clip.measures.update(cer=round(float(cer), 3), transcript=transcript)
        if cer > MAX_CER:
            clip.reasons.append(f"Whisper услышал «{transcript}» (CER {cer:.2f}): оговорка или не та фраза")
        elif cer > WARN_CER:
            clip.warnings.append(f"Whisper услышал «{transcript}» (CER {cer:.2f})")


# ------------------------------------------------------------------------------------------------ the import
