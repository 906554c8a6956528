"""Her own recordings → a corpus in our layout, every clip checked. The original files are only ever read.

    recordings (one file per sentence named by its number, and/or long takes read in script order; any format
    libsndfile reads, any rate, any channel count)
      → mono at the model's rate (soxr) → speech found by frame energy against the file's noise floor
      → long takes split at pauses; the pieces matched to the script's sentences in order by duration
        (dynamic programming: a sentence may span pieces split at a comma pause, a sentence may be missing,
        a stray piece — a cough, a false start — may be left over)
      → each clip cut with a little silence, loudness-normalized, checked: clipping, level, noise (SNR),
        duration against the text, and, when the optional meter is installed, Whisper CER against its sentence
      → <out>/RUSLAN/<id>.wav + <out>/metadata_RUSLAN.csv (kept clips), <out>/set_aside/<id>.wav (the rest),
        <out>/import_report.json and .md (each clip kept or set aside, with the reason).
"""
from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rutts.audio import AudioError, normalize_loudness, read_audio, resample, to_mono, write_wav
from rutts.dataset import DatasetError, read_metadata, write_text_atomic
from rutts.recording_script import CHARS_PER_SECOND
from rutts.text import DEFAULT_LEXICON, STRESS, Lexicon, TextError, normalize, read_lexicon, to_alphabet

log = logging.getLogger(__name__)

WAV_DIR = "RUSLAN"
SET_ASIDE_DIR = "set_aside"
METADATA_FILE = "metadata_RUSLAN.csv"
REPORT_JSON = "import_report.json"
REPORT_MD = "import_report.md"
DERIVED_FILES = ("metadata_train.csv", "metadata_val.csv")  # check_sample_rate.py's split of an earlier import

READABLE = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3")
CONVERT_FIRST = (".m4a", ".aac", ".amr", ".3gp", ".wma", ".mp4", ".webm", ".caf", ".mka")

FRAME_S = 0.01  # nominal: a frame is a whole number of samples (220 at 22,050 Hz, 9.98 ms)
SILENCE_DB = -100.0  # digital silence, as a level
MIN_PAUSE_S = 0.25  # a quieter stretch at least this long splits a take
MIN_RANGE_DB = 10.0  # speech must rise this far above the noise floor, or the file holds no speech
KEEP_S = 0.1  # silence kept at each end of a clip (as in the demo corpus)
BLIP_S = 0.12  # a shorter burst at the edge of a one-sentence file, apart from the speech, is a click
TAKE_MIN_S = 20.0  # a file with more speech than this, or than twice its sentence, is a take of several

# Matching pieces of takes to sentences (costs in units of a squared log-duration error of one SIGMA). Durations
# cannot tell which of two neighbours of about the same length was skipped: in 30 simulated readings of 260
# sentences (6 skipped, a seventh split at a comma, lengths ±15 %) 2 of 254 sentences a reading came out shifted
# (SIGMA 0.25 and no pause cost: 3). The Whisper check then sets such clips aside.
SIGMA = 0.2  # spread of a sentence's duration around chars / speaking rate (log scale)
MAX_MERGE = 4  # pieces one sentence may span
MERGE_COST, GAP_COST = 0.3, 2.0  # joining two pieces: a fixed cost plus this much per second of the pause
# A sentence starting after a pause shorter than BOUNDARY_GAP_S costs up to BOUNDARY_COST: reading a script, people
# pause longer between sentences than at a comma.
BOUNDARY_GAP_S, BOUNDARY_COST = 0.7, 3.0
MISS_COST = 4.0  # a sentence inside the read stretch that has no piece
COVERED_MISS_COST = 0.2  # a sentence that has a file of its own: the takes may skip it
JUNK_COST, JUNK_PER_S = 1.0, 2.0  # a piece matched to no sentence (a cough, a false start, a repeat)
RATE_GRID = np.geomspace(6.0, 20.0, 17)  # characters per second tried as her speaking rate

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
MIN_FINETUNE_MINUTES = 5.0


class ImportErrorRu(Exception):
    """The import cannot start (no script, bad output folder); the message (Russian) says what to fix."""


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

    @property
    def kept(self) -> bool:
        return not self.reasons


