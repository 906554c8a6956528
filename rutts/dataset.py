"""A corpus in RUSLAN's layout: metadata, the train/validation split and the processed-text cache (its audit:
rutts/audit.py).

Layout: ``<root>/metadata_*.csv`` with UTF-8 lines ``id|text`` and ``<root>/RUSLAN/<id>.wav``. The audit writes
``<root>/metadata_train.csv`` and ``<root>/metadata_val.csv`` (``id|processed text``) for Coqui's ``ruslan``
formatter, and keeps the front end's output in ``<root>/processed_text_cache.json`` so stress restoration runs
once per text and front-end version, not once per audit or epoch.
"""
from __future__ import annotations

import codecs
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from rutts.files import write_text_atomic
from rutts.text import FrontEnd, TextError

log = logging.getLogger(__name__)

WAV_DIR = "RUSLAN"
TRAIN_FILE = "metadata_train.csv"
VAL_FILE = "metadata_val.csv"
CACHE_FILE = "processed_text_cache.json"
RECORD_NAME = "frontend.json"  # the front-end settings of the split (rutts.run.record_frontend)
LEXICON_COPY = "frontend_lexicon.txt"
# What check_sample_rate.py writes beside the corpus about the files it audited: stale once they change.
AUDIT_FILES = (TRAIN_FILE, VAL_FILE, RECORD_NAME, LEXICON_COPY)

# 2 % of RUSLAN is ~440 utterances (~35 min): a steady validation loss, little lost from training.
# Of the 400-utterance demo 2 % would be ~8 ± 3 by chance, hence the floor (at most a tenth of the corpus).
VAL_FRACTION = 0.02
MIN_VAL = 8

class DatasetError(Exception):
    """The corpus cannot be read at all; the message (Russian) names the file and, where it can, the line."""


@dataclass
class ProcessedTexts:
    processed: dict[str, str]  # raw text -> front-end output
    failed: dict[str, str]  # raw text -> why the front end had nothing to say
    fresh: int  # texts that went through the front end in this call; 0 = all from the cache


def wav_path(root: Path, utt_id: str) -> Path:
    return Path(root) / WAV_DIR / f"{utt_id}.wav"


def check_sample_rates(paths: Iterable[str | Path], sample_rate: int) -> None:
    """DatasetError naming a wav whose rate is not `sample_rate` (and how many such there are): Coqui reads a wav at
    whatever rate it has, so training on it would learn sped-up or slowed-down speech without a word."""
    wrong = [(Path(path), rate) for path in paths if (rate := sf.info(str(path)).samplerate) != sample_rate]
    if wrong:
        (path, rate), more = wrong[0], f" (и ещё {len(wrong) - 1})" if len(wrong) > 1 else ""
        raise DatasetError(f"{path.name} — {rate} Гц{more}, а модель обучается на {sample_rate} Гц: пересэмплируйте "
                           f"корпус (python resample_wavs.py) и проверьте его снова (python check_sample_rate.py)")


def find_metadata(root: Path, exclude: Sequence[str] = (TRAIN_FILE, VAL_FILE)) -> Path:
    """The one ``metadata_*.csv`` in the root that is not a split file this module wrote."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"папка корпуса не найдена: {root}")
    found = sorted(p for p in root.glob("metadata_*.csv") if p.name not in exclude)
    if not found:
        split_files = [name for name in exclude if (root / name).is_file()]
        note = f"; {', '.join(split_files)} — файлы разбиения, их пишет проверка" if split_files else ""
        raise DatasetError(
            f"в папке {root} нет файла разметки metadata_*.csv (строки «id|текст»){note}: укажите --metadata"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise DatasetError(f"в папке {root} несколько файлов разметки ({names}): выберите один через --metadata")
    return found[0]


def read_metadata(path: Path) -> list[tuple[str, str]]:
    """``id|text`` lines → [(id, text)]. A BOM, CRLF and blank lines are accepted; columns after the second are
    ignored, as Coqui's ``ruslan`` formatter does. The text may be empty: the audit reports that per id."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"файл разметки не найден: {path}")
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    rows: list[tuple[str, str]] = []
    first_seen: dict[str, int] = {}
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as error:
            raise DatasetError(
                f"{path}, строка {number}: байт 0x{raw[error.start]:02x} не UTF-8 — "
                "сохраните файл разметки в кодировке UTF-8"
            ) from None
        if not line:
            continue
        if "|" not in line:
            raise DatasetError(f"{path}, строка {number}: нет разделителя «|», ожидается «id|текст»: {line[:60]!r}")
        utt_id, text = (column.strip() for column in line.split("|", 2)[:2])
        if not utt_id or "/" in utt_id or "\\" in utt_id:
            raise DatasetError(f"{path}, строка {number}: id {utt_id!r} не может быть именем wav-файла")
        if utt_id in first_seen:
            raise DatasetError(f"{path}, строка {number}: id {utt_id!r} уже был в строке {first_seen[utt_id]}")
        first_seen[utt_id] = number
        rows.append((utt_id, text))
    if not rows:
        raise DatasetError(f"файл разметки пуст: {path}")
    return rows


