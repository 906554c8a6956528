"""Rules for what course scripts are full of, run before ru-normalizr (part of the text front end, see rutts/text.py).

Each rule reads one kind of token the way a narrator of a screencast course does. Number readings are hidden from
the later steps behind placeholders (`Shelf`), so ru-normalizr does not read them a second time:
    URLs and e-mail       https://docs.python.org/3/ → "docs точка python точка org слэш три"
    shortcuts and flags   Ctrl+C → "Ctrl плюс си", --help → "минус минус help"
    dotted names          main.py, console.log, python.org → "main точка py"
    versions              Python 3.12, v1.2.3, версия 2.0 → "три точка двенадцать"
    colon numbers         в 19:00 (clock), на 3:15 в видео (position), 2:1 (score), 1:100 (ratio), 16:9 (format)
    sizes                 1920×1080 → "тысяча девятьсот двадцать на тысячу восемьдесят"
    math                  x², 10⁶, 2^(-1), f(x), 10 − 4 → "икс в квадрате", "в степени шесть", "эф от икс", "минус"
    comparisons           x > 5, a != b, y ≤ 0 → "икс больше пяти", "эй не равно би"
    counted numbers       "о 5 ошибках", "21 минуту", "250 руб.", "5 ГБ", "с 72 до 91 балла", "1,5 часа"
    labels                "урок 7", "на стр. 15", "Excel 2019" → the number as it is ("семь")
Code words in capitals that English knows (WHERE, NULL, FALSE) are lowered, so they are read as words, not spelled.
Latin words are left in place for the lexicon and for ru-normalizr's transliteration; `spell_letters` runs after
the lexicon and spells what is left of acronyms and vowel-less names letter by letter ("npm" → "эн-пи-эм").
"""
from __future__ import annotations

import re
from typing import NamedTuple

from rutts.numerals import (PREPOSITION_CASES, cardinal, noun_cases, noun_form, noun_gender, one_and_half, ordinal,
                            parses, singular_cases, unit_form)


class Shelf:
    """Readings hidden from later steps, one private-use character each; ru-normalizr passes them through."""

    FIRST = 0x102000  # above U+1017FF, the last private-use range ru-normalizr reserves for itself
    PATTERN = re.compile("[\U00102000-\U0010fffd]")

    def __init__(self):
        self._readings: list[str] = []

    def put(self, reading: str) -> str:
        self._readings.append(reading)
        return chr(self.FIRST + len(self._readings) - 1)

    def restore(self, text: str) -> str:
        while self.PATTERN.search(text):  # a reading may hold an earlier placeholder ("до <версии …>")
            text = self.PATTERN.sub(lambda m: self._readings[ord(m.group()) - self.FIRST], text)
        return text


PLACEHOLDER = "[\U00102000-\U0010fffd]"
LETTER_NAMES = dict(zip("abcdefghijklmnopqrstuvwxyz", (
    "эй би си ди и эф джи эйч ай джей кей эль эм эн оу пи кью ар эс ти ю ви дабл-ю икс уай зет").split()))
_INT = r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?!\d)|\d+"
_SPACE = "[ \u00a0\u202f]"


def _int(digits: str) -> int:
    return int(re.sub(r"\D", "", digits))


def _key(name: str) -> str:
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


def _is_adjective(word: str) -> bool:
    found = parses(word) if word and not Shelf.PATTERN.match(word) else ()
    return bool(found) and bool({"ADJF", "PRTF"} & set(found[0].tag.grammemes))


def governing_word(text: str, start: int) -> str:
    """The word that governs a number at `start`, looking past adjectives: "для первых 100" → "для"."""
    word, position = _previous(text, start)
    for _ in range(2):
        if governed_cases(word) or not _is_adjective(word):
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


def _case_after(word: str, default: str = "nomn") -> str:
    return (governed_cases(word) or (default,))[0]


def _number_reading(digits: str) -> str:
    """A part of a version or an address: "05" → "ноль пять", "12" → "двенадцать"."""
    if len(digits) > 1 and digits.startswith("0"):
        return " ".join(cardinal(int(d)) for d in digits)
    return cardinal(int(digits))


# --- URLs, e-mail, dotted names --------------------------------------------------------------------------------

