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
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from rutts.audio import AudioError, write_wav
from rutts.dataset import DatasetError, read_metadata
from rutts.files import write_text_atomic
from rutts.own_voice.clips import (MAX_DURATION_RATIO, MAX_DURATION_RATIO_UNCALIBRATED, RATE_MIN_CLIPS, Clip, Recording,
                                   Sentence, check_clip, load_recording, single_span, transcribe_check)
from rutts.own_voice.report import ImportResult, render_report
from rutts.own_voice.script import CHARS_PER_SECOND
from rutts.own_voice.takes import match_takes
from rutts.text import STRESS, TextError, builtin_lexicon, normalize, to_alphabet

log = logging.getLogger(__name__)

WAV_DIR = "RUSLAN"
SET_ASIDE_DIR = "set_aside"
METADATA_FILE = "metadata_RUSLAN.csv"
REPORT_JSON = "import_report.json"
REPORT_MD = "import_report.md"
DERIVED_FILES = ("metadata_train.csv", "metadata_val.csv")  # check_sample_rate.py's split of an earlier import

READABLE = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3")
CONVERT_FIRST = (".m4a", ".aac", ".amr", ".3gp", ".wma", ".mp4", ".webm", ".caf", ".mka")

TAKE_MIN_S = 20.0  # a file with more speech than this, or than twice its sentence, is a take of several
MIN_FINETUNE_MINUTES = 5.0


class ImportErrorRu(Exception):
    """The import cannot start (no script, bad output folder); the message (Russian) says what to fix."""


def read_script(metadata: Path) -> list[Sentence]:
    """The script's metadata.csv (`id|text`), numbered in order as script.md numbers them."""
    try:
        rows = read_metadata(metadata)
    except DatasetError as error:
        raise ImportErrorRu(str(error)) from None
    lexicon = builtin_lexicon()
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


def _timestamp(seconds: float) -> str:
    return f"{int(seconds // 60):02d}:{seconds % 60:04.1f}"


# ------------------------------------------------------------------------------------------------ checks


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
        start, end = single_span(rec)
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
