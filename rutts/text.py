"""Russian text front end: the same steps for training text and for synthesis.

    raw text → stress marks checked → lexicon (user's, then built-in) → course rules (rutts/course_rules.py:
    addresses, file names, versions, colon numbers, counted numbers in the right case via rutts/numerals.py,
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

import hashlib
import logging
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from rutts import course_rules
from rutts.course_rules import Shelf

log = logging.getLogger(__name__)

VERSION = "3"  # bump when processing changes, so cached training text is rebuilt
STRESS = "+"
VOWELS = "аеёиоуыэюя"
CHARACTERS = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя" + STRESS
PUNCTUATIONS = "!,-.:;? "
DEFAULT_LEXICON = Path(__file__).with_name("lexicon_default.txt")

# Characters that carry no sound and are dropped silently (unlike emoji or CJK, which get a warning).
_SILENT = "«»\"“”„'’`*_#~^|/\\[]{}<>©®™•·"
_PAUSE = {"—": ",", "–": ",", "(": ",", ")": ",", "…": "."}


class TextError(ValueError):
    """The text has nothing the model can speak."""


def read_lexicon(path: str | Path) -> dict[str, str]:
    """Parse a lexicon file: one "word → reading" a line ("->", "=" or a tab also work), # for comments."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise TextError(f"Файл словаря не найден: {path}") from None
    except UnicodeDecodeError:
        raise TextError(f"Файл словаря {path} не в кодировке UTF-8: сохраните его как UTF-8") from None
    entries = {}
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s*(?:→|->|=|\t)\s*", line, maxsplit=1)
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise TextError(f"{path}:{number}: ожидается строка вида «слово → чтение», получено: {line!r}")
        reading = check_stress_marks(_hand_stress(parts[1]), f"{path}:{number}")
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


def _hand_stress(text: str) -> str:
    """U+0301 after a vowel → "+" before it, the notation used everywhere else."""
    text = unicodedata.normalize("NFD", text)
    text = re.sub(r"(\w)\u0301", r"+\1", text)
    return unicodedata.normalize("NFC", text.replace("\u0301", ""))


_MARKED_WORD = re.compile(r"[+а-яё]*(?:[а-яё]\+|\+[а-яё])[+а-яё]*", re.IGNORECASE)
_MISPLACED_MARK = re.compile(rf"\{STRESS}(?![{VOWELS}])", re.IGNORECASE)


def check_stress_marks(text: str, where: str = "") -> str:
    """Drop every "+" in a Russian word that stands before no vowel ("+слово", "сл+"; "сл+ово" is right), with a
    warning naming the word; a word left without marks is then stressed automatically."""

    def check(match: re.Match) -> str:
        word = match.group(0)
        kept = _MISPLACED_MARK.sub("", word)
        if kept != word:
            then = "остальные знаки в слове сохранены" if STRESS in kept else "ударение будет поставлено автоматически"
            log.warning("%sзнак ударения «+» в слове «%s» стоит не перед гласной: знак пропущен, %s",
                        f"{where}: " if where else "", word, then)
        return kept

    return _MARKED_WORD.sub(check, text)


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


@lru_cache(maxsize=1)
def _default_lexicon() -> Lexicon:
    return Lexicon(read_lexicon(DEFAULT_LEXICON))


def normalize(text: str, lexicon: Lexicon | None = None) -> str:
    """Numbers, dates, abbreviations and Latin spelled out in Cyrillic; case and punctuation kept, no new stress."""
    lexicon = _default_lexicon() if lexicon is None else lexicon
    shelf = Shelf()
    text = Shelf.PATTERN.sub(" ", text)  # private-use characters cannot be spoken, and the shelf uses them
    text = check_stress_marks(unicodedata.normalize("NFC", _hand_stress(text)))
    text = course_rules.apply(lexicon.protect(text, shelf), shelf)
    text = course_rules.spell_letters(lexicon.protect(text, shelf), shelf)
    text = course_rules.euphony(shelf.restore(_normalize_words(text)))
    return re.sub(r"\s+", " ", text).strip()


class _Accentor:
    """silero-stress, loaded once (≈40 MB of weights inside its wheel, a few seconds)."""

    # silero-stress changes torch's global state (1 thread on import, gradients off when called): undo both,
    # or a model trained or run in the same process slows down or stops learning.
    def __init__(self):
        import torch

        self._torch = torch
        threads, grad_enabled = torch.get_num_threads(), torch.is_grad_enabled()
        from silero_stress import load_accentor

        self._accentor = load_accentor()
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad_enabled)

    def __call__(self, text: str) -> str:
        grad_enabled = self._torch.is_grad_enabled()
        try:
            return self._accentor(text)
        finally:
            self._torch.set_grad_enabled(grad_enabled)


_accentor: _Accentor | None = None


def _restore_stress(text: str) -> str:
    """Stress and ё for words without a hand-written mark; none on one-vowel words (clitics stay unstressed)."""
    global _accentor
    if _accentor is None:
        _accentor = _Accentor()
    before = text.split()
    after = _accentor(text).split()
    if len(before) != len(after):  # the accentor never should change word count; keep the text if it did
        log.warning("расстановка ударений изменила число слов, текст оставлен без ударений: %r", text)
        return text
    words = []
    for original, stressed in zip(before, after):
        if STRESS in original:
            words.append(original)
        elif sum(stressed.lower().count(v) for v in VOWELS) <= 1:
            words.append(stressed.replace(STRESS, ""))
        else:
            words.append(stressed)
    return " ".join(words)


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
    text = re.sub(rf"\{STRESS}(?![{VOWELS}])", "", text)  # a plus sign the normalizer left is no stress mark
    text = re.sub(r"\s+([,.!?:;])", r"\1", text)
    text = re.sub(r"([,.!?:;-])(?:[,:;-]\s*)+", r"\1 ", text)  # "—," leftovers → one mark
    text = re.sub(r"\s+", " ", text).strip(" ,;:-")
    return text


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
            spoken = _restore_stress(spoken)
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


def main(argv: list[str] | None = None) -> int:
    """`python -m rutts.text`: print how the model will read a text, one sentence a line, warnings on stderr."""
    import argparse
    import sys

    from rutts.run_frontend import default_lexicon

    parser = argparse.ArgumentParser(
        prog="python -m rutts.text", description="Показать, как модель прочтёт текст: раскрытия и ударения."
    )
    parser.add_argument("text", nargs="*", help="текст (или подайте его на stdin)")
    parser.add_argument("--lexicon", help="свой словарь произношений (по умолчанию lexicon.txt, если он есть)")
    parser.add_argument("--no-stress", action="store_true", help="без автоматических ударений")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    source = " ".join(args.text) if args.text else sys.stdin.read()
    try:
        front_end = FrontEnd(args.lexicon or default_lexicon(), stress=not args.no_stress)
        for sentence in split_sentences(source):
            print(front_end.process(sentence))
    except TextError as error:
        print(f"Ошибка: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    import sys

    from rutts.text import main as _main  # the package's own module, not a second copy under __main__

    sys.exit(_main())