@dataclass
class ImportResult:
    clips: list[Clip]
    missing: list[int]  # sentence numbers without any recording
    unused: list[tuple[str, str]]  # (file, why it was not used)
    speaking_rate: float  # her characters per second
    asr_note: str
    sentences: int

    @property
    def kept(self) -> list[Clip]:
        return [c for c in self.clips if c.kept]

    def kept_seconds(self) -> float:
        return sum(c.measures["seconds"] for c in self.kept)

    def clip_rows(self) -> list[dict]:
        """Each clip as the report lists it: number, id, text, kept or set aside and why, its measures."""
        return [{"number": c.sentence.number, "id": c.sentence.utt_id, "text": c.sentence.text,
                 "status": "kept" if c.kept else "set_aside", "source": c.source, "reasons": c.reasons,
                 "warnings": c.warnings, **c.measures} for c in self.clips]


# ------------------------------------------------------------------------------------------------ the script


def read_script(metadata: Path) -> list[Sentence]:
    """The script's metadata.csv (`id|text`), numbered in order as script.md numbers them."""
    try:
        rows = read_metadata(metadata)
    except DatasetError as error:
        raise ImportErrorRu(str(error)) from None
    lexicon = Lexicon(read_lexicon(DEFAULT_LEXICON))
    sentences = []
    for number, (utt_id, text) in enumerate(rows, 1):
        try:
            spoken = normalize(text, lexicon)
        except TextError:
            spoken = ""
        letters = to_alphabet(spoken).replace(STRESS, "")
        if not re.search(r"[а-яё]", letters):
            raise ImportErrorRu(f"{metadata}: у фразы {number} ({utt_id}) нет русского текста")
        sentences.append(Sentence(number, utt_id, text, spoken, len(letters)))
    return sentences


# ------------------------------------------------------------------------------------------------ audio


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


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def file_number(path: Path) -> int | None:
    """The sentence number a file name carries: its last number ("017.wav", "Запись 17.flac" → 17)."""
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else None


