"""Course rules for numbers (see rutts/text/course_rules.py for the order they run in): versions, short dates,
colon numbers, sizes, counted numbers in the case their noun and preposition give, and numbers that label a thing."""
from __future__ import annotations

import re
from typing import NamedTuple

from rutts.text.numerals import (cardinal, noun_cases, noun_form, noun_gender, one_and_half, ordinal, parses,
                                 singular_cases, unit_form)
from rutts.text.shelf import PLACEHOLDER, Shelf
from rutts.text.words import (INT, SPACE, case_after, governed_cases, governing_word, integer, is_adjective,
                              number_reading, previous_word)

# --- words that name a numbered thing ("урок 7", "раздел 2.3", "стр. 15") -----------------------------------

_LABEL_LEMMAS = {
    "урок", "глава", "страница", "раздел", "пункт", "подпункт", "модуль", "лекция", "задание", "упражнение", "шаг",
    "слайд", "пример", "вариант", "рисунок", "таблица", "схема", "задача", "вопрос", "тест", "занятие", "параграф",
    "этап", "блок", "тема", "серия", "часть", "приложение", "формула", "строка", "столбец", "колонка", "лист",
    "уровень", "сезон", "выпуск", "номер", "неделя", "день", "вебинар", "квест", "спринт", "кейс", "проект",
}
_LABEL_ABBREVIATIONS = {"стр": "страница", "с": "страница", "рис": "рисунок", "табл": "таблица", "гл": "глава",
                        "п": "пункт", "упр": "упражнение", "разд": "раздел", "ил": "иллюстрация"}


_LABEL_ABBREVIATION_BEFORE = re.compile(rf"(?i)(?<![\w.])(?:{'|'.join(_LABEL_ABBREVIATIONS)})\.\s*$")


def _is_label_word(word: str) -> bool:
    """"уроке", "раздел": a word after which a number names something rather than counts it."""
    return any(p.normal_form in _LABEL_LEMMAS for p in parses(word)[:2] if "NOUN" in p.tag)


def _label_before(text: str, start: int) -> bool:
    """A label word ("раздел") or abbreviation ("п.", "стр.") stands right before `start`."""
    return _is_label_word(previous_word(text, start)) or bool(_LABEL_ABBREVIATION_BEFORE.search(text, 0, start))


# --- versions ----------------------------------------------------------------------------------------------------

_VERSION_WORDS = {"версия", "релиз", "сборка", "обновление", "патч"}
_VERSION = re.compile(r"(?<![\w.,])(?P<v>[vV])?(?P<number>\d+(?:\.(?:\d+|x))+|(?<=[vV])\d+)(?![\w]|[.,]\d)")
_LATIN_NAME = re.compile(rf"(?:[A-Za-z][\w+#.-]*|{PLACEHOLDER})\s*$")


def _is_date(parts: list[str]) -> bool:
    return (len(parts) == 3 and all(p.isdigit() for p in parts) and int(parts[0]) <= 31 and int(parts[1]) <= 12
            and len(parts[2]) in (2, 4))


def _version(match: re.Match) -> str:
    parts = match.group("number").split(".")
    text, start = match.string, match.start()
    before = previous_word(text, start)
    named = (match.group("v") or _LATIN_NAME.search(text[:start]) or _label_before(text, start)
             or any(p.normal_form in _VERSION_WORDS for p in parses(before)[:1]))
    if not named and (len(parts) < 3 or _is_date(parts)):
        return match.group(0)
    reading = " точка ".join("икс" if p == "x" else number_reading(p) for p in parts)
    if match.group("v"):
        reading = f"{noun_form('версия', case_after(before))} {reading}"
    return reading


# --- short dates: "15.09" → "15 сентября" (ru-normalizr then reads the day as an ordinal in the right case) --

