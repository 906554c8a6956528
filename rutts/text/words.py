"""The words around a token that the course rules look at: what stands before a number, the case it governs;
Latin letters by their names; numbers in addresses and versions."""
from __future__ import annotations

import re

from rutts.text.numerals import PREPOSITION_CASES, cardinal, parses
from rutts.text.shelf import PLACEHOLDER, Shelf

LETTER_NAMES = dict(zip("abcdefghijklmnopqrstuvwxyz", (
    "эй би си ди и эф джи эйч ай джей кей эль эм эн оу пи кью ар эс ти ю ви дабл-ю икс уай зет").split()))
INT = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+"
SPACE = "[ \u00a0\u202f]"


def integer(digits: str) -> int:
    return int(re.sub(r"\D", "", digits))


def letter_name(name: str) -> str:
    """A Latin letter standing alone is said by its name ("C" → "си"); anything else stays."""
    return LETTER_NAMES.get(name.lower(), name) if len(name) == 1 else name


_PREVIOUS = re.compile(rf"(\w[\w-]*\.?|{PLACEHOLDER})\s*$")


def _previous(text: str, start: int) -> tuple[str, int]:
    match = _PREVIOUS.search(text, 0, start)
    if not match:
        return "", 0
    word = match.group(1).lower()
    return (word if word == "ок." or not word.endswith(".") else word[:-1]), match.start()


def previous_word(text: str, start: int) -> str:
    """The word right before `start`, lowercased ("ок." keeps its dot); "" if punctuation stands between."""
    return _previous(text, start)[0]


def is_adjective(word: str) -> bool:
    found = parses(word) if word and not Shelf.PATTERN.match(word) else ()
    return bool(found) and bool({"ADJF", "PRTF"} & set(found[0].tag.grammemes))


def governing_word(text: str, start: int) -> str:
    """The word that governs a number at `start`, looking past adjectives: "для первых 100" → "для"."""
    word, position = _previous(text, start)
    for _ in range(2):
        if governed_cases(word) or not is_adjective(word):
            break
        word, position = _previous(text, position)
    return word


def governed_cases(word: str) -> tuple[str, ...] | None:
    """Cases a word before a number can put it in: a preposition's, or the genitive after a comparative
    ("старше 18 лет", "дороже 500 рублей"); None when the word governs nothing."""
    if word in PREPOSITION_CASES:
        return PREPOSITION_CASES[word]
    if word and not Shelf.PATTERN.match(word) and any("COMP" in p.tag for p in parses(word)[:2]):
        return ("gent",)
    return None


def case_after(word: str, default: str = "nomn") -> str:
    return (governed_cases(word) or (default,))[0]


def number_reading(digits: str) -> str:
    """A part of a version or an address: "05" → "ноль пять", "12" → "двенадцать"."""
    if len(digits) > 1 and digits.startswith("0"):
        return " ".join(cardinal(int(d)) for d in digits)
    return cardinal(int(digits))
