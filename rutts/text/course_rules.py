"""Rules for what course scripts are full of, run before ru-normalizr (part of the text front end, see rutts/text/frontend.py).

Each rule reads one kind of token the way a narrator of a screencast course does. Number readings are hidden from
the later steps behind placeholders (`Shelf`), so ru-normalizr does not read them a second time. Code and
addresses are read in rules_code.py, numbers in rules_numbers.py:
    URLs and e-mail       https://docs.python.org/3/ → "docs точка python точка org слэш три"
    shortcuts and flags   Ctrl+C → "Ctrl плюс си", --help → "минус минус help"
    dotted names          main.py, console.log, python.org → "main точка py"
    versions              Python 3.12, v1.2.3, версия 2.0 → "три точка двенадцать"
    colon numbers         в 19:00 (clock), на 3:15 в видео (position), 2:1 (score), 1:100 (ratio), 16:9 (format)
    sizes                 1920×1080 → "тысяча девятьсот двадцать на тысячу восемьдесят"
    math                  x², 10⁶, 2^(-1), f(x), 10 − 4 → "икс в квадрате", "в степени шесть", "эф от икс", "минус"
    comparisons           x > 5, a != b, y ≤ 0 → "икс больше пяти", "эй не равно би"
    counted numbers       "о 5 ошибках", "21 минуту", "250 руб.", "5 ГБ", "с 72 до 91 балла", "1,5 часа"
    labels                "урок 7", "на стр. 15", "Excel 2019" → the number as it is ("семь"); "урок 23 мая" is a date
    code operators        x += 1, i++, a -> b, list[0], 7 // 2 → "плюс равно", "плюс плюс", "стрелка", "индекс",
                          "делить нацело на"; an operator left unread is warned about with its line
    abbreviations         ЕГЭ, ЖКХ → "е-гэ-э", "жэ-ка-ха" (a built-in list and every one without a vowel); ВУЗ, МИД
                          are words
Code words in capitals that English knows (WHERE, NULL, FALSE) are lowered, so they are read as words, not spelled.
Latin words are left in place for the lexicon and for ru-normalizr's transliteration; `spell_letters` runs after
the lexicon and spells what is left of acronyms and vowel-less names letter by letter ("npm" → "эн-пи-эм").
"""
from __future__ import annotations

from rutts.text.rules_code import (
    addresses,
    caps_words,
    cyrillic_abbreviations,
    formulas,
)
from rutts.text.rules_numbers import counted, labels, notations
from rutts.text.shelf import Shelf


def apply_course_rules(text: str, shelf: Shelf) -> str:
    """All course rules in order: addresses first (they hold dots and digits the other rules would take); sizes
    before formulas (they look for "="), powers before comparisons ("x² = 4" compares "x в квадрате")."""
    text = addresses(text)
    text = notations(text, shelf)
    text = formulas(text, shelf)
    text = counted(text, shelf)
    text = cyrillic_abbreviations(caps_words(text), shelf)  # after counted: "5 ГБ" is a unit
    return labels(text, shelf)