def _hash_unit(utt_id: str) -> float:
    """The id's place in [0, 1): the same on every machine and independent of the rest of the corpus."""
    return int.from_bytes(hashlib.sha1(utt_id.encode("utf-8")).digest()[:8], "big") / 2**64


def validation_ids(ids: Iterable[str], fraction: float = VAL_FRACTION, minimum: int = MIN_VAL) -> set[str]:
    """Ids whose hash falls below ``fraction``, topped up by lowest hash to ``minimum`` (at most a tenth of the
    ids, at least one of two or more).

    Adding utterances never moves an existing id from training into validation; only in a corpus too small to
    reach ``minimum`` by hash can a top-up id go back to training when new ids with lower hashes arrive.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    ranked = sorted(ids, key=_hash_unit)
    by_hash = sum(1 for utt_id in ranked if _hash_unit(utt_id) < fraction)
    floor = min(minimum, max(1, len(ranked) // 10)) if len(ranked) >= 2 else 0
    return set(ranked[: max(by_hash, floor)])


@dataclass
class Split:
    train_path: Path
    val_path: Path
    train_ids: list[str]
    val_ids: list[str]


def write_split(
    root: Path,
    usable: Sequence[tuple[str, str]],
    fraction: float = VAL_FRACTION,
    train_name: str = TRAIN_FILE,
    val_name: str = VAL_FILE,
) -> Split:
    """Write ``id|processed text`` lines (metadata order) into the train and validation files."""
    val = validation_ids((utt_id for utt_id, _ in usable), fraction)
    split = Split(Path(root) / train_name, Path(root) / val_name, [], [])
    lines: dict[bool, list[str]] = {False: [], True: []}
    for utt_id, text in usable:
        (split.val_ids if utt_id in val else split.train_ids).append(utt_id)
        lines[utt_id in val].append(f"{utt_id}|{text}\n")
    write_text_atomic(split.train_path, "".join(lines[False]))
    write_text_atomic(split.val_path, "".join(lines[True]))
    return split


def _load_cache(path: Path, signature: str) -> ProcessedTexts:
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
        if cache.get("signature") == signature:
            return ProcessedTexts(dict(cache["processed"]), dict(cache["failed"]), 0)
        log.info("text cache %s is for %s, not %s: processing again", path, cache.get("signature"), signature)
    except FileNotFoundError:
        pass
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        log.warning("ignoring unreadable text cache %s: %s", path, error)
    return ProcessedTexts({}, {}, 0)


def _save_cache(path: Path, signature: str, texts: ProcessedTexts) -> None:
    cache = {"signature": signature, "processed": texts.processed, "failed": texts.failed}
    try:
        write_text_atomic(path, json.dumps(cache, ensure_ascii=False))
    except OSError as error:  # the cache only saves time: a read-only corpus is still audited
        log.warning("cannot write the text cache %s: %s", path, error)


def process_texts(
    texts: Iterable[str],
    frontend: FrontEnd,
    cache_path: Path,
    wrap: Callable[[Iterable, str, int], Iterable] | None = None,
    chunk: int = 256,
    save_every_s: float = 60.0,
) -> ProcessedTexts:
    """Front-end output for each distinct text, from the cache when ``frontend.signature`` matches.

    New results are saved at least every ``save_every_s`` and when interrupted, so a killed run resumes.
    ``wrap(iterable, stage, total)`` may wrap the chunk loop, e.g. in a progress bar.
    """
    cache_path = Path(cache_path)
    result = _load_cache(cache_path, frontend.signature)
    todo = [t for t in dict.fromkeys(texts) if t not in result.processed and t not in result.failed]
    chunks = [todo[start : start + chunk] for start in range(0, len(todo), chunk)]
    if wrap is not None:
        chunks = wrap(chunks, "text", len(chunks))
    last_save = time.monotonic()
    try:
        for part in chunks:
            try:
                result.processed.update(zip(part, frontend.process_many(part)))
            except TextError:  # find which texts failed, keep the rest
                for text in part:
                    try:
                        result.processed[text] = frontend.process(text)
                    except TextError as error:
                        result.failed[text] = str(error)
            result.fresh += len(part)
            if time.monotonic() - last_save > save_every_s:
                _save_cache(cache_path, frontend.signature, result)
                last_save = time.monotonic()
    finally:
        if result.fresh:
            _save_cache(cache_path, frontend.signature, result)
    return result


