"""inference.py end to end on a freshly initialized tiny GlowTTS: course mode, subtitles in sync, formats, bad input."""
import io
import json
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import srt

import inference
from test_synth import speech_runs, tiny_run  # noqa: F401  (tiny_run is a fixture)

LESSON = """# Урок 3. Списки

Добро пожаловать на **третий** урок! Сегодня разберём [списки](https://example.com).

Список хранит элементы по порядку. Нумерация начинается с нуля.

- создать список
- добавить элемент
"""
LESSON_SENTENCES = [
    "Урок 3.", "Списки.",
    "Добро пожаловать на третий урок!", "Сегодня разберём списки.",
    "Список хранит элементы по порядку.", "Нумерация начинается с нуля.",
    "Создать список.", "Добавить элемент.",
]


def run_cli(capsys, *args):
    code = inference.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_course_mode_writes_paragraphs_lesson_and_synced_subtitles(tiny_run, tmp_path, capsys):
    script = tmp_path / "lesson.md"
    script.write_text(LESSON, encoding="utf-8")
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "-m", tiny_run, "-i", script, "--course", "-o", out,
                                "--sentence-silence", 0.4, "--paragraph-silence", 1.0)
    assert code == 0, err
    paragraphs = [out / f"lesson_{n:03d}.wav" for n in range(1, 5)]
    assert sorted(out.iterdir()) == sorted([*paragraphs, out / "lesson.srt", out / "lesson.wav"])
    assert "готово" in stdout and "RTF" in stdout

    lesson, rate = sf.read(out / "lesson.wav", dtype="float32")
    assert rate == 22050
    cues = list(srt.parse((out / "lesson.srt").read_text(encoding="utf-8")))
    assert [c.content for c in cues] == LESSON_SENTENCES
    runs = speech_runs(lesson, rate)  # measured in the written file
    assert len(runs) == len(cues)
    for (start, end), cue in zip(runs, cues):
        assert abs(start - cue.start.total_seconds()) < 0.05
        assert abs(end - cue.end.total_seconds()) < 0.05

    # the lesson is the paragraph files with the paragraph pauses between them
    lengths = [sf.info(p).frames for p in paragraphs]
    assert len(lesson) == sum(lengths) + 3 * round(1.0 * rate)
    first = sf.read(paragraphs[1], dtype="float32")[0]
    assert np.abs(first[: rate // 100]).max() > 0  # a paragraph's own file starts with speech, not a pause


def test_formats_and_stdin(tiny_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("Текст со стандартного входа. Второе предложение."))
    code, _, err = run_cli(capsys, "-m", tiny_run, "-o", tmp_path / "voice.ogg", "--srt")
    assert code == 0, err
    info = sf.info(tmp_path / "voice.ogg")
    assert (info.format, info.subtype, info.samplerate) == ("OGG", "OPUS", 48000)
    assert (tmp_path / "voice.srt").read_text(encoding="utf-8").count("-->") == 2
    code, _, err = run_cli(capsys, "-m", tiny_run, "--text", "Проверка записи в MP3.", "-o", tmp_path / "v.mp3")
    assert code == 0, err
    assert sf.info(tmp_path / "v.mp3").samplerate == 22050


def test_long_text_streams_to_disk(tiny_run, tmp_path, capsys):
    """Python-side memory stays that of one piece, whatever the length of the text (torch's own is not traced)."""
    paragraph = "Каждый охотник желает знать, где сидит фазан. Тише едешь, дальше будешь. " * 3
    assert run_cli(capsys, "-m", tiny_run, "--text", "Разминка.", "-o", tmp_path / "warm.wav")[0] == 0
    peaks, sizes = [], []
    for count in (4, 20):
        script = tmp_path / f"long{count}.txt"
        script.write_text("\n\n".join([paragraph] * count), encoding="utf-8")
        tracemalloc.start()
        code, _, err = run_cli(capsys, "-m", tiny_run, "-i", script, "--course", "-o", tmp_path / "out",
                               "--gl-iters", 1)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert code == 0, err
        sizes.append(sf.info(tmp_path / "out" / f"long{count}.wav").frames * 4)  # the lesson as float32
    assert sizes[1] > 30e6
    assert peaks[1] < peaks[0] + 4e6, f"Python memory grew with the text: {peaks[0] / 1e6:.0f} → {peaks[1] / 1e6:.0f} MB"
    assert peaks[1] < sizes[1]  # one ~40 s block and its limiter, never the whole lesson


def bad_inputs(tmp, run):
    wider = tmp / "wider.json"
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    wider.write_text(json.dumps(dict(config, hidden_channels_dec=48)), encoding="utf-8")
    (tmp / "latin1.txt").write_bytes("Привет".encode("cp1251"))
    (tmp / "a_file").write_text("x")
    out = tmp / "out"
    return {
        "empty": (["--text", "", "-o", out / "x.wav"], "текст пустой"),
        "whitespace": (["--text", " \n\t ", "-o", out / "x.wav"], "текст пустой"),
        "only emoji and CJK": (["--text", "😀 🎉 你好", "-o", out / "x.wav"], "нечего произносить"),
        "markup only": (["--text", "```\nprint(1)\n```", "-o", out / "x.wav"], "текст пустой"),
        "no model": (["-m", tmp / "nope", "--text", "Привет.", "-o", out / "x.wav"], "модель не найдена"),
        "mismatched config": (["--config", wider, "--text", "Привет.", "-o", out / "x.wav"], "не подходит к конфигу"),
        "unknown format": (["--text", "Привет.", "-o", out / "x.flac"], "неизвестный формат"),
        "output under a file": (["--text", "Привет.", "-o", tmp / "a_file" / "x.wav"], "нельзя писать"),
        "not UTF-8": (["-i", tmp / "latin1.txt", "-o", out / "x.wav"], "UTF-8"),
        "missing input": (["-i", tmp / "nope.txt", "-o", out / "x.wav"], "не найден: "),
    }


@pytest.mark.parametrize("case", [
    "empty", "whitespace", "only emoji and CJK", "markup only", "no model", "mismatched config", "unknown format",
    "output under a file", "not UTF-8", "missing input",
])
def test_bad_input_one_line_error_no_files(tiny_run, tmp_path, capsys, case):
    args, message = bad_inputs(tmp_path, tiny_run)[case]
    if "-m" not in args:
        args = ["-m", tiny_run / "checkpoint_3.pth", *args]
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("Ошибка")]
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())  # nothing half-written, no temporary files left


