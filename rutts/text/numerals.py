"""Russian number words in the case and gender a sentence needs (part of the text front end, see rutts/text.py).

num2words gives the nominative ("двести пятьдесят"); pymorphy3 inflects each word ("двухсот пятидесяти") and finds
the case a counted noun is in ("минуту" → accusative, "ошибках" → prepositional), so "о 5 ошибках" reads
"о пяти ошибках" and "21 минуту" reads "двадцать одну минуту".
"""
from __future__ import annotations

from functools import lru_cache

CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
# Words that head a group of thousands: nouns, they take the case and number themselves ("двух тысяч").
_SCALE_NOUNS = {"тысяча", "тысячи", "тысяч", "миллион", "миллиона", "миллионов", "миллиард", "миллиарда", "миллиардов"}

# Case a preposition (or a word acting like one) gives a number after it, the likeliest first.
PREPOSITION_CASES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("от", "до", "из", "изо", "без", "для", "около", "ок.", "вокруг", "возле", "после", "кроме",
                     "вместо", "среди", "у", "из-за", "из-под", "свыше", "более", "менее", "больше", "меньше",
                     "порядка", "нет", "течение", "размере", "количестве", "пределах", "районе", "ради"), ("gent",)),
    **dict.fromkeys(("к", "ко", "благодаря", "согласно"), ("datv",)),
    **dict.fromkeys(("через", "про", "сквозь"), ("accs",)),
    **dict.fromkeys(("о", "об", "обо", "при"), ("loct",)),
    **dict.fromkeys(("над", "перед", "между", "под"), ("ablt", "accs")),
    "с": ("gent", "ablt"),
    "со": ("gent", "ablt"),
    "в": ("accs", "loct"),
    "во": ("accs", "loct"),
    "на": ("accs", "loct"),
    "за": ("accs", "ablt"),
    "по": ("accs", "datv"),
}


@lru_cache(maxsize=1)
def morph():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=20000)
def parses(word: str) -> tuple:
    return tuple(morph().parse(word.lower()))


def _inflect_numeral(word: str, case: str, gender: str, animate: bool) -> str:
    """One number word in a case: "двести" → "двумстам"; "один" and "два" also take the gender."""
    if case == "nomn" and gender == "masc":
        return word
    for parse in parses(word):
        tag = parse.tag
        if "NUMR" in tag or "Anum" in tag:
            grammemes = {case}
            if word in ("один", "одна", "одно") or (word in ("два", "две") and case in ("nomn", "accs")):
                grammemes.add(gender)
            if word in ("один", "одна", "одно"):
                grammemes.add("sing")
            if case == "accs" and word in ("один", "два", "три", "четыре") and gender != "femn":
                grammemes.add("anim" if animate else "inan")
                if animate and word != "один":
                    grammemes.discard(gender)
            form = parse.inflect(grammemes)
            return form.word if form else word
    return word


def _inflect_scale(word: str, case: str, count_word: str | None) -> str:
    """"тысяча"/"миллион" after its own count: plural in oblique cases unless the count ends in one."""
    if case in ("nomn", "accs"):
        if case == "accs" and word == "тысяча":
            return "тысячу"
        return word
    noun = next(p for p in parses(word) if "NOUN" in p.tag)
    number = "sing" if count_word in (None, "один", "одна") else "plur"
    form = noun.inflect({case, number})
    return form.word if form else word


_ZERO = {"gent": "нуля", "datv": "нулю", "ablt": "нулём", "loct": "нуле"}


@lru_cache(maxsize=4096)
def cardinal(n: int, case: str = "nomn", gender: str = "masc", animate: bool = False) -> str:
    """A whole number in words: cardinal(21, "accs", "femn") → "двадцать одну"; 1000–1999 read "тысяча …"."""
    from num2words import num2words

    if n == 0:  # a noun, not a numeral: "больше нуля", "равно нулю"
        return _ZERO.get(case, "ноль")
    words = num2words(n, lang="ru").split()
    if len(words) > 1 and words[0] in ("одна", "один") and words[1] in _SCALE_NOUNS:
        words = words[1:]
    result, previous = [], None
    last_numeral = len(words) - 1 if words[-1] not in _SCALE_NOUNS else None
    # an animate noun changes the accusative of "один" and of a lone "два"–"четыре" ("двух студентов"), not of
    # "двадцать два студента"
    animate = animate and (n % 10 == 1 or len(words) == 1)
    for index, word in enumerate(words):
        if word in _SCALE_NOUNS:
            result.append(_inflect_scale(word, case, previous))
        else:
            # only the last word agrees with the noun; "одна"/"две" before "тысячи" are already feminine
            word_gender = gender if index == last_numeral else ("femn" if word in ("одна", "две") else "masc")
            result.append(_inflect_numeral(word, case, word_gender, animate and index == last_numeral))
        previous = word
    return " ".join(result)


