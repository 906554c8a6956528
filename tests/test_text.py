"""The Russian front end: course-style reading cases, stress marks, lexicon, alphabet, sentence splitting."""
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rutts.text import (CHARACTERS, PUNCTUATIONS, STRESS, VOWELS, FrontEnd, TextError, normalize, read_lexicon,
                        split_sentences)

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).parent / "data" / "normalization_cases.tsv"


def plain(text: str) -> str:
    """What is said: lowercase words, no punctuation or stress marks; "эс-кью-эль" = "эс кью эль", "ё" = "е"."""
    text = text.replace(STRESS, "").replace("-", " ").lower().replace("ё", "е")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def reading_cases():
    for line in CASES.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        source, expected, *reason = line.split("\t") + [""] * (line.count("\t") < 1)  # malformed: see below
        marks = [pytest.mark.xfail(strict=True, reason=reason[0])] if reason else []
        yield pytest.param(source, expected, marks=marks, id=source[:40])


def test_case_list_is_large_and_covers_every_kind():
    lines = CASES.read_text(encoding="utf-8").splitlines()
    sections = [line for previous, line in zip(lines, lines[1:]) if previous == "#" and line.startswith("# ")]
    cases = [line for line in lines if line.strip() and not line.startswith("#")]
    assert len(cases) >= 80 and len(sections) >= 8
    assert all(len(line.split("\t")) in (2, 3) for line in cases)


@pytest.mark.parametrize(("source", "expected"), list(reading_cases()))
def test_course_line_is_read_as_a_narrator_reads_it(front_end, source, expected):
    assert plain(front_end.normalize(source)) == plain(expected)


def test_label_rules_match_whole_words_only(front_end):
    # "примерно" starts like the label word "пример": the number still agrees with "минуты" or is a decimal
    assert plain(front_end.normalize("Это займёт примерно 2 минуты.")) == "это займет примерно две минуты"
    assert plain(front_end.normalize("Примерно 2.5 часа.")) == "примерно две целых пять десятых часа"
    assert plain(front_end.normalize("Пример 2.5 и примера 2.")) == "пример два точка пять и примера два"


def test_the_same_colon_number_reads_by_context(front_end):
    assert plain(front_end.normalize("Встреча в 3:15.")) == "встреча в три часа пятнадцать минут"
    assert plain(front_end.normalize("Посмотрите на 3:15 в видео.")) == (
        "посмотрите на три минуты пятнадцать секунд в видео")
    assert plain(front_end.normalize("Перейдите на 3:15.")) == "перейдите на три минуты пятнадцать секунд"
    assert plain(front_end.normalize("Встреча на 15:00.")) == "встреча на пятнадцать часов"
    assert plain(front_end.normalize("Счёт 3:1.")) == "счет три один"
    assert plain(front_end.normalize("Пропорция 3:1.")) == "пропорция три к одному"


def test_one_vowel_words_stay_unstressed(front_end):
    out = front_end.process("В 2024 г. курс «Python для всех» прошли 150 человек — т. е. много!")
    assert set(out) <= set(CHARACTERS + PUNCTUATIONS) and out == out.lower()
    assert "п+айтон" in out  # from the built-in lexicon
    words = re.findall(r"[\w+]+", out)
    one_vowel = [w for w in words if sum(w.count(v) for v in VOWELS) == 1]
    assert {"две", "курс", "для", "всех", "то"} <= {w.replace(STRESS, "") for w in one_vowel}
    assert not [w for w in one_vowel if STRESS in w]
    assert all(STRESS in w for w in words if sum(w.count(v) for v in VOWELS) > 1)


def test_yo_is_restored(front_end):
    assert "ё" in front_end.process("Все ее елки зеленые")


def test_hand_written_stress_wins(front_end):
    assert "з+амок" in front_end.process("Старый з+амок.")
    assert "зам+ок" in front_end.process("Дверной замо\u0301к.")


@pytest.mark.parametrize(("text", "word", "expected"), [
    ("Нажмите +кнопку.", "+кнопку", "нажм+ите кн+опку."),
    ("Красивый город+.", "город+", "крас+ивый г+ород."),
    ("Выберите св+ет и +мол+око.", "+мол+око", "в+ыберите св+ет и мол+око."),
])
def test_stress_mark_before_no_vowel_is_dropped_with_a_warning(front_end, caplog, text, word, expected):
    with caplog.at_level(logging.WARNING, logger="rutts.text"):
        out = front_end.process(text)
    assert out == expected
    warnings = [r.getMessage() for r in caplog.records if "знак ударения" in r.getMessage()]
    assert len(warnings) == 1 and f"«{word}»" in warnings[0]


def test_plus_signs_that_are_no_stress_marks_are_read(front_end, caplog):
    with caplog.at_level(logging.WARNING, logger="rutts.text"):
        out = plain(front_end.normalize("Это C++, а шорткат Ctrl+Z, и 2+2."))
    assert out == "это си плюс плюс а шорткат контрол плюс зет и два плюс два"
    assert "знак ударения" not in caplog.text


