"""A recording script for a new voice: sentences chosen greedily to cover what the model sees.

What the model sees is the front end's output (rutts.text: letters, "+" before a stressed vowel, ё). A sentence's
units are its letters (a stressed vowel is a unit of its own) and every pair of neighbouring letters, within a word
and across the space between two words. The script is grown one sentence at a time, always taking the sentence that
adds the most per second of reading: a unit is worth 1 the first time, then half as much each time it comes again,
so rare sounds get in early and frequent ones get several examples. Her own texts (lesson files) compete with the
built-in pool (`recording_pool.txt`) with a bonus, being the closest match to what the voice will read later.

Minutes are estimated from the length of the text the front end produces, at the speaking rate measured on the
demo corpus (CHARS_PER_SECOND).
"""
from __future__ import annotations

import heapq
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rutts.dataset import process_texts
from rutts.files import build_aside
from rutts.text import STRESS, VOWELS, FrontEnd, TextError, split_paragraphs, split_sentences

log = logging.getLogger(__name__)

POOL = Path(__file__).with_name("recording_pool.txt")
# Letters, spaces and punctuation of the processed text (stress marks not counted) per second of audio in the demo
# corpus: 600 utterances, 21,786 characters, 1,847 s including 0.1 s of silence at each end (RHVoice aleksandr-hq).
CHARS_PER_SECOND = 11.8
OWN_TEXT_BONUS = 1.5  # her lesson sentences win over pool sentences that add up to 1.5x as much
REPEAT_DECAY = 0.5  # a unit is worth half as much each time the script already has it
MIN_WORDS = 3
MAX_SECONDS = 8.0  # longer sentences are hard to read in one breath; the CPU preset drops clips over 9 s
ID_FORMAT = "{:06d}_RUSLAN"
SCRIPT_FILE = "script.md"
METADATA_FILE = "metadata.csv"
CACHE_FILE = "recording_script_text_cache.json"


class ScriptError(ValueError):
    """A problem with the user's texts or settings; the message (Russian) says what to fix."""


@dataclass(frozen=True)
class Candidate:
    text: str  # what she reads: the front end's normalization (numbers and Latin spelled out, case kept)
    processed: str  # what the model is trained on
    source: str  # "pool" or the name of her file

    @property
    def seconds(self) -> float:
        return estimated_seconds(self.processed)


@dataclass
class Script:
    sentences: list[Candidate]
    seconds: float
    covered: int  # distinct units the chosen sentences have
    possible: int  # distinct units of all candidates: the most any script from them can cover
    covered_share_by_frequency: float  # share of all unit occurrences in the candidates whose unit is covered

    @property
    def coverage(self) -> float:
        return self.covered / self.possible if self.possible else 0.0


def cache_dir() -> Path:
    """$RUTTS_CACHE, by default ~/.cache/rutts (also where the Whisper model is joined)."""
    return Path(os.environ.get("RUTTS_CACHE") or Path.home() / ".cache" / "rutts")


def estimated_seconds(processed: str) -> float:
    return len(processed.replace(STRESS, "")) / CHARS_PER_SECOND


def units(processed: str) -> Counter[str]:
    """Letters ("+а" for a stressed vowel) and neighbouring pairs ("ба", and "т б" across a space)."""
    found: Counter[str] = Counter()
    for phrase in re.split(r"[^\w+ -]+", processed.replace("-", " ")):  # punctuation is a pause: no pair across it
        words = [re.findall(rf"\{STRESS}?[^\W\d_]", word) for word in phrase.split()]
        previous = None
        for letters in words:
            if not letters:
                continue
            found.update(letters)
            found.update(a + b for a, b in zip(letters, letters[1:]))
            if previous is not None:
                found[f"{previous} {letters[0]}"] += 1
            previous = letters[-1]
    return found


def with_yo(text: str, processed: str) -> str:
    """ё where the front end restored it ("Мертвый пес" → "Мёртвый пес"), so she reads what the model learns."""
    words = re.findall(r"[^\W\d_]+", processed.replace(STRESS, ""))
    matches = list(re.finditer(r"[^\W\d_]+", text))
    if len(words) != len(matches):
        return text
    parts, end = [], 0
    for match, word in zip(matches, words):
        original = match.group(0)
        if "ё" in word and len(word) == len(original) and word.replace("ё", "е") == original.lower().replace("ё", "е"):
            original = "".join(("Ё" if o.isupper() else "ё") if w == "ё" else o for o, w in zip(original, word))
        parts += [text[end:match.start()], original]
        end = match.end()
    return "".join(parts) + text[end:]