_MONTHS = ("января февраля марта апреля мая июня июля августа сентября октября ноября декабря").split()
_MONTH_AFTER = re.compile(rf"(?i){SPACE}+(?:{'|'.join(_MONTHS)})\b")
_SHORT_DATE = re.compile(r"(?<![\w.,])(0?[1-9]|[12]\d|3[01])\.(0[1-9]|1[0-2])(?![\w]|[.,]\d)")


def _short_date(match: re.Match) -> str:
    before = previous_word(match.string, match.start())
    if _label_before(match.string, match.start()) or any(p.normal_form in _VERSION_WORDS for p in parses(before)[:1]):
        return match.group(0)
    return f"{int(match.group(1))} {_MONTHS[int(match.group(2)) - 1]}"


# --- colon numbers: clock times, positions in a recording, scores, ratios, formats ---------------------------

_COLON = re.compile(r"(?<![\d:.,])(\d{1,3})((?::\d{1,3})+)(?![\d:]|[.,]\d)")
_MEDIA_WORDS = re.compile(
    r"(?i)\b(?:видео\w*|ролик\w*|запис[иьяею]\w*|таймкод\w*|тайм-код\w*|отметк\w*|фрагмент\w*|эпизод\w*|"
    r"перемот\w*|клип\w*|трек\w*|аудио\w*|подкаст\w*|скринкаст\w*|хронометраж\w*)")
_CLOCK_WORDS = re.compile(
    r"(?i)\b(?:встреч\w*|будильник\w*|начал\w*|начн\w*|начина\w*|время|времени|утра|вечера|ночи|созвон\w*|"
    r"расписани\w*|назнач\w*|перенес\w*|вебинар\w*|эфир\w*|дедлайн\w*|мск|москв\w*|открыва\w*|закрыва\w*)")
_SCORE_WORDS = re.compile(r"(?i)\b(?:сч[её]т\w*|матч\w*|выигр\w*|проигр\w*|побед\w*|ничь\w*|сыгр\w*|партию)")
_FORMAT_WORDS = re.compile(r"(?i)\b(?:формат\w*|сторон\w*|экран\w*|разрешени\w*|кадр\w*|монитор\w*|дисплей\w*)")
_RATIO_WORDS = re.compile(r"(?i)\b(?:пропорци\w*|соотношени\w*|масштаб\w*|отношени\w*|смеш\w*|разбав\w*)")


_CLOCK_PREPOSITIONS = {"в", "во", "к", "ко", "около", "после", "примерно"}


def _amount(n: int, lemma: str, case: str, gender: str) -> str:
    return f"{cardinal(n, case, gender)} {unit_form(lemma, n, case)}"


def _duration(values: list[int], lemmas: list[tuple[str, str]], case: str) -> str:
    parts = [_amount(v, lemma, case, gender) for v, (lemma, gender) in zip(values, lemmas) if v]
    return " ".join(parts) or _amount(0, lemmas[-1][0], case, lemmas[-1][1])


def _colon(match: re.Match) -> str:
    text, start = match.string, match.start()
    groups = [match.group(1)] + match.group(2).split(":")[1:]
    values = [int(g) for g in groups]
    before = previous_word(text, start)
    case = case_after(before)
    time_like = all(len(g) == 2 for g in groups[1:]) and len(groups[0]) <= 2
    if len(groups) == 2 and (not time_like or _RATIO_WORDS.search(text) or _SCORE_WORDS.search(text)
                             or _FORMAT_WORDS.search(text)):
        left, right = values
        if _SCORE_WORDS.search(text):
            return f"{cardinal(left)} — {cardinal(right)}"
        if _FORMAT_WORDS.search(text):
            return f"{cardinal(left)} на {cardinal(right, 'accs')}"
        return f"{cardinal(left)} к {cardinal(right, 'datv')}"
    if not time_like:
        return match.group(0)
    clock_time = values[0] < 24 or values[0] == 24 and values[1] == 0
    if len(groups) == 3 or not clock_time:
        media = True
    elif before in _CLOCK_PREPOSITIONS:  # "в 18:30", "к 23:59": a time of day even in a sentence about a video
        media = False
    else:
        media = bool(_MEDIA_WORDS.search(text)
                     or (before == "на" and groups[1] != "00" and not _CLOCK_WORDS.search(text)))
    if media:
        lemmas = [("час", "masc"), ("минута", "femn"), ("секунда", "femn")][-len(values):]
        return _duration(values, lemmas, case)
    hours = _amount(values[0], "час", case, "masc")
    return hours if values[1] == 0 else f"{hours} {_amount(values[1], 'минута', case, 'femn')}"