def test_user_lexicon_beats_built_in_readings_and_course_rules(tmp_path):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("# курс\nPython → п+итон\nPython 3.12 → п+итон тр+и-дв+енадцать\nурок 5 → ур+ок п+ятый\n"
                       "Kubernetes -> куберн+етис\n", encoding="utf-8")
    user = FrontEnd(lexicon, stress=False)
    built_in = FrontEnd(stress=False)
    line = "Python 3.12 и Python 3.11, урок 5 и урок 6, Kubernetes."
    assert built_in.normalize(line) == (
        "п+айтон три точка двенадцать и п+айтон три точка одиннадцать, урок пять и урок шесть, кюбэрнэйтс.")
    assert user.normalize(line) == (
        "п+итон тр+и-дв+енадцать и п+итон три точка одиннадцать, ур+ок п+ятый и урок шесть, куберн+етис.")
    assert user.normalize("Python   3.12") == "п+итон тр+и-дв+енадцать"  # any spacing matches a multi-word key
    assert "п+итон" in user.process("Python и Kubernetes")
    assert user.signature != FrontEnd().signature


def test_lexicon_reading_is_said_as_written(tmp_path, caplog):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("Windows 11 → в+индоус од+иннадцать\nPython3 → п+айтон 3\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rutts.text"):
        front_end = FrontEnd(lexicon, stress=False)
    assert front_end.normalize("Windows 11 и Windows 10.") == "в+индоус од+иннадцать и в+индоус десять."
    assert "lexicon.txt:2" in caplog.text and "(3)" in caplog.text and "lexicon.txt:1" not in caplog.text


def test_lexicon_reading_is_hidden_from_the_normalizer(tmp_path):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("VK → ВКонтакте\n", encoding="utf-8")  # ru-normalizr alone reads "вэ каонтакте"
    assert FrontEnd(lexicon, stress=False).normalize("Группа в VK.") == "Группа в ВКонтакте."


def test_a_malformed_lexicon_line_is_skipped_with_a_warning_naming_it(tmp_path, caplog):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("Kotlin → к+отлин\nPython\na=b=c\n → нет слова\nJava -> дж+ава\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rutts.text"):
        assert read_lexicon(lexicon) == {"Kotlin": "к+отлин", "Java": "дж+ава"}
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3 and [f"lexicon.txt:{n}:" in w for n, w in zip((2, 3, 4), warned)] == [True] * 3
    assert all("\n" not in w for w in warned)


def test_lexicon_separators_are_unambiguous(tmp_path):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("== → р+авно р+авно\n!= = не р+авно\n->\tстр+елка\nx = 1\tикс р+авен един+ице\n"
                       "Python=п+итон\nKotlin -> к+отлин\n", encoding="utf-8")
    assert read_lexicon(lexicon) == {"==": "р+авно р+авно", "!=": "не р+авно", "->": "стр+елка",
                                     "x = 1": "икс р+авен един+ице", "Python": "п+итон", "Kotlin": "к+отлин"}
    front_end = FrontEnd(lexicon, stress=False)
    assert plain(front_end.normalize("Если a != b и x = 1, то a -> b.")) == \
        "если эй не равно би и икс равен единице то эй стрелка би"


def test_lexicon_keys_are_compared_after_one_fold_on_both_sides(tmp_path):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("\u00b5s\tмикросек+унда\nÄrger\t+эргер\n", encoding="utf-8")  # micro sign
    front_end = FrontEnd(lexicon, stress=False)
    assert plain(front_end.normalize("Задержка 5 \u03bcs, \u00b5s и \u039cS.")) == \
        "задержка пять микросекунда микросекунда и микросекунда"  # Greek mu, micro sign, capital Greek mu
    assert plain(front_end.normalize("A\u0308rger")) == "эргер"  # a combining diaeresis: NFC on both sides


ODD_KEYS = ["==", "!=", "->", "=>", "++", "--", "//", "**", "[i]", "😀", "👍🏽", "е\u0301", "й", "и\u0306",
            "\u00b5s", "μs", "ß", "İ", "ǅ", "ﬁ", "a|b", "(", ")", "\\", "^", "$", ".*", "?", "{1}", "\u0301",
            "\U00102000", "урок 5", "C++", "С++", "#", "@", "-", "+", "x²", "½", "\u200b", "\u00a0", "Ω", "Ω"]
ODD_READINGS = ["равно", "+", "1", "x", "\U00102000", "эй\U00102001", "😀", "а\u0301", "+++", "т+ест"]


