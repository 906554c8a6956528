"""rutts.files.build_aside: outputs built aside replace an earlier run's whole, or not at all."""
import pytest

from rutts.files import build_aside


def listing(folder):
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def earlier(tmp_path):
    out = tmp_path / "out"
    (out / "RUSLAN").mkdir(parents=True)
    for name in ("a", "b", "c"):
        (out / "RUSLAN" / f"{name}.wav").write_text(name)
    (out / "metadata_RUSLAN.csv").write_text("a\nb\nc\n")
    (out / "lesson_003.wav").write_text("old third")
    (out / "notes.txt").write_text("hers")  # not the command's: never touched
    return out


def test_a_failure_leaves_the_earlier_outputs_as_they_were(earlier):
    before = listing(earlier)
    with pytest.raises(RuntimeError):
        with build_aside(earlier, ("RUSLAN", "metadata_*.csv", "lesson*.wav")) as stage:
            (stage / "RUSLAN").mkdir()
            (stage / "RUSLAN" / "a.wav").write_text("new")
            raise RuntimeError("midway")
    assert listing(earlier) == before
    assert sorted(p.name for p in earlier.iterdir()) == ["RUSLAN", "lesson_003.wav", "metadata_RUSLAN.csv", "notes.txt"]


def test_a_rerun_with_less_leaves_nothing_stale(earlier):
    with build_aside(earlier, ("RUSLAN", "metadata_*.csv", "lesson*.wav")) as stage:
        (stage / "RUSLAN").mkdir()
        (stage / "RUSLAN" / "a.wav").write_text("new a")
        (stage / "metadata_RUSLAN.csv").write_text("a\n")
    assert listing(earlier) == {"RUSLAN/a.wav": "new a", "metadata_RUSLAN.csv": "a\n", "notes.txt": "hers"}


def test_nothing_staged_removes_the_earlier_outputs_only(earlier):
    with build_aside(earlier, ("metadata_*.csv", "lesson*.wav")):
        pass
    assert sorted(p.name for p in earlier.iterdir()) == ["RUSLAN", "notes.txt"]


def test_a_refused_move_puts_everything_back(earlier, monkeypatch):
    """Windows refuses to move a file another program holds open: the swap is undone."""
    import os

    before = listing(earlier)
    real_replace = os.replace

    def replace(src, dst):
        if str(src).endswith("lesson_001.wav"):
            raise PermissionError(13, "занят другим процессом")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(PermissionError):
        with build_aside(earlier, ("metadata_*.csv", "lesson*.wav")) as stage:
            (stage / "metadata_RUSLAN.csv").write_text("new")
            (stage / "lesson_000.wav").write_text("new")
            (stage / "lesson_001.wav").write_text("new")
    assert listing(earlier) == before
    assert sorted(p.name for p in earlier.iterdir()) == ["RUSLAN", "lesson_003.wav", "metadata_RUSLAN.csv", "notes.txt"]


def test_a_killed_run_s_staging_folder_is_cleared_next_time(earlier):
    (earlier / ".build.x1y2z3.partial").mkdir()
    (earlier / ".build.x1y2z3.partial" / "half.wav").write_text("half")
    with build_aside(earlier, ("lesson*.wav",)) as stage:
        (stage / "lesson.wav").write_text("new")
    assert sorted(p.name for p in earlier.iterdir()) == ["RUSLAN", "lesson.wav", "metadata_RUSLAN.csv", "notes.txt"]
