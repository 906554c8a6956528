"""Issue 23, point 6: every command line refuses bad arguments before any slow work — in a second, with one Russian
line and exit code 2 — run here as the user runs it, a fresh process."""
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SLACK_S = 3.0  # the aim is < 1 s; other processes share these cores while the tests run

CASES = [
    (["resample_wavs.py", "data/ruslan", "--sr", "abc"], "--sr"),
    (["check_sample_rate.py", "--val-fraction", "0.7"], "--val-fraction"),
    (["import_recordings.py", "rec", "--script", "s.csv", "--mode", "phrases"], "--mode"),
    (["make_recording_script.py", "--minutes", "0"], "минут"),
    (["view_tensorboard.py", "--port", "70000"], "порт"),
    (["bot.py", "-m", "run", "--per-minute", "0"], "--per-minute"),
    (["-m", "rutts.intelligibility", "--wavs", ".", "--model", "run", "--corpus", "c", "--threads", "0"], "--threads"),
    (["-m", "rutts.intelligibility", "--wavs", ".", "--meta", "m.csv", "--json", "нет/отчёт.json"], "отчёт.json"),
    (["train_glowtts.py", "--bogus"], "--bogus"),
    (["train_vocoder.py", "--bogus"], "--bogus"),
    (["inference.py", "--text", "Привет."], "--model"),
    (["studio.py", "урок.md", "-m", "run", "--bogus"], "--bogus"),
]


@pytest.mark.parametrize("argv, named", CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_arguments_fail_at_once_in_one_russian_line(argv, named, tmp_path):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    seconds = time.perf_counter() - started
    print(f"{' '.join(argv[:2])}: {seconds:.2f} s, {done.stderr.strip()!r}")
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Ошибка: ") and named in lines[0], done.stderr
    assert re.search("[а-яё]{3}", lines[0].removeprefix("Ошибка: ")), lines[0]
    assert seconds < SLACK_S
