"""What the model can say: its letters, its punctuation, the stress mark, and the last step of the front end
(`to_alphabet`) that brings any text down to them."""
from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

STRESS = "+"
VOWELS = "аеёиоуыэюя"
CHARACTERS = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя" + STRESS
PUNCTUATIONS = "!,-.:;? "

# Characters that carry no sound and are dropped silently (unlike emoji or CJK, which get a warning).
_SILENT = "«»\"“”„'’`*_#~^|/\\[]{}<>©®™•·"
_PAUSE = {"—": ",", "–": ",", "(": ",", ")": ",", "…": "."}


class TextError(ValueError):
    """The text has nothing the model can speak."""


def to_alphabet(text: str) -> str:
    """Lowercase and keep only what the model's alphabet has; warn about symbols that cannot be spoken."""
    text = text.lower()
    for symbol, replacement in _PAUSE.items():
        text = text.replace(symbol, replacement)
    kept, unknown = [], []
    for ch in text:
        if ch in CHARACTERS or ch in PUNCTUATIONS:
            kept.append(ch)
        elif ch.isspace():
            kept.append(" ")
        elif ch in _SILENT:
            kept.append(" ")
        else:
            unknown.append(ch)
            kept.append(" ")
    if unknown:
        log.warning("пропущены символы, которые нельзя произнести: %s", " ".join(sorted(set(unknown))))
    text = "".join(kept)
    stray = re.findall(rf"\S*\{STRESS}(?![{VOWELS}])\S*", text)
    if stray:  # a plus sign the normalizer left is no stress mark: dropped, but said
        log.warning("пропущен знак «+», который не стоит перед гласной: %s", " ".join(dict.fromkeys(stray)))
        text = re.sub(rf"\{STRESS}(?![{VOWELS}])", "", text)
    text = re.sub(r"\s+([,.!?:;])", r"\1", text)
    text = re.sub(r"([,.!?:;-])(?:[,:;-]\s*)+", r"\1 ", text)  # "—," leftovers → one mark
    text = re.sub(r"\s+", " ", text).strip(" ,;:-")
    return text

