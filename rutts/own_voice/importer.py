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
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from rutts.audio import AudioError, write_wav
from rutts.dataset import AUDIT_FILES, DatasetError, read_metadata
from rutts.files import TEMP_SUFFIX, build_aside, write_text_atomic
from rutts.own_voice.clips import (MAX_DURATION_RATIO, MAX_DURATION_RATIO_UNCALIBRATED, RATE_MIN_CLIPS, Clip, Recording,
                                   Sentence, check_clip, load_recording, single_span, transcribe_check)
from rutts.own_voice.names import sentence_number
from rutts.own_voice.report import ImportResult, number_ranges, render_report
from rutts.own_voice.script import CHARS_PER_SECOND
from rutts.own_voice.takes import match_takes
from rutts.text import STRESS, TextError, builtin_lexicon, normalize, to_alphabet

log = logging.getLogger(__name__)

WAV_DIR = "RUSLAN"
SET_ASIDE_DIR = "set_aside"
METADATA_FILE = "metadata_RUSLAN.csv"
REPORT_JSON = "import_report.json"
REPORT_MD = "import_report.md"
# What an import replaces in its folder: its own outputs, and check_sample_rate.py's split and front-end record of an
# earlier import, which no longer describe it.
OWNED = (WAV_DIR, SET_ASIDE_DIR, METADATA_FILE, REPORT_JSON, REPORT_MD, *AUDIT_FILES)

READABLE = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3")
CONVERT_FIRST = (".m4a", ".aac", ".amr", ".3gp", ".wma", ".mp4", ".webm", ".caf", ".mka")

TAKE_MIN_S = 20.0  # a file with more speech than this, or than twice its sentence, is a take of several
MIN_FINETUNE_MINUTES = 5.0


class ImportErrorRu(Exception):
    """The import cannot start (no script, bad output folder); the message (Russian) says what to fix."""


