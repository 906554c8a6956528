"""Course rules for code and addresses (see rutts/text/course_rules.py for the order they run in):
URLs, e-mail, file names and paths, shortcuts and flags, code operators, comparisons, powers and one-letter
functions, code words in capitals, and acronyms spelled letter by letter (Latin and Cyrillic)."""
from __future__ import annotations

import logging
import re

from rutts.text.numerals import cardinal
from rutts.text.shelf import PLACEHOLDER, Shelf
from rutts.text.words import LETTER_NAMES, letter_name, number_reading

log = logging.getLogger(__name__)

# --- URLs, e-mail, dotted names --------------------------------------------------------------------------------

_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>«»\"]+")
_EMAIL = re.compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b")
_DOTTED = re.compile(r"(?<![\w@/.])(?:[A-Za-z_][\w-]*)?(?:\.[A-Za-z_][\w-]*)+(?:/[\w.~%-]*)*(?:\(\))?(?![\w])")


def _address_reading(address: str) -> str:
    """Dots, slashes, hyphens and @ as a narrator says them; digits as numbers; Latin words stay for later."""
    words = []
    for piece in re.findall(r"[^\W\d_]+|\d+|[./\\:@_-]", address):
        if piece.isdigit():
            words.append(number_reading(piece))
        else:
            words.append({".": "точка", "/": "слэш", "\\": "обратный слэш", ":": "двоеточие", "@": "собака",
                          "-": "дефис", "_": ""}.get(piece, letter_name(piece)))
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
    return " плюс ".join(letter_name(k.strip()) for k in match.group(0).split("+"))


def _flag(match: re.Match) -> str:
    dashes, name = match.group(1), match.group(2)
    if dashes == "-" and name.isalpha() and len(name) <= 4:  # "-la" is "-l -a": letters, not a word
        name = "-".join(letter_name(c) for c in name)
    return " ".join(["минус"] * len(dashes) + [name])


# --- code operators: x += 1, i++, a -> b, list[0], 7 // 2, 2 ** 10 ----------------------------------------------

# Language names written with symbols, in Latin or Cyrillic letters ("С++" with a Cyrillic С): made Latin before
# the stress marks are checked (a "+" there is no stress mark), then read by the lexicon ("си плюс плюс").
_LANGUAGE = re.compile(r"(?<![\w+#])([СCcФFf])(\+\+|#)(?![\w+#])")


def latin_language_names(text: str) -> str:
    return _LANGUAGE.sub(lambda m: {"С": "C", "Ф": "F"}.get(m.group(1), m.group(1)) + m.group(2), text)


_OPERAND_BEFORE = rf"(?<=[\w)\]]|{PLACEHOLDER})"
_OPERAND_AFTER = rf"(?=[\w(\-]|{PLACEHOLDER})"
_ASSIGNMENT = re.compile(rf"{_OPERAND_BEFORE}\s*(\+=|-=|\*=|/=)\s*{_OPERAND_AFTER}")
_ASSIGNMENT_WORDS = {"+=": "плюс равно", "-=": "минус равно", "*=": "умножить равно", "/=": "делить равно"}
_GLUED_COMPARISON = re.compile(r"(?<=[\w)\]])(===|!==|==|!=|<=|>=)(?=[\w(])")  # "a==b": spaced for the rule below
_INCREMENT = re.compile(r"(?<=[A-Za-z_\d)\]])(\+\+|--)(?![\w+-])|(?<![\w+])\+\+(?=[A-Za-z_])")
_ARROW = re.compile(r"(?<![-=<>!])\s*(?:->|=>)(?![>=])\s*")
_INDEX = re.compile(r"(?<=[A-Za-z_\d)\]])\[([A-Za-z_]\w*|-?\d+)\]")
_FLOOR_DIVISION = re.compile(rf"(?<=[A-Za-z_\d)\]]|{PLACEHOLDER})\s+//\s+(?=[A-Za-z_\d(]|{PLACEHOLDER})")
_POWER_OPERATOR = re.compile(r"(?<=[A-Za-z0-9)])\s*\*\*\s*(?:(?=-?\d+\b|[A-Za-z]\b)|(?P<bracket>(?=\()))")
# An operator named on its own ("операторы += и -="); "--" alone is a dash in prose and stays one.
_NAMED = {"+=": "плюс равно", "-=": "минус равно", "*=": "умножить равно", "/=": "делить равно",
          "===": "тройное равно", "!==": "строго не равно", "==": "двойное равно", "!=": "не равно",
          "<=": "меньше или равно", ">=": "больше или равно", "++": "плюс плюс", "//": "двойной слэш",
          "**": "двойная звёздочка"}
