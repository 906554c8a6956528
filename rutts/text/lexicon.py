"""Pronunciation lexicons: the built-in one (lexicon_default.txt beside this file) and the user's lexicon.txt.

A lexicon file holds one entry a line, "word → reading"; "#" starts a comment line. The separator is the first of:
    a tab                 C++<TAB>си пл+юс пл+юс      (any key, "=" or "->" in it included)
    "→"                   == → равно равно
    " = " (spaces round)  != = не равно
    " -> " (spaces round) Kotlin -> к+отлин
    a lone "=" or "->"    Python=п+айтон          (the old form: only when the line holds exactly one of them)
A line that fits none of them is skipped with a warning naming its line number (a file where no line fits is
refused). Keys are compared with the text
after one case fold and Unicode normalisation on both sides ("µs" with the micro sign is "μs" with the Greek mu).
"""
from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from rutts.files import UnreadableFile, read_utf8
from rutts.text.alphabet import CHARACTERS, PUNCTUATIONS, TextError
from rutts.text.shelf import Shelf
from rutts.text.stress import check_stress_marks, hand_stress

log = logging.getLogger(__name__)

DEFAULT_LEXICON = Path(__file__).with_name("lexicon_default.txt")
DEFAULT_LEXICON_NAME = "lexicon.txt"


PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the folder of the scripts (train_glowtts.py, inference.py)


def default_lexicon() -> Path | None:
    """lexicon.txt in the project root if it exists, whatever the current folder (the one home of that default)."""
    path = PROJECT_ROOT / DEFAULT_LEXICON_NAME
    return path if path.is_file() else None


def _split_entry(line: str) -> list[str] | None:
    """(key, reading) by the separators of the module docstring, in their order; None when none fits."""
    for separator in ("\t", "→", " = ", " -> "):
        if separator in line:
            return line.split(separator, 1)
    bare = [mark for mark in ("=", "->") if line.count(mark) == 1]
    if len(bare) == 1 and ("=" not in line or "->" not in line):
        return line.split(bare[0], 1)
    return None


def read_lexicon(path: str | Path) -> dict[str, str]:
    """Parse a lexicon file (its format: the module docstring). TextError for a file that cannot be read or of
    which no line fits the format; a single malformed line is skipped with a warning."""
    path = Path(path)
    try:
        lines = read_utf8(path, "Файл словаря").splitlines()
    except UnreadableFile as error:
        raise TextError(str(error)) from None
    entries, malformed = {}, []
    for number, line in enumerate(lines, 1):
        line = Shelf.PATTERN.sub("", line).strip()  # private-use characters are the front end's own placeholders
        if not line or line.startswith("#"):
            continue
        parts = _split_entry(line)
        word, reading = (part.strip() for part in parts) if parts else ("", "")
        if not _key(word) or not reading:
            malformed.append(f"{path}:{number}: ожидается «слово → чтение» (или слово, табуляция, чтение), "
                             f"получено: {line!r}")
            log.warning("%s: строка пропущена", malformed[-1])
            continue
        reading = check_stress_marks(hand_stress(reading), f"{path}:{number}")
        unspeakable = sorted(set(reading.lower()) - set(CHARACTERS + PUNCTUATIONS))
        if unspeakable:  # readings skip every later step, so digits or Latin there would be dropped unsaid
            log.warning("%s:%d: в чтении «%s» есть символы, которых модель не произносит (%s): напишите их "
                        "русскими буквами", path, number, reading, " ".join(unspeakable))
        entries[word] = reading
    if malformed and not entries:  # not one line fits: not a lexicon (another file, another format)
        raise TextError(malformed[0])
    return entries


class Lexicon:
    """Whole-word replacements, compared after `_key` on both sides; longer keys first so "C++" wins over "C" and
    "Python 3.12" over "Python". A key may hold spaces ("урок 5"): any run of spaces in the text matches them."""

    def __init__(self, *entry_dicts: dict[str, str]):
        self.entries: dict[str, str] = {}
        for entries in entry_dicts:  # earlier dictionaries win
            for word, reading in entries.items():
                if _key(word):
                    self.entries.setdefault(_key(word), reading)
        keys = sorted(self.entries, key=len, reverse=True)
        alternatives = (r"\s+".join(re.escape(part) for part in key.split(" ")) for key in keys)
        self._pattern = (
            re.compile("|".join(rf"(?<![\w+#.@-]){a}(?![\w+#@]|\.\w)" for a in alternatives)) if keys else None
        )

    def apply(self, text: str) -> str:
        return self.protect(text, None)

    def protect(self, text: str, shelf: Shelf | None) -> str:
        """Replace every entry by its reading; with a shelf, the reading is hidden from the later steps."""
        if self._pattern is None:
            return text
        text = unicodedata.normalize("NFC", text)  # as the keys are (the front end's text is NFC already)
        folded = _fold(text)
        pieces, end = [], 0
        for match in self._pattern.finditer(folded):
            found = self.entries.get(re.sub(r"\s+", " ", match.group(0)))
            if found is None:  # the pattern is built from the keys: a match is one; if not, the text stays
                continue
            pieces += [text[end:match.start()], shelf.put(found) if shelf is not None else found]
            end = match.end()
        return "".join(pieces) + text[end:]

    def digest(self) -> str:
        return hashlib.sha1(repr(sorted(self.entries.items())).encode()).hexdigest()[:12]


def _fold(text: str) -> str:
    """Each character case-folded where that keeps it one character ("µ" micro sign → "μ", "Ä" → "ä"; "ß" stays),
    so the folded text lines up with the original one character for character."""
    return "".join(folded if len(folded := ch.casefold()) == 1 else ch for ch in text)


def _key(word: str) -> str:
    """A key as it is compared: NFC, folded, its runs of spaces as one space."""
    return re.sub(r"\s+", " ", _fold(unicodedata.normalize("NFC", word)).strip())


@lru_cache(maxsize=1)
def builtin_lexicon() -> Lexicon:
    return Lexicon(read_lexicon(DEFAULT_LEXICON))