def read_script(metadata: Path) -> list[Sentence]:
    """The script's metadata.csv (`id|text`), numbered as script.md numbers them: by the number in its ids
(000017_RUSLAN is 17, whatever lines were deleted since), or in order for a script with other ids."""
    try:
        rows = read_metadata(metadata)
    except DatasetError as error:
        raise ImportErrorRu(str(error)) from None
    numbers = [re.fullmatch(r"(\d+)_RUSLAN", utt_id) for utt_id, _ in rows]
    if all(numbers) and len({int(m[1]) for m in numbers}) == len(rows):
        numbers = [int(m[1]) for m in numbers]
    else:
        numbers = list(range(1, len(rows) + 1))
    lexicon = builtin_lexicon()
    sentences = []
    for number, (utt_id, text) in zip(numbers, rows):
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
    or raises (its message becomes the note that the check was skipped); None skips it.

    The corpus is built aside and replaces an earlier import in `out` only at the end; an import that keeps no
    clip leaves an earlier import as it was (result.written False)."""
    wrap = progress or (lambda items, stage, total: items)
    sentences = read_script(script)
    by_number = {s.number: s for s in sentences}
    files, unused = collect_files(inputs, out)
    if not files and not unused:
        raise ImportErrorRu(f"в {', '.join(map(str, inputs))} нет звуковых файлов ({', '.join(READABLE)})")
    _check_out(out)
    singles: dict[int, list[Recording]] = defaultdict(list)
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
        number = sentence_number(path.stem)
        sentence = by_number.get(number)
        long_take = rec.speech_span > TAKE_MIN_S or (
            sentence is not None and rec.speech_span > 2 * sentence.chars / CHARS_PER_SECOND + 4)
        if mode == "takes" or (mode == "auto" and long_take):
            takes.append(rec)
        elif number is None:
            unused.append((path.name, "по имени не понять номер фразы: назовите файл её номером из сценария "
                                      "(017.wav) или запускайте с --mode takes, если это дубль из нескольких фраз"))
        elif sentence is None:
            unused.append((path.name, f"номер {number} не из сценария (в нём фразы {number_ranges(by_number)})"))
        else:
            singles[number].append(rec)
    matched, take_rate = match_takes(takes, sentences, set(singles))
    candidates = [Clip(sentences[index], f"{rec.path.name} {_timestamp(start)}–{_timestamp(end)}", rec, start, end,
                       True) for index, (rec, start, end) in sorted(matched.items())]
    for number, recordings in sorted(singles.items()):
        candidates += [Clip(by_number[number], rec.path.name, rec, *single_span(rec), False) for rec in recordings]
    speaking_rate, max_ratio = _speaking_rate(candidates, take_rate)
    for clip in wrap(candidates, "check", len(candidates)):
        check_clip(clip, speaking_rate, max_ratio)
    asr_note = "проверка распознаванием выключена (--no-asr)"
    if meter_factory is not None and candidates:
        try:
            meter = meter_factory()
        except Exception as error:  # the optional extra is missing or its model cannot be built
            asr_note = f"проверка распознаванием пропущена: {error}"
        else:
            transcribe_check(wrap(candidates, "asr", len(candidates)), meter)
            asr_note = "проверено распознаванием (Whisper-base)"
    chosen = _best_takes(candidates, unused)
    result = ImportResult(chosen, [n for n in by_number if n not in {c.sentence.number for c in chosen}], unused,
                          speaking_rate, asr_note, len(sentences))
    if result.kept or not (out / REPORT_JSON).is_file():
        with build_aside(out, OWNED) as stage:
            _write(stage, result, rate, script)
        result.written = True
    return result


def _best_takes(candidates: list[Clip], unused: list[tuple[str, str]]) -> list[Clip]:
    """One clip per sentence, in script order: kept before set aside, then a file of its own before a piece of a
    long take (she re-read it), then the lower Whisper CER, fewer warnings, the higher SNR. The other files of a
    sentence are added to `unused`."""
    by_number: dict[int, list[Clip]] = defaultdict(list)
    for clip in candidates:
        by_number[clip.sentence.number].append(clip)
    chosen = []
    for number in sorted(by_number):
        ranked = sorted(by_number[number], key=lambda c: (not c.kept, c.from_take, c.measures.get("cer", 0.0),
                                                          len(c.warnings), -c.measures["snr_db"]))
        chosen.append(ranked[0])
        for other in ranked[1:]:
            if other.from_take:
                log.info("sentence %d: the file %s replaces its piece of a take", number, ranked[0].source)
            else:
                why = "; ".join(other.reasons) or "годен, но хуже по проверкам"
                unused.append((other.source, f"ещё один дубль фразы {number}, взят {ranked[0].source} ({why})"))
    return chosen


def _speaking_rate(clips: list[Clip], take_rate: float | None) -> tuple[float, float]:
    """Her characters per second (median over the clips) and the duration ratio allowed with it."""
    rates = [c.sentence.chars / (c.end - c.start) for c in clips if c.end > c.start]
    if len(rates) >= RATE_MIN_CLIPS:
        return float(np.median(rates)), MAX_DURATION_RATIO
    return take_rate or CHARS_PER_SECOND, MAX_DURATION_RATIO_UNCALIBRATED


def _check_out(out: Path) -> None:
    """An empty or new folder, or one an earlier import wrote (its corpus is replaced at the end)."""
    if out.exists() and not out.is_dir():
        raise ImportErrorRu(f"{out} — файл, а нужна папка для корпуса")
    # a killed import leaves only its staging folder (*.partial), which the next one clears
    if not (out / REPORT_JSON).is_file() and out.is_dir() and any(
            not p.name.endswith(TEMP_SUFFIX) for p in out.iterdir()):
        raise ImportErrorRu(f"папка {out} не пуста и не от прошлого импорта: укажите новую папку --out")


def _write(out: Path, result: ImportResult, rate: int, script: Path) -> None:
    aside = [c for c in result.clips if not c.kept]
    (out / WAV_DIR).mkdir()
    if aside:
        (out / SET_ASIDE_DIR).mkdir()
    for clip in result.clips:
        folder = WAV_DIR if clip.kept else SET_ASIDE_DIR
        write_wav(out / folder / f"{clip.sentence.utt_id}.wav", clip.audio, rate)
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