# --- sizes: 1920×1080, 3х3 ----------------------------------------------------------------------------------

_SIZE = re.compile(r"(?<![\d.,])(\d+)(?:\s*[×xх]\s*\d+)+(?!\d|[.,]\d)")


def _size(match: re.Match) -> str:
    if "=" in match.string:  # "2×3 = 6" is arithmetic: ru-normalizr reads it "умножить на"
        return match.group(0)
    numbers = [int(n) for n in re.findall(r"\d+", match.group(0))]
    return " на ".join([cardinal(numbers[0])] + [cardinal(n, "accs") for n in numbers[1:]])


# --- counted numbers ---------------------------------------------------------------------------------------------

# Units written as symbols or abbreviations: (pattern, lemma). Scales ("тыс.") count themselves and then
# put the next unit in the genitive plural ("5 тыс. руб." → "пять тысяч рублей").
_UNITS = [
    (r"руб\.?|₽|р\.", "рубль"), (r"коп\.?", "копейка"), (r"%", "процент"),
    (r"ТБ|Тб", "терабайт"), (r"ГБ|Гб", "гигабайт"), (r"МБ|Мб", "мегабайт"), (r"КБ|Кб", "килобайт"),
    (r"мс", "миллисекунда"), (r"px", "пиксель"), (r"pt", "пункт"), (r"шт\.?", "штука"),
    (r"тыс\.?", "тысяча"), (r"млн\.?", "миллион"), (r"млрд\.?", "миллиард"),
]
_SCALES = {"тысяча", "миллион", "миллиард"}
_UNIT = re.compile(rf"{SPACE}?(?:{'|'.join(f'(?P<u{i}>{p})' for i, (p, _) in enumerate(_UNITS))})(?![\w])")
# A whole number, or 1,5 ("полтора"), that no digit, sign or letter touches: not "3.12", "10:30", "−5", "3-м", "A4".
_NUMBER = re.compile(rf"(?<![\w.,:/+−\-–])(?:(?P<half>1[,.]5)(?![\d.,])|(?P<n>{INT})(?![\w]|[.,:/]\d|-\w))")
_WORD = re.compile(r"\s+([а-яёА-ЯЁ]+(?:-[а-яё]+)?)")
_RANGE = re.compile(r"\s*(?:[-–—]|\s(?:до|по)\s)\s*$")
# Nouns that follow a number which names rather than counts: dates ("5 мая") and centuries ("21 век").
_NOT_COUNTED = {"январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь",
                "ноябрь", "декабрь", "век", "столетие", "тысячелетие"}
# Nouns whose number before them says which one when it does not count them: "3 урок", "на 2 этаже".
_ORDINAL_NOUNS = _LABEL_LEMMAS | {"число", "класс", "этаж", "место", "курс", "квартал", "ряд"}


def _unit_lemma(match: re.Match) -> str:
    return _UNITS[int(match.lastgroup[1:])][1]


_ABOUT = re.compile(r"(?<![\w.])[оО]к\.(?=\s*\d)")  # "ок. 2 часов": "около", which then governs the number


def _noun_after(text: str, end: int) -> str | None:
    """The word a number at `end` may count, past up to two adjectives ("3 новых столбца" → "столбца")."""
    position = end
    for _ in range(3):
        match = _WORD.match(text, position)
        if not match:
            return None
        if not is_adjective(match.group(1)):
            return match.group(1)
        position = match.end()
    return None


