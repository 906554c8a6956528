"""Russian text front end: the same steps for training text and for synthesis.

    raw text → "С++", "Ф#" made Latin → stress marks checked → lexicon (user's, then built-in) → course rules (course_rules.py:
    addresses, file names, versions, colon numbers, counted numbers in the right case via numerals.py,
    labels) → lexicon again → acronyms spelled → ru-normalizr (dates, ordinals, Roman numerals, abbreviations,
    the rest of the Latin) → silero-stress (stress "+" and ё) → lowercase → model alphabet

Stress is written as "+" before the stressed vowel ("мол+око"). Marks the user wrote by hand ("+" or
U+0301 after the vowel) and readings from the lexicon are kept as they are; a "+" that stands before no vowel
is a typo: it is dropped with a warning and the word is stressed automatically. The lexicon wins over every rule:
its readings are hidden from later steps, and its keys may span words ("Python 3.12", "урок 5").

    python -m rutts.text "Это займёт примерно 2 минуты."        # how the model will read it
    echo "Посмотрите на 3:15 в видео." | python -m rutts.text --no-stress --lexicon lexicon.txt
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from rutts.text.course_rules import apply_course_rules
from rutts.text.alphabet import VOWELS, TextError, to_alphabet
from rutts.text.lexicon import DEFAULT_LEXICON, Lexicon, builtin_lexicon, read_lexicon
from rutts.text.rules_code import latin_language_names, spell_letters
from rutts.text.rules_numbers import euphony
from rutts.text.shelf import Shelf
from rutts.text.stress import check_stress_marks, hand_stress, restore_stress

VERSION = "4"  # bump when processing changes, so cached training text is rebuilt


class _Normalizer:
    """ru-normalizr in its TTS mode, with single-letter initials ("А." → "а", not "аа")."""

    def __init__(self):
        from ru_normalizr import NormalizeOptions, Normalizer

        self._normalizer = Normalizer(NormalizeOptions.tts(letter_vowel_mode="single", initials_pause_mode="preserve"))

    def __call__(self, text: str) -> str:
        return self._normalizer.normalize(text)


_normalizer: _Normalizer | None = None


def _normalize_words(text: str) -> str:
    global _normalizer
    if _normalizer is None:
        _normalizer = _Normalizer()
    return _normalizer(text)


def normalize(text: str, lexicon: Lexicon | None = None) -> str:
    """Numbers, dates, abbreviations and Latin spelled out in Cyrillic; case and punctuation kept, no new stress."""
    lexicon = builtin_lexicon() if lexicon is None else lexicon
    shelf = Shelf()
    text = Shelf.PATTERN.sub(" ", text)  # private-use characters cannot be spoken, and the shelf uses them
    text = check_stress_marks(latin_language_names(unicodedata.normalize("NFC", hand_stress(text))))
    text = apply_course_rules(lexicon.protect(text, shelf), shelf)
    text = spell_letters(lexicon.protect(text, shelf), shelf)
    text = euphony(shelf.restore(_normalize_words(text)))
    return re.sub(r"\s+", " ", text).strip()


class FrontEnd:
    """The whole front end. `process` is what both training and synthesis feed to the model."""

    def __init__(self, lexicon_path: str | Path | None = None, stress: bool = True):
        user = read_lexicon(lexicon_path) if lexicon_path else {}
        self.lexicon = Lexicon(user, read_lexicon(DEFAULT_LEXICON))
        self.stress = stress
        self.signature = f"v{VERSION}-stress{int(stress)}-lex{self.lexicon.digest()}"

    def normalize(self, text: str) -> str:
        return normalize(text, self.lexicon)

    def process(self, text: str) -> str:
        spoken = self.normalize(text)
        if self.stress and spoken:
            spoken = restore_stress(spoken)
        result = to_alphabet(spoken)
        if not any(ch in VOWELS for ch in result):
            raise TextError(f"Нечего произносить: в тексте нет русских слов ({text[:60]!r})")
        return result

    def process_many(self, texts: list[str]) -> list[str]:
        return [self.process(t) for t in texts]


def split_sentences(text: str) -> list[str]:
    """Russian sentences (razdel): no breaks at "т. е.", "А. С. Пушкин", "3.14" or "г. Москва"."""
    from razdel import sentenize

    return [s.text for s in sentenize(text) if s.text.strip()]