_ALONE = re.compile(rf"(?<!\S)({'|'.join(re.escape(o) for o in sorted(_NAMED, key=len, reverse=True))})(?!\S)")
# A "+" before no Russian vowel is no stress mark (those were checked before): a plus sign ("+7", "x+ 1", "знак +").
_PLUS_SIGN = re.compile(r"(?<!\+)\+(?![+аеёиоуыэюяАЕЁИОУЫЭЮЯ])")
_LEFTOVER = re.compile(r"\+=|-=|\*=|/=|==|!=|<=|>=|->|=>|\+\+|//|>>|<<|(?<=\w)\[[^\]\n]*\]|(?<=\w)--|--(?=\w)"
                       r"|(?<=[A-Za-z0-9)])\s*\*\*\s*(?=[A-Za-z0-9(])")  # "**" around a word is Markdown bold


def code_operators(text: str) -> str:
    """Assignments, increments, arrows, indexes, floor division; "**" becomes "^" for the power rule."""
    text = _ASSIGNMENT.sub(lambda m: f" {_ASSIGNMENT_WORDS[m.group(1)]} ", text)
    text = _GLUED_COMPARISON.sub(r" \1 ", text)
    text = _INCREMENT.sub(lambda m: " минус минус" if m.group(1) == "--" else
                          " плюс плюс" if m.group(1) else "плюс плюс ", text)
    text = _ARROW.sub(" стрелка ", text)
    text = _INDEX.sub(r" индекс \1", text)
    text = _FLOOR_DIVISION.sub(" делить нацело на ", text)
    # "2 ** 10" is "2^10" for the power rule; "x ** (n + 1)": "в степени" and the bracket as it is
    return _POWER_OPERATOR.sub(lambda m: " в степени " if m.group("bracket") is not None else "^", text)


def named_operators(text: str, shelf: Shelf) -> str:
    """Operators standing on their own get their names, a lone "+" is "плюс"; any operator still unread is warned
    about with its line (the later steps would drop its symbols)."""
    text = _PLUS_SIGN.sub(" плюс ", _ALONE.sub(lambda m: _NAMED[m.group(1)], text))
    for line in text.splitlines():
        found = sorted({"[]" if m.group(0).startswith("[") else m.group(0).strip() for m in _LEFTOVER.finditer(line)})
        if found:
            log.warning("не прочитаны знаки кода %s в строке «%s»: они будут пропущены; напишите их словами "
                        "или добавьте в lexicon.txt", " ".join(found), shelf.restore(line).strip()[:80])
    return text


# --- comparisons: x > 5, a != b ------------------------------------------------------------------------------------

# Spaced between two operands on one line only, so "<div>", a quote's ">" and "->" are left alone. A whole number that ends the
# comparison takes the case of the sign's word ("больше пяти", "равно нулю"); one with a unit or a noun after it
# ("= 5 минут", "> 5%") and anything else is left to the later rules and ru-normalizr.
_COMPARISON_WORDS = {"===": "строго равно", "!==": "строго не равно", ">=": "больше или равно", "≥": "больше или равно", "<=": "меньше или равно",
                     "≤": "меньше или равно", "!=": "не равно", "≠": "не равно", "==": "равно", "=": "равно",
                     ">": "больше", "<": "меньше"}