def collect_files(inputs: Sequence[Path], out: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Audio files from files and folders (a folder's own files, not its subfolders), in natural order, and
    the files that cannot be used with why."""
    files, unused = [], []
    out = out.resolve()
    for item in inputs:
        item = Path(item)
        if item.is_dir():
            if item.resolve() == out:
                raise ImportErrorRu(f"папка записей {item} и папка корпуса --out совпадают: укажите другую --out")
            found = sorted((p for p in item.iterdir() if p.is_file() and not p.name.startswith(".")), key=_natural_key)
        elif item.is_file():
            found = [item]
        else:
            raise ImportErrorRu(f"{item}: нет такого файла или папки")
        for path in found:
            if out in path.resolve().parents:
                raise ImportErrorRu(f"{path} лежит внутри папки корпуса {out}: положите записи в другую папку")
            suffix = path.suffix.lower()
            if suffix in READABLE:
                files.append(path)
            elif suffix in CONVERT_FIRST:
                unused.append((path.name, f"формат {suffix} не читается: переведите в WAV или FLAC, например "
                                          f"ffmpeg -i \"{path.name}\" \"{path.stem}.wav\""))
            elif item.is_file():
                unused.append((path.name, f"не звуковой файл (нужен один из {', '.join(READABLE)})"))
    return files, unused


# ------------------------------------------------------------------------------------------------ matching


@dataclass(frozen=True)
class _Piece:
    take: int
    start: float
    end: float


def _align(pieces: list[_Piece], sentences: list[Sentence], covered: set[int], rate: float):
    """Least-cost monotone matching of pieces (in order) to sentences (in order); see the costs above.

    Returns (cost, {sentence index: (first piece, last piece)}). Sentences after the last one read cost
    nothing: she may have read only the start of the script.
    """
    n, m = len(sentences), len(pieces)
    start = np.array([p.start for p in pieces])
    end = np.array([p.end for p in pieces])
    take = np.array([p.take for p in pieces])
    junk = JUNK_COST + JUNK_PER_S * (end - start)
    junk_sum = np.concatenate(([0.0], np.cumsum(junk)))
    expected = np.log(np.array([s.chars for s in sentences], float) / rate)
    miss = np.array([COVERED_MISS_COST if s.number in covered else MISS_COST for s in sentences])
    gap_before = np.full(m, np.inf)  # the first piece of a take has no pause before it to judge
    same_take = take[1:] == take[:-1]
    gap_before[1:][same_take] = (start[1:] - end[:-1])[same_take]
    short_pause = BOUNDARY_COST * np.clip((BOUNDARY_GAP_S - gap_before) / BOUNDARY_GAP_S, 0.0, 1.0)
    # group[k][j]: pieces j-k..j (k+1 of them) as one sentence: log span, joining cost; inf across takes
    groups = []
    for k in range(min(MAX_MERGE, m)):
        log_span = np.full(m, np.nan)
        join = np.full(m, np.inf)
        j = np.arange(k, m)
        ok = take[j] == take[j - k]
        log_span[j] = np.log(np.maximum(end[j] - start[j - k], 1e-3))
        gaps = np.zeros(j.size)
        for q in range(k):
            gaps += start[j - q] - end[j - q - 1]
        join[j] = np.where(ok, k * MERGE_COST + GAP_COST * gaps + short_pause[j - k], np.inf)
        groups.append((log_span, join))
    cost = np.empty((n + 1, m + 1))
    choice = np.zeros((n + 1, m + 1), np.int8)  # 0: sentence missing, k>0: k pieces, -1: piece left over
    cost[0] = junk_sum
    choice[0, 1:] = -1
    for i in range(1, n + 1):
        best = cost[i - 1] + miss[i - 1]
        pick = np.zeros(m + 1, np.int8)
        for k, (log_span, join) in enumerate(groups, 1):
            match = 0.5 * ((log_span - expected[i - 1]) / SIGMA) ** 2 + join  # for pieces ending at j (index j-1)
            candidate = np.full(m + 1, np.inf)
            candidate[k:] = cost[i - 1, : m + 1 - k] + np.nan_to_num(match[k - 1:], nan=np.inf)
            better = candidate < best
            best = np.where(better, candidate, best)
            pick = np.where(better, k, pick)
        # leftover pieces: cost[i][j] = min(best[j], cost[i][j-1] + junk[j-1]) as a running minimum
        running = np.minimum.accumulate(best - junk_sum) + junk_sum
        leftover = running < best - 1e-12
        cost[i] = np.where(leftover, running, best)
        choice[i] = np.where(leftover, -1, pick)
    last = int(np.argmin(cost[:, m]))
    matches, i, j = {}, last, m
    while i > 0 or j > 0:
        step = int(choice[i, j]) if i > 0 else -1
        if step == -1:
            j -= 1
        elif step == 0:
            i -= 1
        else:
            matches[i - 1] = (j - step, j - 1)
            i, j = i - 1, j - step
    return float(cost[last, m]), matches


def match_takes(
    takes: list[Recording], sentences: list[Sentence], covered: set[int]
) -> tuple[dict[int, tuple[Recording, float, float]], float | None]:
    """Sentence index → (take, start, end) of its speech, and her speaking rate (chars per second) in the takes."""
    pieces = [_Piece(t, s, e) for t, rec in enumerate(takes) for s, e in rec.pieces]
    if not pieces:
        return {}, None
    best = min((_align(pieces, sentences, covered, rate) + (rate,) for rate in RATE_GRID), key=lambda r: r[0])
    _, matches, rate = best
    for _ in range(2):  # refine the rate on what matched
        if not matches:
            break
        rates = [sentences[i].chars / (pieces[b].end - pieces[a].start) for i, (a, b) in matches.items()]
        rate = float(np.median(rates))
        _, matches = _align(pieces, sentences, covered, rate)
    return {i: (takes[pieces[a].take], pieces[a].start, pieces[b].end) for i, (a, b) in matches.items()}, rate


def _single_span(recording: Recording) -> tuple[float, float]:
    """Speech of a one-sentence file: its pieces without short clicks set apart at the edges."""
    pieces = list(recording.pieces)
    while len(pieces) > 1 and pieces[0][1] - pieces[0][0] < BLIP_S and pieces[1][0] - pieces[0][1] >= 0.3:
        pieces.pop(0)
    while len(pieces) > 1 and pieces[-1][1] - pieces[-1][0] < BLIP_S and pieces[-1][0] - pieces[-2][1] >= 0.3:
        pieces.pop()
    return pieces[0][0], pieces[-1][1]


def _timestamp(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


# ------------------------------------------------------------------------------------------------ checks


def _cut(clip: Clip) -> np.ndarray:
    """The clip's samples with up to KEEP_S of the recording's own silence at each end (never a neighbour's speech)."""
    rec = clip.recording
    before = [e for s, e in rec.pieces if e <= clip.start]
    after = [s for s, e in rec.pieces if s >= clip.end]
    start = max(clip.start - KEEP_S, (clip.start + before[-1]) / 2 if before else 0.0)
    end = min(clip.end + KEEP_S, (clip.end + after[0]) / 2 if after else len(rec.audio) / rec.rate)
    return rec.audio[int(start * rec.rate): int(math.ceil(end * rec.rate))]


def check_clip(clip: Clip, rate_cps: float, max_ratio: float = MAX_DURATION_RATIO) -> np.ndarray:
    """Measure the clip, fill in reasons/warnings, return its loudness-normalized audio."""
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
    return normalize_loudness(_cut(clip), rec.rate, target_lufs=TARGET_LUFS)


def transcribe_check(clips: list[Clip], audio: dict[int, np.ndarray], rate: int, meter) -> None:
    """Whisper CER of each kept clip against its sentence; a misread sets the clip aside."""
    import jiwer

    from rutts.intelligibility import ASR_SAMPLE_RATE, normalize as asr_normalize

    for clip in clips:
        if not clip.kept:
            continue
        transcript = meter.transcribe(resample(audio[clip.sentence.number], rate, ASR_SAMPLE_RATE))
        reference = asr_normalize(clip.sentence.spoken)
        cer = jiwer.cer(reference, asr_normalize(transcript)) if reference else 1.0
        clip.measures.update(cer=round(float(cer), 3), transcript=transcript)
        if cer > MAX_CER:
            clip.reasons.append(f"Whisper услышал «{transcript}» (CER {cer:.2f}): оговорка или не та фраза")
        elif cer > WARN_CER:
            clip.warnings.append(f"Whisper услышал «{transcript}» (CER {cer:.2f})")


# ------------------------------------------------------------------------------------------------ the import


def import_recordings(
    inputs: Sequence[Path],
    script: Path,
    out: Path,
    rate: int,
    mode: str = "auto",
    meter_factory: Callable[[], object] | None = None,
    progress: Callable[[Iterable, str, int], Iterable] | None = None,
) -> ImportResult:
    """Read, split, match, check and write (see the module docstring). `meter_factory` returns a Whisper meter
    or raises (its message becomes the note that the check was skipped); None skips it."""
    wrap = progress or (lambda items, stage, total: items)
    sentences = read_script(script)
    by_number = {s.number: s for s in sentences}
    files, unused = collect_files(inputs, out)
    if not files and not unused:
        raise ImportErrorRu(f"в {', '.join(map(str, inputs))} нет звуковых файлов ({', '.join(READABLE)})")
    _prepare_out(out)
    singles: dict[int, Recording] = {}
    takes: list[Recording] = []
    for path in wrap(files, "read", len(files)):
        try:
            rec = load_recording(path, rate)
        except AudioError as error:
            unused.append((path.name, str(error).removeprefix(f"{path}: ")))
            continue
        if not rec.pieces:
            unused.append((path.name, "не найдена речь: тишина, ровный шум или нет пауз вокруг речи "
                                      "(оставляйте полсекунды тишины до и после фразы)"))
            continue
        number = file_number(path)
        sentence = by_number.get(number)
        long_take = rec.speech_span > TAKE_MIN_S or (
            sentence is not None and rec.speech_span > 2 * sentence.chars / CHARS_PER_SECOND + 4)
        if mode == "takes" or (mode == "auto" and long_take):
            takes.append(rec)
        elif number is None:
            unused.append((path.name, "в имени нет номера фразы: назовите файл её номером (017.wav) "
                                      "или запускайте с --mode takes, если это дубль из нескольких фраз"))
        elif sentence is None:
            unused.append((path.name, f"номер {number} не из сценария (в нём фразы 1–{len(sentences)})"))
        elif number in singles:
            unused.append((path.name, f"фраза {number} уже есть в файле {singles[number].path.name}"))
        else:
            singles[number] = rec
    matched, take_rate = match_takes(takes, sentences, set(singles))
    clips: dict[int, Clip] = {}
    for index, (rec, start, end) in matched.items():
        sentence = sentences[index]
        clips[sentence.number] = Clip(sentence, f"{rec.path.name} {_timestamp(start)}–{_timestamp(end)}", rec,
                                      start, end, True)
    for number, rec in singles.items():
        if number in clips:
            log.info("sentence %d: the file %s replaces its piece of a take", number, rec.path.name)
        start, end = _single_span(rec)
        clips[number] = Clip(by_number[number], rec.path.name, rec, start, end, False)
    ordered = [clips[n] for n in sorted(clips)]
    speaking_rate, max_ratio = _speaking_rate(ordered, take_rate)
    audio = {c.sentence.number: check_clip(c, speaking_rate, max_ratio) for c in wrap(ordered, "check", len(ordered))}
    asr_note = "проверка распознаванием выключена (--no-asr)"
    if meter_factory is not None and ordered:
        try:
            meter = meter_factory()
        except Exception as error:  # the optional extra is missing or its model cannot be built
            asr_note = f"проверка распознаванием пропущена: {error}"
        else:
            transcribe_check(list(wrap(ordered, "asr", len(ordered))), audio, rate, meter)
            asr_note = "проверено распознаванием (Whisper-base)"
    result = ImportResult(ordered, [n for n in by_number if n not in clips], unused, speaking_rate, asr_note,
                          len(sentences))
    _write(out, result, audio, rate, script)
    return result


def _speaking_rate(clips: list[Clip], take_rate: float | None) -> tuple[float, float]:
    """Her characters per second (median over the clips) and the duration ratio allowed with it."""
    rates = [c.sentence.chars / (c.end - c.start) for c in clips if c.end > c.start]
    if len(rates) >= RATE_MIN_CLIPS:
        return float(np.median(rates)), MAX_DURATION_RATIO
    return take_rate or CHARS_PER_SECOND, MAX_DURATION_RATIO_UNCALIBRATED


def _prepare_out(out: Path) -> None:
    """An empty or new folder, or one an earlier import wrote (its clips and split files are replaced)."""
    if out.exists() and not out.is_dir():
        raise ImportErrorRu(f"{out} — файл, а нужна папка для корпуса")
    if (out / REPORT_JSON).is_file():
        for folder in (WAV_DIR, SET_ASIDE_DIR):
            for wav in (out / folder).glob("*.wav"):
                wav.unlink()
        for name in (METADATA_FILE, *DERIVED_FILES):
            (out / name).unlink(missing_ok=True)
    elif out.is_dir() and any(out.iterdir()):
        raise ImportErrorRu(f"папка {out} не пуста и не от прошлого импорта: укажите новую папку --out")
    (out / WAV_DIR).mkdir(parents=True, exist_ok=True)


def _write(out: Path, result: ImportResult, audio: dict[int, np.ndarray], rate: int, script: Path) -> None:
    aside = [c for c in result.clips if not c.kept]
    if aside:
        (out / SET_ASIDE_DIR).mkdir(exist_ok=True)
    for clip in result.clips:
        folder = WAV_DIR if clip.kept else SET_ASIDE_DIR
        write_wav(out / folder / f"{clip.sentence.utt_id}.wav", audio[clip.sentence.number], rate)
    write_text_atomic(out / METADATA_FILE, "".join(f"{c.sentence.utt_id}|{c.sentence.text}\n" for c in result.kept))
    report = {
        "script": str(script), "sentences": result.sentences, "sample_rate": rate,
        "speaking_rate_chars_per_s": round(result.speaking_rate, 2), "asr": result.asr_note,
        "kept": len(result.kept), "kept_seconds": round(result.kept_seconds(), 1), "set_aside": len(aside),
        "missing": result.missing, "unused_files": [{"file": f, "reason": r} for f, r in result.unused],
        "clips": result.clip_rows(),
    }
    write_text_atomic(out / REPORT_JSON, json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    write_text_atomic(out / REPORT_MD, render_report(result))


def number_ranges(numbers: Iterable[int]) -> str:
    """[1, 2, 3, 5, 7, 8] → "1–3, 5, 7–8"."""
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def render_report(result: ImportResult) -> str:
    kept, aside = result.kept, [c for c in result.clips if not c.kept]
    lines = [
        "# Импорт записей", "",
        f"Сохранено {len(kept)} фраз ({result.kept_seconds() / 60:.1f} мин), отложено {len(aside)}, "
        f"нет записи {len(result.missing)} из {result.sentences}. Темп чтения: {result.speaking_rate:.1f} знака "
        f"в секунду. {result.asr_note[0].upper()}{result.asr_note[1:]}.", "",
    ]
    if aside:
        lines += ["## Отложены (в папке set_aside/, в обучение не идут)", "", "| № | фраза | откуда | почему |",
                  "|---|---|---|---|"]
        lines += [f"| {c.sentence.number} | {c.sentence.text} | {c.source} | {'; '.join(c.reasons)} |" for c in aside]
        lines.append("")
    if result.missing:
        lines += ["## Нет записи", "", f"Фразы {number_ranges(result.missing)}.", ""]
    if result.unused:
        lines += ["## Файлы не использованы", ""] + [f"- {name}: {why}" for name, why in result.unused] + [""]
    lines += ["## Сохранены", "", "| № | откуда | с | сигнал/шум, дБ | замечания |", "|---|---|---|---|---|"]
    lines += [f"| {c.sentence.number} | {c.source} | {c.measures['seconds']:.1f} | {c.measures['snr_db']:.0f} | "
              f"{'; '.join(c.warnings)} |" for c in kept]
    return "\n".join(lines) + "\n"
