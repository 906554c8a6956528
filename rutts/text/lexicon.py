"""Pronunciation lexicons: the built-in one (lexicon_default.txt beside this file) and the user's lexicon.txt."""
from __future__ import annotations

import hashlib
import logging
import re
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


def read_lexicon(path: str | Path) -> dict[str, str]:
    """Parse a lexicon file: one "word → reading" a line ("->", "=" or a tab also work), # for comments."""
    path = Path(path)
    try:
        lines = read_utf8(path, "Файл словаря").splitlines()
    except UnreadableFile as error:
        raise TextError(str(error)) from None
    entries = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s*(?:→|->|=|\t)\s*", line, maxsplit=1)
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise TextError(f"{path}:{number}: ожидается строка вида «слово → чтение», получено: {line!r}")
        reading = check_stress_marks(hand_stress(parts[1]), f"{path}:{number}")
        unspeakable = sorted(set(reading.lower()) - set(CHARACTERS + PUNCTUATIONS))
        if unspeakable:  # readings skip every later step, so digits or Latin there would be dropped unsaid
            log.warning("%s:%d: в чтении «%s» есть символы, которых модель не произносит (%s): напишите их "
                        "русскими буквами", path, number, reading, " ".join(unspeakable))
        entries[parts[0]] = reading
    return entries


class Lexicon:
    """Whole-word, case-insensitive replacements; longer keys first so "C++" wins over "C" and "Python 3.12"
    over "Python". A key may hold spaces ("урок 5"): any run of spaces in the text matches them."""

    def __init__(self, *entry_dicts: dict[str, str]):
        self.entries: dict[str, str] = {}
        for entries in entry_dicts:  # earlier dictionaries win
            for word, reading in entries.items():
                self.entries.setdefault(_key(word), reading)
        keys = sorted(self.entries, key=len, reverse=True)
        alternatives = (r"\s+".join(re.escape(part) for part in key.split(" ")) for key in keys)
        self._pattern = (
            re.compile("|".join(rf"(?<![\w+#.@-]){a}(?![\w+#@]|\.\w)" for a in alternatives), re.IGNORECASE)
            if keys else None
        )

    def apply(self, text: str) -> str:
        return self.protect(text, None)

    def protect(self, text: str, shelf: Shelf | None) -> str:
        """Replace every entry by its reading; with a shelf, the reading is hidden from the later steps."""
        if self._pattern is None:
            return text

        def reading(match: re.Match) -> str:
            found = self.entries[_key(match.group(0))]
            return shelf.put(found) if shelf is not None else found

        return self._pattern.sub(reading, text)

    def digest(self) -> str:
        return hashlib.sha1(repr(sorted(self.entries.items())).encode()).hexdigest()[:12]


def _key(word: str) -> str:
    return re.sub(r"\s+", " ", word.strip().lower())


@lru_cache(maxsize=1)
def builtin_lexicon() -> Lexicon:
    return Lexicon(read_lexicon(DEFAULT_LEXICON))
