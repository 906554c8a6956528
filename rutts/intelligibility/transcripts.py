"""Transcript and reference in one form before they are compared: lowercase, ё as е, no stress marks, signs as
words, and number words as numbers' nominative cardinals (Whisper writes "24 году" where the reference says
"двадцать четвёртом году": both become "двадцать четыре году")."""
from __future__ import annotations

import functools
import math
import re
import unicodedata

from rutts.intelligibility.model import missing_extra



# Number words by lemma (ё as е): Whisper writes "24 году" where the reference says "двадцать четвёртом году",
# so both sides become the nominative cardinal ("двадцать четыре году") before they are compared.
_CARDINALS = dict(zip(
    "ноль нуль один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать "
    "четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать".split(),
    [0, 0, *range(1, 20)],
)) | dict(zip("двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто".split(),
              range(20, 100, 10))) | dict(zip(
    "сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот".split(), range(100, 1000, 100)))
_ORDINALS = dict(zip(
    "нулевой первый второй третий четвертый пятый шестой седьмой восьмой девятый десятый одиннадцатый "
    "двенадцатый тринадцатый четырнадцатый пятнадцатый шестнадцатый семнадцатый восемнадцатый "
    "девятнадцатый".split(),
    range(20),
)) | dict(zip("двадцатый тридцатый сороковой пятидесятый шестидесятый семидесятый восьмидесятый девяностый".split(),
              range(20, 100, 10))) | dict(zip(
    "сотый двухсотый трехсотый четырехсотый пятисотый шестисотый семисотый восьмисотый девятисотый".split(),
    range(100, 1000, 100))) | dict(zip(
    "тысячный двухтысячный трехтысячный четырехтысячный пятитысячный шеститысячный семитысячный "
    "восьмитысячный девятитысячный".split(), range(1000, 10000, 1000))) | {"миллионный": 10**6}
_SCALES = {"тысяча": 10**3, "миллион": 10**6, "миллиард": 10**9}
# Signs Whisper writes for words ("25%" for "двадцать пять процентов"): both sides get the word's lemma.
_SIGNS = {"%": "процент", "№": "номер"}


@functools.lru_cache(maxsize=None)
def _morph():
    try:
        import pymorphy3
    except ImportError:
        raise missing_extra("pymorphy3") from None
    return pymorphy3.MorphAnalyzer()


@functools.lru_cache(maxsize=65536)
def _number_word(word: str) -> tuple[int, str] | None:
    """(value, "cardinal" | "ordinal" | "scale") of a number word in any case, gender or number; else None.

    Any of the word's readings counts ("три" is also a verb, "сорок" also magpies): both sides of a comparison
    go through the same function, so reading a non-number as a number costs nothing."""
    if word.isdigit():
        return int(word), "cardinal"
    for parse in _morph().parse(word):
        lemma = parse.normal_form.replace("ё", "е")
        for kind, table in (("cardinal", _CARDINALS), ("ordinal", _ORDINALS), ("scale", _SCALES)):
            if lemma in table:
                return table[lemma], kind
    return None


@functools.lru_cache(maxsize=65536)
def _sign_word(word: str) -> str:
    """The lemma of a word a sign stands for ("процентов" → "процент"); any other word as it is."""
    lemmas = {parse.normal_form for parse in _morph().parse(word)}
    return next((lemma for lemma in _SIGNS.values() if lemma in lemmas), word)


def _room(small: int) -> int:
    """The largest number that may still follow `small` in the same numeral: 200 → 99, 220 → 9, 224 → 0."""
    if small == 0 or 10 <= small % 100 <= 19:
        return 0
    zeros = len(str(small)) - len(str(small).rstrip("0"))
    return 10 ** min(zeros, 3) - 1


def _numbers_as_words(words: list[str]) -> list[str]:
    """Runs of number words and digits ("две тысячи двадцать четвертом", "2 тысячи 24", "2024") → one
    nominative cardinal each (num2words); other words unchanged."""
    from num2words import num2words

    out: list[str] = []
    total = small = room = 0
    scale_room: float = 0  # a scale word may follow only if smaller than the last one in this numeral
    active = False

    def flush() -> None:
        nonlocal active
        if active:
            out.append(num2words(total + small, lang="ru"))
        active = False

    for word in words:
        number = _number_word(word)
        if number is None:
            flush()
            out.append(_sign_word(word))
            continue
        value, kind = number
        if kind == "scale":
            if not (active and value < scale_room and small <= 999):
                flush()
                active, total, small, scale_room = True, 0, 0, math.inf
            total += (small or 1) * value
            small, room, scale_room = 0, 999, value
            continue
        if not (active and 0 < value <= room):
            flush()
            active, total, small, scale_room = True, 0, 0, math.inf
        small += value
        room = _room(small)
        if kind == "ordinal":  # "двадцать четвертом": an ordinal ends the numeral
            flush()
    flush()
    return out


def normalize(text: str) -> str:
    """Comparable form of a reference or a transcript: lowercase, ё→е, no stress marks, punctuation as spaces,
    numbers (digits, or words in any case, cardinal or ordinal) as nominative cardinal words, single spaces."""
    s = unicodedata.normalize("NFC", text).lower()  # NFC first: a decomposed й must stay one letter
    s = s.replace("ё", "е").replace("+", "").replace("\u0301", "")
    s = re.sub(r"(?<=\d)-[а-я]{1,3}\b", "", s)  # "24-м", "90-х", "2-й": the ending of a spoken ordinal
    s = re.sub(r"(?<=\d)[ \u00a0\u202f](?=\d{3}\b)", "", s)  # "1 200 000": thousands apart
    s = re.sub(r"\d{1,30}", lambda m: f" {m.group(0)} ", s)  # num2words ru stops below 10**33
    for sign, word in _SIGNS.items():
        s = s.replace(sign, f" {word} ")
    s = re.sub(r"[\W_]+", " ", s)
    return " ".join(_numbers_as_words(s.split()))
