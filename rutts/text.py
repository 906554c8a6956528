"""Russian text front end: the same steps for training text and for synthesis.

    raw text → user lexicon → ru-normalizr (numbers, dates, abbreviations, Latin)
             → silero-stress (stress "+" and ё) → lowercase → model alphabet

Stress is written as "+" before the stressed vowel ("мол+око"). Marks the user wrote by hand ("+" or
U+0301 after the vowel) and readings from the lexicon are kept as they are.
"""
from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from pathlib import Path

log = logging.getLogger(__name__)

VERSION = "1"  # bump when processing changes, so cached training text is rebuilt
STRESS = "+"
VOWELS = "аеёиоуыэюя"
CHARACTERS = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя" + STRESS
PUNCTUATIONS = "!,-.:;? "
DEFAULT_LEXICON = Path(__file__).with_name("lexicon_default.txt")

# Characters that carry no sound and are dropped silently (unlike emoji or CJK, which get a warning).
_SILENT = "«»\"“”„'’`*_#~^|/\\[]{}<>©®™•·"
_PAUSE = {"—": ",", "–": ",", "(": ",", ")": ",", "…": "."}
# Rules ahead of ru-normalizr for what it reads wrong in course scripts (see tests/test_text.py):
# "Python 3.12", "версия 2.0": a version is read with "точка", not as a decimal fraction;
_VERSION_NUMBER = re.compile(r"(?i)\b(верси\w*|python|питон|v)\s*(\d+(?:\.\d+)+)\b")
# "в 19:00", "до 18:30": written as "19 ч. 30 мин." the library puts hours and minutes in the right case;
_CLOCK_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
# "в уроке 7", "на стр. 15": a number that labels something is read as is ("семь"), not inflected.
_LABEL_NUMBER = re.compile(
    r"(?i)\b(урок\w*|глав\w*|страниц\w*|раздел\w*|пункт\w*|модул\w*|лекци\w*|задани\w*|"
    r"упражнени\w*|шаг\w*|слайд\w*|пример\w*|вариант\w*)\s+(\d+)\b(?![.,]\d)"
)


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
        entries[parts[0]] = _hand_stress(parts[1])
    return entries


class Lexicon:
    """Whole-word, case-insensitive replacements; longer keys first so "C++" wins over "C"."""

    def __init__(self, *entry_dicts: dict[str, str]):
        self.entries: dict[str, str] = {}
        for entries in entry_dicts:  # earlier dictionaries win
            for word, reading in entries.items():
                self.entries.setdefault(word.lower(), reading)
        keys = sorted(self.entries, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(rf"(?<![\w+#.]){re.escape(k)}(?![\w+#])" for k in keys), re.IGNORECASE)
            if keys else None
        )

    def apply(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self.entries[m.group(0).lower()], text)

    def digest(self) -> str:
        return hashlib.sha1(repr(sorted(self.entries.items())).encode()).hexdigest()[:12]


def _hand_stress(text: str) -> str:
    """U+0301 after a vowel → "+" before it, the notation used everywhere else."""
    text = unicodedata.normalize("NFD", text)
    text = re.sub(r"(\w)\u0301", r"+\1", text)
    return unicodedata.normalize("NFC", text.replace("\u0301", ""))


def _course_rules(text: str) -> str:
    from num2words import num2words

    text = _VERSION_NUMBER.sub(lambda m: f"{m.group(1)} {m.group(2).replace('.', ' точка ')}", text)
    text = _CLOCK_TIME.sub(lambda m: f"{m.group(1)} ч." + ("" if m.group(2) == "00" else f" {m.group(2)} мин."), text)
    return _LABEL_NUMBER.sub(lambda m: f"{m.group(1)} {num2words(int(m.group(2)), lang='ru')}", text)


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
    if lexicon is None:
        lexicon = Lexicon(read_lexicon(DEFAULT_LEXICON))
    text = unicodedata.normalize("NFC", _hand_stress(text))
    text = lexicon.apply(_course_rules(text))
    return re.sub(r"\s+", " ", _normalize_words(text)).strip()


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
    text = re.sub(rf"\{STRESS}(?![{VOWELS}])", "", text)  # a "+" must stand before a vowel
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


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m rutts.text", description="Показать, как модель прочтёт текст: раскрытия и ударения."
    )
    parser.add_argument("text", nargs="*", help="текст (или подайте его на stdin)")
    parser.add_argument("--lexicon", help="свой словарь произношений (по умолчанию lexicon.txt, если он есть)")
    parser.add_argument("--no-stress", action="store_true", help="без автоматических ударений")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    source = " ".join(args.text) if args.text else sys.stdin.read()
    lexicon = args.lexicon or (Path("lexicon.txt") if Path("lexicon.txt").exists() else None)
    try:
        front_end = FrontEnd(lexicon, stress=not args.no_stress)
        for sentence in split_sentences(source):
            print(front_end.process(sentence))
    except TextError as error:
        sys.exit(f"Ошибка: {error}")