def read_pool(path: Path = POOL) -> list[str]:
    """The built-in pool: one sentence a line, # for comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def read_texts(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """Her texts (plain text or Markdown lessons) → (sentence, file name), Markdown markup dropped."""
    found = []
    for path in paths:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise ScriptError(f"{path}: файла нет") from None
        except IsADirectoryError:
            raise ScriptError(f"{path}: это папка, укажите файлы (например, {path}/*.md)") from None
        except UnicodeDecodeError:
            raise ScriptError(f"{path}: не в кодировке UTF-8, сохраните файл как UTF-8") from None
        sentences = [s for paragraph in split_paragraphs(text) for s in split_sentences(paragraph)]
        if not sentences:
            raise ScriptError(f"{path}: в файле нет текста")
        found += [(sentence, path.name) for sentence in sentences]
    return found


def prepare_candidates(
    sentences: Iterable[tuple[str, str]], front_end: FrontEnd, cache_path: Path | None = None
) -> tuple[list[Candidate], Counter[str]]:
    """Candidates from (sentence, source) pairs, each run through the front end once (cached by its signature).

    Returns the candidates and how many sentences were left out, by reason: "short", "long", "unspeakable",
    "duplicate".
    """
    pairs = list(sentences)
    spoken = {}
    for sentence, _ in pairs:
        if sentence not in spoken:
            try:
                spoken[sentence] = front_end.normalize(sentence)
            except TextError:
                spoken[sentence] = ""
    cache_path = cache_path or cache_dir() / CACHE_FILE
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    texts = process_texts((s for s in spoken.values() if s), front_end, cache_path)
    candidates, skipped, seen = [], Counter(), set()
    for sentence, source in pairs:
        text = spoken[sentence]
        processed = texts.processed.get(text)
        if not processed:
            skipped["unspeakable"] += 1
            continue
        key = processed.replace(STRESS, "").strip(" .,!?…;:").replace("ё", "е")
        if key in seen:
            skipped["duplicate"] += 1
            continue
        seen.add(key)
        if len(processed.split()) < MIN_WORDS:
            skipped["short"] += 1
        elif estimated_seconds(processed) > MAX_SECONDS:
            skipped["long"] += 1
        else:
            candidates.append(Candidate(with_yo(text, processed), processed, source))
    return candidates, skipped


def choose(candidates: list[Candidate], minutes: float, own_bonus: float = OWN_TEXT_BONUS) -> Script:
    """Greedy selection (lazy: a sentence's value only falls as the script grows) until `minutes` are filled."""
    budget = minutes * 60
    unit_sets = [frozenset(units(c.processed)) for c in candidates]
    counts: Counter[str] = Counter()

    def value(index: int) -> float:
        bonus = 1.0 if candidates[index].source == "pool" else own_bonus
        return bonus * sum(REPEAT_DECAY ** counts[u] for u in unit_sets[index]) / candidates[index].seconds

    heap = [(-value(i), i) for i in range(len(candidates))]
    heapq.heapify(heap)
    chosen: list[int] = []
    total = 0.0
    while heap:
        negative, index = heapq.heappop(heap)
        if total + candidates[index].seconds > budget:
            continue  # does not fit any more; a shorter one may
        current = value(index)
        if current < -negative - 1e-12:  # stale: others may be worth more now
            heapq.heappush(heap, (-current, index))
            continue
        chosen.append(index)
        counts.update(unit_sets[index])
        total += candidates[index].seconds
    frequency: Counter[str] = Counter()
    for candidate in candidates:
        frequency.update(units(candidate.processed))
    covered = set(counts)
    total_occurrences = sum(frequency.values())
    return Script(
        sentences=[candidates[i] for i in chosen],
        seconds=total,
        covered=len(covered),
        possible=len(frequency),
        covered_share_by_frequency=sum(frequency[u] for u in covered) / total_occurrences if total_occurrences else 0.0,
    )


def _for_reading(text: str) -> str:
    """Hand-written stress "+а" shown as "а́" (U+0301), as in a dictionary."""
    return re.sub(rf"\{STRESS}([{VOWELS}{VOWELS.upper()}])", "\\1\u0301", text)


TIPS = """\
## Как записывать

- Тихая комната с мягкой мебелью и шторами; окна закрыты, техника с вентиляторами выключена.
- Телефон или микрофон — на расстоянии ладони (15–20 см), чуть сбоку от рта; на протяжении всей записи одинаково.
- Читайте спокойно, как на уроке, обычным голосом. Перед каждой фразой — пауза 1–2 секунды.
- Два способа, можно смешивать:
  1. по файлу на фразу, имя файла — её номер: `001.wav`, `002.wav`, … (`Запись 17.m4a` → переведите в WAV/FLAC);
     копии и повторы (`017 (2).wav`, `017_take2.wav`) — дубли фразы 17: возьмётся лучший;
  2. несколько длинных дублей подряд по сценарию (`дубль1.wav`, `дубль2.wav`, …): каждый следующий дубль
     начинается с фразы, на которой закончился предыдущий. Не повторяйте фразу внутри дубля.
- Оговорились — дочитайте и потом перезапишите эту фразу отдельным файлом с её номером: он заменит кусок дубля.
- Форматы: WAV, FLAC, OGG, MP3; любая частота и число каналов.
- Затем: `python import_recordings.py <папка с записями> --script {metadata}`
"""


def render_markdown(script: Script, metadata: Path) -> str:
    minutes = script.seconds / 60
    lines = [f"# Сценарий записи: {len(script.sentences)} фраз, ≈ {minutes:.0f} мин чтения", "",
             TIPS.format(metadata=metadata.as_posix()), "## Фразы", ""]
    lines += [f"{number}. {_for_reading(c.text)}" for number, c in enumerate(script.sentences, 1)]
    return "\n".join(lines) + "\n"


def write_script(folder: Path, script: Script) -> tuple[Path, Path]:
    """script.md (numbered, printable, with reading tips) and metadata.csv (`<id>|text`, id from the number),
    both or neither."""
    markdown, metadata = folder / SCRIPT_FILE, folder / METADATA_FILE
    rows = [f"{ID_FORMAT.format(number)}|{c.text}\n" for number, c in enumerate(script.sentences, 1)]
    with build_aside(folder, (SCRIPT_FILE, METADATA_FILE)) as stage:
        (stage / METADATA_FILE).write_text("".join(rows), encoding="utf-8", newline="")
        (stage / SCRIPT_FILE).write_text(render_markdown(script, metadata), encoding="utf-8", newline="")
    return markdown, metadata