class _Reading(NamedTuple):
    start: int
    end: int
    words: str
    gender: str
    case: str
    ordinal: bool = False


def _counted(text: str, match: re.Match) -> _Reading | None:
    """How a number is read before its noun or unit; None when it counts nothing ("5 мая", "урок 5")."""
    half = match.group("half")
    n = 2 if half else integer(match.group("n"))  # 1,5 takes the noun the way 2 does ("полтора часа")
    before = governing_word(text, match.start())
    unit = _UNIT.match(text, match.end())
    if unit and not half:
        lemma = _unit_lemma(unit)
        case = case_after(before)
        if case == "loct" or before in ("в", "во", "на"):
            case = "accs"  # "на 10%", "в 2 ГБ": a count, not a place
        gender = noun_gender(lemma)
        reading, end = f"{cardinal(n, case, gender)} {unit_form(lemma, n, case)}", unit.end()
        follower = _UNIT.match(text, end) if lemma in _SCALES else None
        if follower and _unit_lemma(follower) not in _SCALES:
            reading, end = f"{reading} {unit_form(_unit_lemma(follower), 5, 'gent')}", follower.end()
        return _Reading(match.start(), end, reading, gender, case)
    word = _noun_after(text, match.end())
    if not word:
        return None
    lemma = parses(word)[0].normal_form
    if lemma in _NOT_COUNTED or (lemma == "год" and n >= 1000):
        return None
    agreement = noun_cases(n, word)
    if lemma in _ORDINAL_NOUNS and not half and (
            agreement is None or (n % 10 == 1 and not agreement[0] & {"nomn", "accs"})):
        return _ordinal(text, match, n, word, before)  # "с 3 урока", "к 21 уроку", "в 9 классе": which one
    if agreement is None:
        return None
    cases, gender, animate = agreement
    if governed_cases(before):
        fitting = [c for c in governed_cases(before) if c in cases]
        if not fitting:
            return None
        case = fitting[0]
    else:
        case = "nomn" if "nomn" in cases else sorted(cases)[0]
    reading = one_and_half(case, gender) if half else cardinal(n, case, gender, animate)
    return _Reading(match.start(), match.end(), reading, gender, case)


def _ordinal(text: str, match: re.Match, n: int, word: str, before: str) -> _Reading | None:
    cases, gender = singular_cases(word)
    fitting = [c for c in governed_cases(before) or ("nomn",) if c in cases]
    if not fitting:
        return None
    return _Reading(match.start(), match.end(), ordinal(n, fitting[0], gender), gender, fitting[0], ordinal=True)


def counted_numbers(text: str, shelf: Shelf) -> str:
    """Numbers that count something, in the case and gender their noun and preposition give them."""
    matches = list(_NUMBER.finditer(text))
    readings: dict[int, _Reading] = {}
    for index in reversed(range(len(matches))):  # right to left: "с 72 до 91 балла" takes its noun from "91"
        match = matches[index]
        reading = _counted(text, match)
        partner = readings.get(index + 1)
        if not reading and partner and match.group("n") and _RANGE.match(text[match.end():partner.start]):
            n, case = integer(match.group("n")), case_after(previous_word(text, match.start()), partner.case)
            words = ordinal(n, case, partner.gender) if partner.ordinal else cardinal(n, case, partner.gender)
            reading = partner._replace(start=match.start(), end=match.end(), words=words, case=case)
        if reading:
            readings[index] = reading
    for reading in sorted(readings.values(), key=lambda r: r.start, reverse=True):
        text = text[:reading.start] + shelf.put(reading.words) + text[reading.end:]
    return text


# --- labels: "урок 7", "на стр. 15", "Excel 2019" ----------------------------------------------------------

_LABEL = re.compile(rf"(?P<word>(?<![\w.])[а-яёА-ЯЁ]+\.?|{PLACEHOLDER}|[A-Za-z][\w+#-]*)(?P<space>{SPACE}*)"
                    rf"(?P<n>{INT})(?![\w]|[.,:/]\d|-\w)")