_COMPARISON_END = r"(?=[.,;!?)]*(?:\s*$|\s+(?:и|или|а|но|то|тогда)\b)|[.,;!?)]+\s)"
_COMPARISON = re.compile(rf"(?<=[\w)]|{PLACEHOLDER})[ \t\u00a0\u202f]+(===|!==|>=|<=|!=|==|[<>=≤≥≠])[ \t\u00a0\u202f]+"
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


# Roman numerals made of I, V and X ("глава IV", "XXI век") are left to ru-normalizr, which reads them as ordinals.
_ACRONYM = re.compile(r"(?<![\w+#.°-])(?![IVX]+\b)(?:[A-Z]{2,4}|[b-df-hj-np-tv-xz]{1,5}|[A-Za-z])(?![\w+#])")


def spell_letters(text: str, shelf: Shelf) -> str:
    """Latin acronyms and vowel-less names the lexicon does not know, letter by letter: "npm" → "эн-пи-эм"."""
    return _ACRONYM.sub(lambda m: shelf.put("-".join(LETTER_NAMES[c] for c in m.group(0).lower())), text)


def addresses(text: str) -> str:
    """URLs, e-mail, shortcuts, flags, paths and dotted names, as a narrator says them."""
    text = _URL.sub(_url, text)
    text = _EMAIL.sub(lambda m: _address_reading(m.group(0)), text)
    text = _SHORTCUT.sub(_shortcut, text)
    text = _FLAG.sub(_flag, text)
    text = _PATH.sub(_path, text)
    return _DOTTED.sub(_dotted, text)


def formulas(text: str, shelf: Shelf) -> str:
    """Code operators, one-letter functions, powers, spaced plus and minus, comparisons, operators named alone."""
    text = code_operators(text)
    text = _FUNCTION.sub(r"\1 от \2", text)
    text = _POWER.sub(lambda m: _power(m, shelf), text)
    text = _PLUS_MINUS.sub(lambda m: " плюс " if m.group(1) == "+" else " минус ", text)
    text = _COMPARISON.sub(lambda m: _comparison(m, shelf), text)
    return named_operators(text, shelf)


def caps_words(text: str) -> str:
    return _CAPS_WORD.sub(_caps_word, text)


# --- Cyrillic abbreviations: ЕГЭ → е-гэ-э, ЖКХ → жэ-ка-ха; вуз, МИД, ГОСТ are words ----------------------------------

# Said letter by letter though they hold vowels (without the list ru-normalizr reads "ЕГЭ" as the word "егэ").
SPELLED_ABBREVIATIONS = {"ЕГЭ", "ОГЭ", "ГИА", "ВПР", "МГУ", "ЕС", "ОАЭ", "ООО", "ОАО", "ЗАО", "ПАО", "АО", "ИП",
                         "ИНН", "ОС", "ПО", "ИИ", "ЭВМ", "АЭС", "УК", "ЕГРН"}
# Read as words (lowered, so no later step spells them).
WORD_ABBREVIATIONS = {"ВУЗ", "МИД", "ГОСТ", "НАТО", "ООН", "ГУМ", "ЦУМ", "ЗАГС", "ОМОН", "ТАСС", "ФИО", "МХАТ",
                      "ГЭС", "ТЭЦ", "ЖЭК", "ЧАЭС", "СИЗО"}
_CYRILLIC_NAMES = "а бэ вэ гэ дэ е ё жэ зэ и й ка эл эм эн о пэ эр эс тэ у эф ха цэ чэ ша ща ы э ю я"
_CYRILLIC_LETTERS = dict(zip("абвгдеёжзийклмнопрстуфхцчшщыэюя", _CYRILLIC_NAMES.split()))
_CYRILLIC_CAPS = re.compile(r"(?<![\w+-])[А-ЯЁ][А-ЯЁб]{1,4}(?![\w+])")


def _spelled(word: str) -> str:
    """Letter names joined by hyphens, the last one stressed: "е-гэ-+э", "жэ-ка-х+а"."""
    names = [_CYRILLIC_LETTERS[c] for c in word.lower()]
    names[-1] = re.sub(r"(?=[аеёиоуыэюя])", "+", names[-1], count=1)
    return "-".join(names)


def cyrillic_abbreviations(text: str, shelf: Shelf) -> str:
    """Capital abbreviations of the list, and those without a vowel, spelled; the word list lowered."""
    def read(match: re.Match) -> str:
        word = match.group(0)
        if word in WORD_ABBREVIATIONS:
            return word.lower()
        if word in SPELLED_ABBREVIATIONS or not re.search("[АЕЁИОУЫЭЮЯ]", word):
            return shelf.put(_spelled(word))
        return word

    return _CYRILLIC_CAPS.sub(read, text)