_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>«»\"]+")
_EMAIL = re.compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b")
_DOTTED = re.compile(r"(?<![\w@/.])(?:[A-Za-z_][\w-]*)?(?:\.[A-Za-z_][\w-]*)+(?:/[\w.~%-]*)*(?:\(\))?(?![\w])")


def _address_reading(address: str) -> str:
    """Dots, slashes, hyphens and @ as a narrator says them; digits as numbers; Latin words stay for later."""
    words = []
    for piece in re.findall(r"[^\W\d_]+|\d+|[./\\:@_-]", address):
        if piece.isdigit():
            words.append(_number_reading(piece))
        else:
            words.append({".": "точка", "/": "слэш", "\\": "обратный слэш", ":": "двоеточие", "@": "собака",
                          "-": "дефис", "_": ""}.get(piece, _key(piece)))
    return " ".join(w for w in words if w)


def _url(match: re.Match) -> str:
    url = re.sub(r"[.,;:!?)]+$", "", match.group(0))
    tail = match.group(0)[len(url):]
    url = re.sub(r"(?i)^(?:https?://)?(?:www\.)?", "", url).split("?")[0].split("#")[0].rstrip("/")
    return _address_reading(url) + tail


_PATH = re.compile(r"(?<!\S)(?:(?:~|\.{1,2})?/[\w.~/-]*\w|[A-Za-z]:\\[\w.\\-]*)")


def _path(match: re.Match) -> str:
    """"~/projects", "/usr/bin", "./run.sh", "C:\\Users": every piece said, "~" as "тильда"."""
    path = match.group(0)
    prefix = re.match(r"~|\.{1,2}(?=/)", path)
    if not prefix:
        return _address_reading(path)
    head = {"~": "тильда", ".": "точка", "..": "точка точка"}[prefix.group(0)]
    return f"{head} {_address_reading(path[prefix.end():])}"


def _dotted(match: re.Match) -> str:
    name = match.group(0).removesuffix("()").strip("_")
    return _address_reading(name.rstrip("/"))


# --- shortcuts and command-line flags ----------------------------------------------------------------------------

_KEY = rf"(?:\b[A-Za-z][A-Za-z0-9]*\b|{PLACEHOLDER})"
_SHORTCUT = re.compile(rf"{_KEY}(?:\s*\+\s*{_KEY})+(?!\+)")
_FLAG = re.compile(r"(?<![\w-])(--?)([A-Za-z][A-Za-z0-9_-]*)(?!\w)")


def _shortcut(match: re.Match) -> str:
    return " плюс ".join(_key(k.strip()) for k in match.group(0).split("+"))


def _flag(match: re.Match) -> str:
    dashes, name = match.group(1), match.group(2)
    if dashes == "-" and name.isalpha() and len(name) <= 4:  # "-la" is "-l -a": letters, not a word
        name = "-".join(_key(c) for c in name)
    return " ".join(["минус"] * len(dashes) + [name])


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
    reading = " точка ".join("икс" if p == "x" else _number_reading(p) for p in parts)
    if match.group("v"):
        reading = f"{noun_form('версия', _case_after(before))} {reading}"
    return reading


# --- short dates: "15.09" → "15 сентября" (ru-normalizr then reads the day as an ordinal in the right case) --

_MONTHS = ("января февраля марта апреля мая июня июля августа сентября октября ноября декабря").split()
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
    case = _case_after(before)
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


# --- comparisons: x > 5, a != b ------------------------------------------------------------------------------------

# Spaced between two operands on one line only, so "<div>", a quote's ">" and "->" are left alone. A whole number that ends the
# comparison takes the case of the sign's word ("больше пяти", "равно нулю"); one with a unit or a noun after it
# ("= 5 минут", "> 5%") and anything else is left to the later rules and ru-normalizr.
_COMPARISON_WORDS = {">=": "больше или равно", "≥": "больше или равно", "<=": "меньше или равно",
                     "≤": "меньше или равно", "!=": "не равно", "≠": "не равно", "==": "равно", "=": "равно",
                     ">": "больше", "<": "меньше"}
_COMPARISON_END = r"(?=[.,;!?)]*(?:\s*$|\s+(?:и|или|а|но|то|тогда)\b)|[.,;!?)]+\s)"
_COMPARISON = re.compile(rf"(?<=[\w)]|{PLACEHOLDER})[ \t\u00a0\u202f]+(>=|<=|!=|==|[<>=≤≥≠])[ \t\u00a0\u202f]+"
                         rf"(?:(\d+){_COMPARISON_END}|(?=[\w(-]|{PLACEHOLDER}))")