def test_no_lexicon_makes_synthesis_raise_anything_but_a_text_error(tmp_path, caplog):
    lines = [f"{key}\t{ODD_READINGS[n % len(ODD_READINGS)]}" for n, key in enumerate(ODD_KEYS)]
    lines += [f"{key} → чт+ение" for key in ODD_KEYS] + [f"{key}" for key in ODD_KEYS[:10]] + ["\t", "=", "→"]
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("\n".join(lines) + "\n", encoding="utf-8")
    front_end = FrontEnd(lexicon)
    texts = [" ".join(ODD_KEYS), *ODD_KEYS, *(f"Слово {key} и {key.upper()}, {key.lower()}." for key in ODD_KEYS)]
    for text in texts:
        try:
            front_end.process(text)
        except TextError:
            pass


def test_lexicon_reading_with_a_misplaced_mark_is_warned_about(tmp_path, caplog):
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("Kotlin → к+отлн+\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="rutts.text"):
        assert read_lexicon(lexicon) == {"Kotlin": "к+отлн"}
    assert "lexicon.txt:1" in caplog.text and "«к+отлн+»" in caplog.text


def test_unknown_symbols_are_dropped_with_a_warning(front_end, caplog):
    out = front_end.process("Привет 😀 мир 你好")
    assert out == "прив+ет мир"
    assert "😀" in caplog.text


@pytest.mark.parametrize("text", ["", "   ", "😀😀", "!!!"])
def test_nothing_to_say_is_a_clear_error(front_end, text):
    with pytest.raises(TextError, match="Нечего произносить"):
        front_end.process(text)


def test_latin_without_lexicon_entry_is_transliterated(front_end):
    assert front_end.process("Откройте Blender") == "откр+ойте бл+эндэр"
    assert plain(normalize("Установите npm и VS")) == "установите эн пи эм и ви эс"  # no vowels: spelled


def test_sentence_split_keeps_abbreviations_initials_and_decimals():
    text = "Т. е. всё просто. А. С. Пушкин родился в 1799 г. в Москве. Число 3.14 — это пи! Правда? Ну и т. д. Конец."
    assert split_sentences(text) == [
        "Т. е. всё просто.", "А. С. Пушкин родился в 1799 г. в Москве.", "Число 3.14 — это пи!", "Правда?",
        "Ну и т. д.", "Конец.",
    ]


def test_command_line_prints_readings_and_stress_warnings():
    run = subprocess.run([sys.executable, "-m", "rutts.text", "--no-stress", "Урок 5 займёт 21 минуту. Город+."],
                         cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["урок пять займёт двадцать одну минуту.", "город."]
    assert "«Город+»" in run.stderr


def test_command_line_reports_a_missing_lexicon_in_one_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "rutts.text", "--lexicon", str(tmp_path / "нет.txt"), "Текст"],
                         cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [f"Ошибка: Файл словаря не найден: {tmp_path / 'нет.txt'}"]


def test_a_quote_mark_that_starts_a_line_is_not_a_comparison(front_end):
    assert plain(front_end.normalize("Конец абзаца\n> цитата")) == "конец абзаца цитата"
    assert plain(front_end.normalize("Конец абзаца > цитата")) == "конец абзаца больше цитата"


def test_ravno_keeps_the_stress_of_a_comparison(front_end):
    """The stress model says "р+авно" before a number; in "x = 5", "равно нулю" and "всё равно" it is "равн+о"."""
    assert "икс равн+о пят+и" in front_end.process("Если x = 5, выходим.")
    assert "уай не равн+о нул+ю" in front_end.process("Проверьте, что y != 0.")
    assert "икс равн+о д+есять" in front_end.process("Пусть x равно 10.")
    assert "р+авно как" in front_end.process("Это важно, равно как и порядок.")


@pytest.mark.parametrize(("line", "symbols"), [
    ("Поток: cin >> x; cout << x.", "<< >>"),
    ("Возьмите a[i + 1] и b[].", "[]"),
])
def test_a_code_operator_left_unread_is_warned_about_with_its_line(front_end, caplog, line, symbols):
    with caplog.at_level(logging.WARNING, logger="rutts.text"):
        front_end.normalize(f"Первая строка.\n{line}")
    (warning,) = [r.getMessage() for r in caplog.records if "знаки кода" in r.getMessage()]
    assert f"знаки кода {symbols} в строке «" in warning and line.split()[0] in warning and "Первая" not in warning


def test_markdown_bold_is_no_operator(front_end, caplog):
    with caplog.at_level(logging.WARNING, logger="rutts.text"):
        assert plain(front_end.normalize("Это **важно** знать.")) == "это важно знать"
    assert "знаки кода" not in caplog.text


def test_a_plus_sign_is_read_or_its_drop_is_said(front_end, caplog):
    from rutts.text.alphabet import to_alphabet

    assert plain(front_end.normalize("Сумма x+ 1 и знак +.")) == "сумма икс плюс один и знак плюс"
    with caplog.at_level(logging.WARNING, logger="rutts.text"):
        assert to_alphabet("икс+ один") == "икс один"
    assert "«+»" in caplog.text and "икс+" in caplog.text