@lru_cache(maxsize=4096)
def ordinal(n: int, case: str = "nomn", gender: str = "masc") -> str:
    """An ordinal for a singular noun: ordinal(3, "gent") → "третьего", ordinal(21, "datv", "femn") → "двадцать первой"."""
    from num2words import num2words

    *head, last = num2words(n, lang="ru", to="ordinal").split()
    grammemes = {case, "sing", gender} | ({"inan"} if case == "accs" and gender == "masc" else set())
    adjective = next((p for p in parses(last) if "ADJF" in p.tag), None)
    form = adjective.inflect(grammemes) if adjective else None
    return " ".join(head + [form.word if form else last])


def singular_cases(word: str) -> tuple[set[str], str]:
    """The cases a singular noun form can be in, and its gender: "уроку" → ({"datv"}, "masc")."""
    nouns = _nouns(word)
    lemma = nouns[0].normal_form if nouns else None
    cases = {str(p.tag.case) for p in nouns if p.normal_form == lemma and p.tag.number == "sing" and p.tag.case}
    cases = {{"loc2": "loct", "gen2": "gent"}.get(c, c) for c in cases} & set(CASES)
    gender = str(nouns[0].tag.gender) if nouns and nouns[0].tag.gender else "masc"
    return cases, gender if gender in ("masc", "femn", "neut") else "masc"


def one_and_half(case: str, gender: str) -> str:
    """1,5 with a noun: "полтора часа", "полторы минуты", "полутора часов"."""
    if case in ("nomn", "accs"):
        return "полторы" if gender == "femn" else "полтора"
    return "полутора"


def count_class(n: int) -> str:
    """"one" (1, 21, 101), "few" (2–4, 22–24), "many" (5–20, 25–30, …): what the noun after n looks like."""
    if n % 10 == 1 and n % 100 != 11:
        return "one"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return "few"
    return "many"


# Readings of a word that a count does not go with: informal forms, abbreviations, names ("мая" as a place).
_RARE = {"Infr", "Abbr", "Geox", "Name", "Surn", "Patr", "Orgn"}


def _nouns(word: str) -> list:
    """Noun readings of a word, common ones only; things before people ("главу": a chapter, not a head)."""
    nouns = [p for p in parses(word) if "NOUN" in p.tag and not _RARE & set(p.tag.grammemes)]
    return sorted(nouns, key=lambda p: "inan" not in p.tag)


def noun_cases(n: int, word: str) -> tuple[set[str], str, bool] | None:
    """The cases n can be in before this noun form, the noun's gender and animacy; None if `word` is no noun
    that n counts ("5 мая", "в 2024 году": a date or an ordinal, not a count)."""
    nouns = _nouns(word)
    if not nouns:
        return None
    kind, lemma = count_class(n), nouns[0].normal_form
    cases: set[str] = set()
    for parse in nouns:
        case, number = parse.tag.case, parse.tag.number
        if parse.normal_form != lemma or case not in CASES:
            continue
        if kind == "one":
            if number == "sing" and case != "loct":  # "в 1 файле" is rare, "в 1 классе" reads "в первом"
                cases.add(case)
        elif case == "gent" and number == ("sing" if kind == "few" else "plur"):
            cases |= {"nomn", "accs"} | ({"gent"} if kind == "many" else set())
        elif number == "plur" and (case in ("gent", "datv", "ablt", "loct") or kind == "few"):
            cases.add(case)  # "о пяти ошибках"; "две новые функции": a plural noun after a plural adjective
    if not cases:
        return None
    gender = str(nouns[0].tag.gender) if nouns[0].tag.gender else "masc"
    return cases, (gender if gender in ("masc", "femn", "neut") else "masc"), "anim" in nouns[0].tag


def unit_form(lemma: str, n: int, case: str) -> str:
    """A unit noun counted by n in a case: ("рубль", 250, "nomn") → "рублей", ("гигабайт", 5, …) → "гигабайт"."""
    noun = next(p for p in parses(lemma) if "NOUN" in p.tag and p.tag.case == "nomn")
    kind = count_class(n)
    if case in ("nomn", "accs"):
        if kind == "one":
            form = noun.inflect({case, "sing"})
        elif kind == "few":
            form = noun.inflect({"gent", "sing"})
        else:
            form = noun.inflect({"gent", "plur", "Coun"}) or noun.inflect({"gent", "plur"})
    else:
        form = noun.inflect({case, "sing" if kind == "one" else "plur"})
    return form.word if form else lemma


def noun_gender(lemma: str) -> str:
    """"минута" → "femn"; masculine when pymorphy3 does not say."""
    noun = next((p for p in parses(lemma) if "NOUN" in p.tag), None)
    gender = str(noun.tag.gender) if noun and noun.tag.gender else "masc"
    return gender if gender in ("masc", "femn", "neut") else "masc"


def noun_form(lemma: str, case: str) -> str:
    """A noun in the singular of a case: ("страница", "loct") → "странице"."""
    noun = next((p for p in parses(lemma) if "NOUN" in p.tag and p.tag.case == "nomn"), None)
    form = noun.inflect({case, "sing"}) if noun else None
    return form.word if form else lemma