def _comparison(match: re.Match, shelf: Shelf) -> str:
    words = _COMPARISON_WORDS[match.group(1)]
    if match.group(2) is None:
        return f" {words} "
    number = cardinal(int(match.group(2)), "datv" if words.endswith("равно") else "gent")
    return f" {words} {shelf.put(number)}"


# --- powers, the minus sign, code words in capitals ----------------------------------------------------------------

# A power of a variable, a number or a bracket: "x²", "(a + b)²", "x^2" → "в квадрате", "a³" → "в кубе",
# "10⁶", "2^10", "x⁻¹", "e^x" → "в степени шесть / десять / минус один / икс". A Cyrillic base is a unit ("м²"),
# which ru-normalizr reads itself ("квадратных метров").
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_POWER = re.compile(r"(?<=[A-Za-z0-9)\u0370-\u03ff])(?:(?P<sup>⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+)|\^(?P<paren>[({])?(?P<exp>-?\d+|[A-Za-z])"
                    r"(?(paren)[)}]))(?![\w⁰¹²³⁴⁵⁶⁷⁸⁹])")


def _power(match: re.Match, shelf: Shelf) -> str:
    exponent = match.group("sup").translate(_SUPERSCRIPTS) if match.group("sup") else match.group("exp")
    if exponent in ("2", "3"):
        return " " + shelf.put("в квадрате" if exponent == "2" else "в кубе")
    if re.fullmatch(r"-?\d+", exponent):
        sign = "минус " if exponent.startswith("-") else ""
        return " " + shelf.put(f"в степени {sign}{cardinal(int(exponent.lstrip('-')))}")
    return f" в степени {exponent}"  # a letter: spelled later like any other


# A one-letter function of its arguments: "f(x)", "C(n, k)", "O(n²)" → "эф от икс", "о от эн в квадрате".
_FUNCTION = re.compile(r"(?<![\w.])([A-Za-z])\(([^()\n]{1,30})\)")

# "+" and "−" (U+2212) spaced between two operands (shortcuts such as "Ctrl + C" are read before): "плюс", "минус".
# A hyphen or a dash there is left alone (it is prose). ru-normalizr reads "a + b" too, but not next to a reading
# already hidden on the shelf ("x² + y²").
_PLUS_MINUS = re.compile(rf"(?<=[\w)]|{PLACEHOLDER})[ \t\u00a0\u202f]+([+−])[ \t\u00a0\u202f]+(?=[\w(]|{PLACEHOLDER})")

# ru-normalizr spells any capitalized Latin word of up to five letters ("WHERE" → "дабл-ю эйч и ар и"). Code words
# in capitals are words: one of four or five letters that the English dictionary knows (eng_to_ipa, ru-normalizr's
# own transliterator) is lowered and read as a word ("WHERE", "NULL", "FALSE", "NASA"). Shorter ones are too often
# acronyms that are also words ("IT", "US", "ID") and stay spelled unless the lexicon names them.
_CAPS_WORD = re.compile(r"(?<![\w+#.-])[A-Z]{4,5}(?![\w+#])")


def _caps_word(match: re.Match) -> str:
    import eng_to_ipa

    word = match.group(0).lower()
    return match.group(0) if "*" in eng_to_ipa.convert(word) else word


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
_UNIT = re.compile(rf"{_SPACE}?(?:{'|'.join(f'(?P<u{i}>{p})' for i, (p, _) in enumerate(_UNITS))})(?![\w])")
# A whole number, or 1,5 ("полтора"), that no digit, sign or letter touches: not "3.12", "10:30", "−5", "3-м", "A4".
_NUMBER = re.compile(rf"(?<![\w.,:/+−\-–])(?:(?P<half>1[,.]5)(?![\d.,])|(?P<n>{_INT})(?![\w]|[.,:/]\d|-\w))")
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
        if not _is_adjective(match.group(1)):
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
    n = 2 if half else _int(match.group("n"))  # 1,5 takes the noun the way 2 does ("полтора часа")
    before = governing_word(text, match.start())
    unit = _UNIT.match(text, match.end())
    if unit and not half:
        lemma = _unit_lemma(unit)
        case = _case_after(before)
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
            n, case = _int(match.group("n")), _case_after(previous_word(text, match.start()), partner.case)
            words = ordinal(n, case, partner.gender) if partner.ordinal else cardinal(n, case, partner.gender)
            reading = partner._replace(start=match.start(), end=match.end(), words=words, case=case)
        if reading:
            readings[index] = reading
    for reading in sorted(readings.values(), key=lambda r: r.start, reverse=True):
        text = text[:reading.start] + shelf.put(reading.words) + text[reading.end:]
    return text