def test_run_record_wins_over_a_lexicon_file_in_the_current_folder(tiny_run, tmp_path, capsys, caplog, monkeypatch):
    """Without --lexicon the model reads as it was trained: a lexicon.txt lying in the current folder is not taken."""
    import shutil

    from rutts.run import record_frontend

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    record_frontend(run, None, True)
    work = tmp_path / "work"
    work.mkdir()
    (work / "lexicon.txt").write_text("Привет → х+ай\n", encoding="utf-8")
    monkeypatch.chdir(work)
    code, _, err = run_cli(capsys, "-m", run, "--text", "Привет.", "-o", tmp_path / "hi.wav")
    assert code == 0, err
    assert "не так, как при обучении" not in caplog.text


def test_course_rerun_with_fewer_paragraphs_leaves_no_stale_file(tiny_run, tmp_path, capsys):
    """Issue 23: a 4-paragraph lesson, then a 1-paragraph one of the same name into the same folder."""
    script, out = tmp_path / "lesson.md", tmp_path / "out"
    script.write_text(LESSON, encoding="utf-8")
    assert run_cli(capsys, "-m", tiny_run, "-i", script, "--course", "-o", out, "--gl-iters", 1)[0] == 0
    (out / "notes.txt").write_text("её файл", encoding="utf-8")  # not the lesson's: never touched
    script.write_text("Один абзац. Всего одно предложение.", encoding="utf-8")
    code, _, err = run_cli(capsys, "-m", tiny_run, "-i", script, "--course", "-o", out, "--gl-iters", 1)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["lesson.srt", "lesson.wav", "lesson_001.wav", "notes.txt"]
    assert (out / "lesson.srt").read_text(encoding="utf-8").count("-->") == 2
    assert sf.info(out / "lesson.wav").frames == sf.info(out / "lesson_001.wav").frames


def test_course_failing_midway_leaves_the_earlier_lesson_intact(tiny_run, tmp_path, capsys, monkeypatch):
    """Ctrl-C in the middle of the second narration: the first lesson's files stay byte for byte."""
    from rutts.speech import Voice

    script, out = tmp_path / "lesson.md", tmp_path / "out"
    script.write_text(LESSON, encoding="utf-8")
    assert run_cli(capsys, "-m", tiny_run, "-i", script, "--course", "-o", out, "--gl-iters", 1)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    blocks = []
    real_block = Voice._block

    def interrupted_at_the_third_block(self, *args):
        blocks.append(1)
        if len(blocks) == 3:
            raise KeyboardInterrupt
        return real_block(self, *args)

    monkeypatch.setattr(Voice, "_block", interrupted_at_the_third_block)
    script.write_text(LESSON.replace("третий", "четвёртый"), encoding="utf-8")
    code, _, err = run_cli(capsys, "-m", tiny_run, "-i", script, "--course", "-o", out, "--gl-iters", 1)
    assert code == 130 and "Прервано" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no build folder left either
