"""The recording script: coverage units, greedy selection that really covers more, her own texts, the CLI."""
import random

import pytest

import make_recording_script
from rutts.own_voice.script import (
    Candidate,
    choose,
    prepare_candidates,
    read_pool,
    read_texts,
    units,
    with_yo,
)

LESSON = """# Урок 7. Сводные таблицы

Сегодня мы построим сводную таблицу по продажам за 2024 год.
Выделите диапазон и откройте вкладку «Вставка».

```
=СУММ(A1:A10)
```

- Перетащите поле «Регион» в строки.
- Шаг второй: поле «Выручка» в значения.
"""


@pytest.fixture(scope="module")
def pool_candidates(front_end, tmp_path_factory):
    """The first 300 pool sentences through the real front end."""
    cache = tmp_path_factory.mktemp("cache") / "texts.json"
    candidates, _ = prepare_candidates([(t, "pool") for t in read_pool()[:300]], front_end, cache)
    return candidates


def test_units_letters_stress_and_pairs():
    assert units("м+ама мыла, рам+у.") == {
        "м": 4, "+а": 1, "а": 3, "ы": 1, "л": 1, "р": 1, "+у": 1,  # letters; a stressed vowel is its own unit
        "м+а": 1, "+ам": 1, "ма": 1, "мы": 1, "ыл": 1, "ла": 1, "ра": 1, "ам": 1, "м+у": 1,  # pairs in a word
        "а м": 1,  # across the space; none across the comma (a pause)
    }


def test_coverage_grows_with_minutes_and_fits_the_budget(pool_candidates):
    scripts = [choose(pool_candidates, minutes) for minutes in (0.5, 1, 2, 4)]
    coverage = [s.covered for s in scripts]
    assert coverage == sorted(coverage) and len(set(coverage)) == 4, coverage
    longest = max(c.seconds for c in pool_candidates)
    for minutes, script in zip((0.5, 1, 2, 4), scripts):
        assert minutes * 60 - longest <= script.seconds <= minutes * 60
    assert scripts[0].possible == scripts[-1].possible > scripts[-1].covered


def test_greedy_covers_more_than_random_sentences_of_the_same_length(pool_candidates):
    script = choose(pool_candidates, 2)
    rng = random.Random(0)
    random_covered = []
    for _ in range(20):
        order = rng.sample(pool_candidates, len(pool_candidates))
        picked, seconds = set(), 0.0
        for candidate in order:
            if seconds + candidate.seconds <= script.seconds:
                picked |= set(units(candidate.processed))
                seconds += candidate.seconds
        random_covered.append(len(picked))
    assert script.covered > 1.15 * max(random_covered), (script.covered, random_covered)


def test_lesson_sentences_join_the_choice(front_end, tmp_path, pool_candidates):
    lesson = tmp_path / "урок7.md"
    lesson.write_text(LESSON, encoding="utf-8")
    sentences = read_texts([lesson])
    assert sentences == [(s, "урок7.md") for s in (  # headings and list items are sentences; code is not read
        "Урок 7.", "Сводные таблицы.", "Сегодня мы построим сводную таблицу по продажам за 2024 год.",
        "Выделите диапазон и откройте вкладку «Вставка».", "Перетащите поле «Регион» в строки.",
        "Шаг второй: поле «Выручка» в значения.")]
    own, _ = prepare_candidates(sentences, front_end, tmp_path / "cache.json")
    script = choose(pool_candidates + own, 1)
    without_bonus = choose(pool_candidates + own, 1, own_bonus=1.0)
    chosen_own = [c for c in script.sentences if c.source == "урок7.md"]
    assert len(chosen_own) > sum(c.source == "урок7.md" for c in without_bonus.sentences)
    assert all(not any(ch.isdigit() for ch in c.text) for c in own)  # she reads numbers as the front end spells them
    assert any("две тысячи двадцать четвёртый" in c.text for c in own)


def test_with_yo_restores_yo_the_front_end_found():
    assert with_yo("Мертвый пес, все ясно.", "мёртвый пёс, вс+ё +ясно.") == "Мёртвый пёс, всё ясно."
    assert with_yo("Ежик", "ёжик") == "Ёжик"
    assert with_yo("Одно слово", "три разных слова") == "Одно слово"  # words do not line up: text kept


def test_cli_writes_a_numbered_script_and_metadata(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RUTTS_CACHE", str(tmp_path / "cache"))
    lesson = tmp_path / "lesson.md"
    lesson.write_text(LESSON, encoding="utf-8")
    out = tmp_path / "script"
    code = make_recording_script.main(["--no-pool", "--texts", str(lesson), "--minutes", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Покрытие:" in printed and "100.0% максимума" in printed  # every candidate fits in a minute
    rows = (out / "metadata.csv").read_text(encoding="utf-8").splitlines()
    assert [r.split("|")[0] for r in rows] == [f"{n:06d}_RUSLAN" for n in range(1, len(rows) + 1)]
    markdown = (out / "script.md").read_text(encoding="utf-8")
    for number, row in enumerate(rows, 1):
        assert f"\n{number}. " in markdown
    assert "Как записывать" in markdown


def test_cli_bad_input_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RUTTS_CACHE", str(tmp_path / "cache"))
    code = make_recording_script.main(["--texts", str(tmp_path / "нет.md"), "--out", str(tmp_path / "o")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith("Ошибка:") and "нет.md" in error and "\n" not in error
    (tmp_path / "cp1251.txt").write_bytes("Привет, как дела у вас сегодня?".encode("cp1251"))
    assert make_recording_script.main(["--texts", str(tmp_path / "cp1251.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "UTF-8" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        make_recording_script.main(["--minutes", "0"])
    assert "нужно число минут" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_pool_lines_are_clean_sentences():
    pool = read_pool()
    assert 1000 <= len(pool) <= 1600
    assert all("|" not in line and line[-1] in ".!?…" for line in pool)
    assert len({line.lower() for line in pool}) == len(pool)


def test_candidate_seconds_follow_text_length():
    short, long = Candidate("а", "д+ом стоит.", "pool"), Candidate("б", "д+ом стоит на гор+е у рек+и.", "pool")
    assert long.seconds > short.seconds > 0


def test_an_existing_script_is_replaced_only_with_force(tmp_path, capsys, monkeypatch):
    """Issue 23: her takes are named by the script's numbers; a new script would give them other sentences."""
    monkeypatch.setenv("RUTTS_CACHE", str(tmp_path / "cache"))
    lesson = tmp_path / "lesson.md"
    lesson.write_text(LESSON, encoding="utf-8")
    out = tmp_path / "script"
    assert make_recording_script.main(["--no-pool", "--texts", str(lesson), "--minutes", "1", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()

    code = make_recording_script.main(["--minutes", "2", "--out", str(out)])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith("Ошибка:") and "--force" in error and "\n" not in error, error
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    # (a) with --force, bad input: the script in place stays as it was
    assert make_recording_script.main(["--texts", str(tmp_path / "нет.md"), "--out", str(out), "--force"]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before

    # (b) with --force and fewer sentences: both files are the new script's, nothing of the earlier one
    short = tmp_path / "short.md"
    short.write_text("Сегодня мы откроем таблицу и посчитаем сумму.\n", encoding="utf-8")
    assert make_recording_script.main(["--no-pool", "--texts", str(short), "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["metadata.csv", "script.md"]
    assert (out / "metadata.csv").read_text(encoding="utf-8") == \
        "000001_RUSLAN|Сегодня мы откроем таблицу и посчитаем сумму.\n"
    assert "\n2. " not in (out / "script.md").read_text(encoding="utf-8")