# --- labels: "урок 7", "на стр. 15", "Excel 2019" ----------------------------------------------------------

_LABEL = re.compile(rf"(?P<word>(?<![\w.])[а-яёА-ЯЁ]+\.?|{PLACEHOLDER}|[A-Za-z][\w+#-]*)(?P<space>{_SPACE}*)"
                    rf"(?P<n>{_INT})(?![\w]|[.,:/]\d|-\w)")
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
    word, number = match.group("word"), _int(match.group("n"))
    if _unit_follows(match.string, match.end()):
        return match.group(0)
    abbreviation = word.endswith(".") and word[:-1].lower() in _LABEL_ABBREVIATIONS
    if abbreviation:
        before = previous_word(match.string, match.start())
        case = ("loct" if before in ("в", "во", "на", "о", "об", "при")
                else "accs" if _takes_object(before) or _SEE_BEFORE.search(match.string[:match.start()])
                else _case_after(before))
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


# --- the whole set ------------------------------------------------------------------------------------------------

def apply(text: str, shelf: Shelf) -> str:
    """All course rules in order: addresses first (they hold dots and digits the other rules would take)."""
    text = _URL.sub(_url, text)
    text = _EMAIL.sub(lambda m: _address_reading(m.group(0)), text)
    text = _SHORTCUT.sub(_shortcut, text)
    text = _FLAG.sub(_flag, text)
    text = _PATH.sub(_path, text)
    text = _DOTTED.sub(_dotted, text)
    text = _VERSION.sub(lambda m: _shelve(_version(m), m, shelf), text)
    text = _SHORT_DATE.sub(_short_date, text)
    text = _COLON.sub(lambda m: _shelve(_colon(m), m, shelf), text)
    text = _SIZE.sub(lambda m: _shelve(_size(m), m, shelf), text)  # before comparisons: it looks for "="
    text = _FUNCTION.sub(r"\1 от \2", text)
    text = _POWER.sub(lambda m: _power(m, shelf), text)  # before comparisons: "x² = 4" compares "x в квадрате"
    text = _PLUS_MINUS.sub(lambda m: " плюс " if m.group(1) == "+" else " минус ", text)
    text = _COMPARISON.sub(lambda m: _comparison(m, shelf), text)
    text = _ABOUT.sub("около", text)
    text = counted_numbers(text, shelf)
    text = _CAPS_WORD.sub(_caps_word, text)
    return _LABEL.sub(lambda m: _label(m, shelf), text)


def _shelve(reading: str, match: re.Match, shelf: Shelf) -> str:
    return reading if reading == match.group(0) else shelf.put(reading)


_EUPHONY = re.compile(r"(?<![\w+])(?:([кКвВ])(\s+)(?=втор)|([сС])(\s+)(?=втор|ст[оа]\b))")


def euphony(text: str) -> str:
    """"к второму" → "ко второму", "с ста" → "со ста": the vowel a preposition takes before a spelled number."""
    def add_vowel(match: re.Match) -> str:
        letter, space = match.group(1) or match.group(3), match.group(2) or match.group(4)
        return letter + ("о" if letter.islower() else "О") + space

    return _EUPHONY.sub(add_vowel, text)


# Roman numerals made of I, V and X ("глава IV", "XXI век") are left to ru-normalizr, which reads them as ordinals.
_ACRONYM = re.compile(r"(?<![\w+#.°-])(?![IVX]+\b)(?:[A-Z]{2,4}|[b-df-hj-np-tv-xz]{1,5}|[A-Za-z])(?![\w+#])")


def spell_letters(text: str, shelf: Shelf) -> str:
    """Latin acronyms and vowel-less names the lexicon does not know, letter by letter: "npm" → "эн-пи-эм"."""
    return _ACRONYM.sub(lambda m: shelf.put("-".join(LETTER_NAMES[c] for c in m.group(0).lower())), text)