_SEE_BEFORE = re.compile(r"(?i)(?<!\w)(?:см\.|смотри|смотрите)[^!?]*$")  # "См. главу 5, с. 120": "страницу"


def _takes_object(word: str) -> bool:
    """"прочитайте", "откройте", "смотрите": a transitive verb, so "гл. 3" after it reads "главу три"."""
    return any({"VERB", "tran"} <= set(p.tag.grammemes) for p in parses(word)[:1]) if word else False


def _unit_follows(text: str, end: int) -> bool:
    """A unit ru-normalizr knows stands after the number ("30 см", "5 кг", "10 $"): it reads the pair itself."""
    from ru_normalizr.numerals._constants import ALL_UNITS, CURRENCY_SYMBOLS  # its unit table (version pinned)

    token = re.match(r"\s*([^\s,;:!?()]+)", text[end:])
    if not token:
        return False
    unit = token.group(1).lower().rstrip(".")
    return bool(unit) and (unit in ALL_UNITS or unit[0] in CURRENCY_SYMBOLS or unit[0] in "%°")


def _label(match: re.Match, shelf: Shelf) -> str:
    word, number = match.group("word"), integer(match.group("n"))
    if _unit_follows(match.string, match.end()) or _MONTH_AFTER.match(match.string, match.end()):
        return match.group(0)  # "урок 23 мая" is a date: ru-normalizr reads it so
    abbreviation = word.endswith(".") and word[:-1].lower() in _LABEL_ABBREVIATIONS
    if abbreviation:
        before = previous_word(match.string, match.start())
        case = ("loct" if before in ("в", "во", "на", "о", "об", "при")
                else "accs" if _takes_object(before) or _SEE_BEFORE.search(match.string[:match.start()])
                else case_after(before))
        noun = noun_form(_LABEL_ABBREVIATIONS[word[:-1].lower()], case)
        return f"{noun} {shelf.put(cardinal(number))}"
    if word.endswith("."):
        return match.group(0)
    if not re.match(r"[а-яё]", word, re.IGNORECASE):  # a Latin name or a lexicon entry: "Windows 11"
        if not match.group("space"):
            return match.group(0)
    elif not _is_label_word(word.lower()):
        return match.group(0)
    return f"{word}{match.group('space')}{shelf.put(cardinal(number))}"


_EUPHONY = re.compile(r"(?<![\w+])(?:([кКвВ])(\s+)(?=втор)|([сС])(\s+)(?=втор|ст[оа]\b))")


def euphony(text: str) -> str:
    """"к второму" → "ко второму", "с ста" → "со ста": the vowel a preposition takes before a spelled number."""
    def add_vowel(match: re.Match) -> str:
        letter, space = match.group(1) or match.group(3), match.group(2) or match.group(4)
        return letter + ("о" if letter.islower() else "О") + space

    return _EUPHONY.sub(add_vowel, text)


def notations(text: str, shelf: Shelf) -> str:
    """Versions, short dates, colon numbers and sizes."""
    text = _VERSION.sub(lambda m: _shelve(_version(m), m, shelf), text)
    text = _SHORT_DATE.sub(_short_date, text)
    text = _COLON.sub(lambda m: _shelve(_colon(m), m, shelf), text)
    return _SIZE.sub(lambda m: _shelve(_size(m), m, shelf), text)


def counted(text: str, shelf: Shelf) -> str:
    """"ок." as "около", then the numbers that count something."""
    return counted_numbers(_ABOUT.sub("около", text), shelf)


def labels(text: str, shelf: Shelf) -> str:
    return _LABEL.sub(lambda m: _label(m, shelf), text)


def _shelve(reading: str, match: re.Match, shelf: Shelf) -> str:
    return reading if reading == match.group(0) else shelf.put(reading)
