"""The front-end record: written with a corpus, copied into a run, read back by whatever speaks with the model."""
import json
import logging

import pytest

from rutts.run.frontend_record import LEXICON_COPY, RECORD_NAME, copy_record, frontend_for, record_frontend
from rutts.text import FrontEnd, TextError, default_lexicon


@pytest.fixture
def lexicon(tmp_path):
    path = tmp_path / "my_lexicon.txt"
    path.write_text("# курс\nPython → П+айтон\nGit → г+ит\n", encoding="utf-8")
    return path


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "rutts.run.frontend_record"]


def test_record_is_read_back_as_the_same_front_end(tmp_path, lexicon, caplog, monkeypatch):
    corpus, run = tmp_path / "corpus", tmp_path / "run"
    corpus.mkdir(), run.mkdir()
    record_frontend(corpus, lexicon, stress=False)
    assert copy_record(corpus, run)
    lexicon.write_text("Python → пит+он\n", encoding="utf-8")  # edited after training: the run keeps its copy
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lexicon.txt").write_text("Python → пайт+он\n", encoding="utf-8")  # and this default is ignored
    caplog.set_level(logging.WARNING)
    frontend = frontend_for(run)
    assert frontend.signature == FrontEnd(run / LEXICON_COPY, stress=False).signature
    assert frontend.signature == json.loads((run / RECORD_NAME).read_text(encoding="utf-8"))["signature"]
    assert frontend.stress is False
    assert frontend.lexicon.apply("Python и Git") == "П+айтон и г+ит"
    assert warnings_of(caplog) == []


def test_explicit_settings_win_with_one_warning_naming_the_difference(tmp_path, lexicon, caplog):
    record_frontend(tmp_path, lexicon, stress=True)
    other = tmp_path / "other.txt"
    other.write_text("Python → пит+он\n", encoding="utf-8")
    caplog.set_level(logging.WARNING)

    frontend = frontend_for(tmp_path, stress=False)
    assert frontend.stress is False
    (message,) = warnings_of(caplog)
    assert "ударения выкл. (при обучении авто)" in message and "словарь" not in message

    caplog.clear()
    frontend = frontend_for(tmp_path, lexicon=other)
    assert frontend.lexicon.apply("Python") == "пит+он" and frontend.stress is True
    (message,) = warnings_of(caplog)
    assert str(other) in message and "ударения" not in message

    caplog.clear()
    frontend_for(tmp_path, lexicon=lexicon, stress=True)  # the same as recorded: nothing to say
    assert warnings_of(caplog) == []


def test_run_without_a_record_uses_the_old_defaults_and_says_so(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("rutts.text.lexicon.PROJECT_ROOT", tmp_path)  # the kit's folder, here a copy's
    assert default_lexicon() is None
    (tmp_path / "lexicon.txt").write_text("Жужа → ж+ужа-ж+ужа\n", encoding="utf-8")
    assert default_lexicon().name == "lexicon.txt"
    caplog.set_level(logging.WARNING)
    frontend = frontend_for(tmp_path / "..")
    assert frontend.stress is True and frontend.lexicon.apply("Жужа") == "ж+ужа-ж+ужа"
    (message,) = warnings_of(caplog)
    assert RECORD_NAME in message


def test_copy_record_without_a_record_writes_nothing(tmp_path):
    src, dst = tmp_path / "corpus", tmp_path / "run"
    src.mkdir(), dst.mkdir()
    assert copy_record(src, dst) is False
    assert list(dst.iterdir()) == []


def test_a_record_without_lexicon_replaces_one_with_it(tmp_path, lexicon):
    corpus, run = tmp_path / "corpus", tmp_path / "run"
    corpus.mkdir(), run.mkdir()
    record_frontend(corpus, lexicon, stress=True)
    copy_record(corpus, run)
    record_frontend(corpus, None, stress=True)
    assert not (corpus / LEXICON_COPY).exists()
    copy_record(corpus, run)
    assert not (run / LEXICON_COPY).exists()
    assert frontend_for(run).signature == FrontEnd(None, stress=True).signature


def test_bad_lexicon_is_refused_before_anything_is_written(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Python П+айтон\n", encoding="utf-8")
    run = tmp_path / "run"
    run.mkdir()
    with pytest.raises(TextError, match="bad.txt:1"):
        record_frontend(run, bad, stress=True)
    assert list(run.iterdir()) == []


def test_damaged_record_is_a_clear_error(tmp_path, lexicon):
    record_frontend(tmp_path, lexicon, stress=True)
    (tmp_path / RECORD_NAME).write_text('{"stress": tru', encoding="utf-8")
    with pytest.raises(TextError, match=f"{RECORD_NAME} повреждён"):
        frontend_for(tmp_path)
    record_frontend(tmp_path, lexicon, stress=True)
    (tmp_path / LEXICON_COPY).unlink()
    with pytest.raises(TextError, match="словарь frontend_lexicon.txt"):
        frontend_for(tmp_path)
