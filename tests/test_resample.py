"""resample_wavs.py on a small corpus in RUSLAN's layout, made of real wav files in tmp_path."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import resample_wavs
from rutts.files import TEMP_SUFFIX

ROOT = Path(__file__).resolve().parent.parent
METADATA = "metadata_RUSLAN_22200.csv"


def tone(freq: float, seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    audio = (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)
    return audio if channels == 1 else np.stack([audio] * channels, axis=1)


def dominant_frequency(audio: np.ndarray, rate: int) -> float:
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(np.abs(np.fft.rfft(audio)))])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


GOOD = {  # name: (rate, channels, subtype, seconds, freq)
    "mono44.wav": (44100, 1, "PCM_16", 1.0, 440),
    "stereo48.wav": (48000, 2, "PCM_24", 0.8, 330),
    "u8_16k.wav": (16000, 1, "PCM_U8", 0.6, 220),
    "already22.wav": (22050, 1, "PCM_16", 0.5, 550),
}


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "ruslan"
    (root / "RUSLAN").mkdir(parents=True)
    for name, (rate, channels, subtype, seconds, freq) in GOOD.items():
        sf.write(root / "RUSLAN" / name, tone(freq, seconds, rate, channels), rate, subtype=subtype)
    (root / "RUSLAN" / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunk" + bytes(200))
    (root / "RUSLAN" / "empty.wav").write_bytes(b"")
    (root / METADATA).write_text("mono44|Привет.\nstereo48|Мир.\n", encoding="utf-8")
    return root


def test_converts_the_good_files_and_lists_the_bad_ones(corpus, tmp_path, capsys):
    before = snapshot(corpus)
    out = tmp_path / "out"
    code = resample_wavs.main([str(corpus), "--out", str(out), "--sr", "22050", "--workers", "2"])
    captured = capsys.readouterr()
    assert code == 1
    assert "corrupt.wav" in captured.err and "empty.wav" in captured.err and "0 байт" in captured.err
    assert "пересэмплировано 4" in captured.out and "с ошибками 2" in captured.out

    for name, (rate, channels, subtype, seconds, freq) in GOOD.items():
        audio, sr = sf.read(out / "RUSLAN" / name, dtype="float32")
        info = sf.info(out / "RUSLAN" / name)
        assert (sr, info.channels, info.subtype) == (22050, 1, "PCM_16"), name
        assert len(audio) == int(seconds * rate) * 22050 // rate, name
        assert dominant_frequency(audio, sr) == pytest.approx(freq, abs=3), name
    assert not (out / "RUSLAN" / "corrupt.wav").exists() and not (out / "RUSLAN" / "empty.wav").exists()
    assert (out / METADATA).read_bytes() == (corpus / METADATA).read_bytes()
    assert snapshot(corpus) == before  # originals untouched
    assert not [p for p in out.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


def test_rerun_skips_finished_files_and_redoes_changed_ones(corpus, tmp_path, capsys):
    out = tmp_path / "out"
    args = [str(corpus), "--out", str(out), "--sr", "22050", "--workers", "2"]
    resample_wavs.main(args)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "RUSLAN").iterdir()}
    capsys.readouterr()

    assert resample_wavs.main(args) == 1  # the two bad files are still bad
    assert "пересэмплировано 0, пропущено (уже готовы) 4, с ошибками 2" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in (out / "RUSLAN").iterdir()} == stamps

    changed = corpus / "RUSLAN" / "mono44.wav"
    sf.write(changed, tone(880, 1.0, 44100), 44100)
    os.utime(changed, (time.time() + 5, time.time() + 5))
    (corpus / METADATA).write_text("mono44|Пока.\n", encoding="utf-8")
    resample_wavs.main(args)
    assert "пересэмплировано 1, пропущено (уже готовы) 3" in capsys.readouterr().out
    audio, rate = sf.read(out / "RUSLAN" / "mono44.wav")
    assert dominant_frequency(audio, rate) == pytest.approx(880, abs=3)
    assert (out / METADATA).read_text(encoding="utf-8") == "mono44|Пока.\n"

    resample_wavs.main([*args[:-4], "--sr", "16000", "--workers", "2"])  # another rate: nothing is "done"
    assert "пересэмплировано 4, пропущено (уже готовы) 0" in capsys.readouterr().out
    assert sf.info(out / "RUSLAN" / "stereo48.wav").samplerate == 16000


def test_rate_from_config_and_default_output_beside_the_input(corpus, tmp_path, capsys):
    (corpus / "RUSLAN" / "corrupt.wav").unlink()
    (corpus / "RUSLAN" / "empty.wav").unlink()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"audio": {"sample_rate": 24000}}), encoding="utf-8")
    assert resample_wavs.main([str(corpus), "--config", str(config), "--workers", "1"]) == 0
    out = tmp_path / "ruslan_24k"
    assert sorted(p.name for p in (out / "RUSLAN").iterdir()) == sorted(GOOD)
    assert {sf.info(p).samplerate for p in (out / "RUSLAN").iterdir()} == {24000}


def test_leftovers_of_a_killed_run_are_cleaned_up_and_nothing_else(corpus, tmp_path):
    out = tmp_path / "out"
    (out / "RUSLAN").mkdir(parents=True)
    ours = [out / "RUSLAN" / f".mono44.wav.k3j_9x2a{TEMP_SUFFIX}", out / f".{METADATA}.a1b2c3d4{TEMP_SUFFIX}"]
    theirs = [out / "RUSLAN" / f".notes{TEMP_SUFFIX}", out / "RUSLAN" / f"draft.wav{TEMP_SUFFIX}",
              out / "RUSLAN" / f".mono44.wav{TEMP_SUFFIX}", out / "RUSLAN" / f".other.wav.k3j_9x2a{TEMP_SUFFIX}",
              out / f".notes.txt.a1b2c3d4{TEMP_SUFFIX}"]
    for path in ours + theirs:
        path.write_bytes(b"RIFF half a file")
    resample_wavs.main([str(corpus), "--out", str(out), "--sr", "22050", "--workers", "1"])
    assert not [path for path in ours if path.exists()]
    assert all(path.read_bytes() == b"RIFF half a file" for path in theirs)


def test_a_truncated_source_is_listed_not_converted(corpus, tmp_path, capsys):
    whole = (corpus / "RUSLAN" / "mono44.wav").read_bytes()
    (corpus / "RUSLAN" / "mono44.wav").write_bytes(whole[: len(whole) * 3 // 4])  # a copy cut short
    out = tmp_path / "out"
    assert resample_wavs.main([str(corpus), "--out", str(out), "--sr", "22050", "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert "mono44.wav: файл обрезан: нет 25% звука" in err
    assert not (out / "RUSLAN" / "mono44.wav").exists() and (out / "RUSLAN" / "stereo48.wav").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal (POSIX)")
def test_progress_bar_only_on_a_terminal(corpus, tmp_path):
    from conftest import run_on_terminal

    command = [sys.executable, str(ROOT / "resample_wavs.py"), str(corpus), "--sr", "22050", "--workers", "1"]
    logged = subprocess.run([*command, "--out", str(tmp_path / "a")], capture_output=True, text=True, timeout=120)
    assert "Пересэмплирование" not in logged.stderr and "%|" not in logged.stderr
    assert "corrupt.wav" in logged.stderr  # the failures are still reported
    code, seen = run_on_terminal([*command, "--out", str(tmp_path / "b")])
    assert code == 1 and "Пересэмплирование" in seen


@pytest.mark.parametrize(
    ("layout", "extra", "message"),
    [
        ("missing", [], "нет папки"),
        ("no_ruslan_dir", [], "нет папки RUSLAN"),
        ("empty", [], "нет ни одного .wav"),
        ("same_as_input", [], "совпадает с входной"),
        ("ok", ["--sr", "100"], "не годится"),
        ("ok", ["--config", "nonexistent.json"], "--sr"),
    ],
)
def test_user_mistakes_give_one_clear_line_and_exit_2(tmp_path, capsys, layout, extra, message):
    root = tmp_path / "corpus"
    if layout != "missing":
        root.mkdir()
    if layout in ("empty", "same_as_input", "ok"):
        (root / "RUSLAN").mkdir()
    if layout in ("same_as_input", "ok"):
        sf.write(root / "RUSLAN" / "a.wav", tone(440, 0.2, 44100), 44100)
    out = root if layout == "same_as_input" else tmp_path / "out"
    rate = [] if "--sr" in extra or "--config" in extra else ["--sr", "22050"]
    code = resample_wavs.main([str(root), "--out", str(out), *rate, *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("Ошибка: ") and message in err and err.count("\n") == 1


def test_command_line_runs_under_spawn_and_reports_without_traceback(corpus, tmp_path):
    """As on Windows: worker processes are spawned, not forked."""
    out = tmp_path / "out"
    script = (
        "import multiprocessing, sys; multiprocessing.set_start_method('spawn'); "
        f"sys.path.insert(0, {str(ROOT)!r}); import resample_wavs; "
        f"sys.exit(resample_wavs.main([{str(corpus)!r}, '--out', {str(out)!r}, '--sr', '22050', '--workers', '2']))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "corrupt.wav" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in (out / "RUSLAN").iterdir()) == sorted(GOOD)

    missing = subprocess.run([sys.executable, str(ROOT / "resample_wavs.py"), str(tmp_path / "nope"), "--sr", "22050"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"Ошибка: нет папки {tmp_path / 'nope'}"


@pytest.mark.skipif(sys.platform == "win32", reason="kills a process group (POSIX)")
def test_a_killed_run_leaves_only_whole_files_and_a_rerun_finishes(tmp_path):
    root = tmp_path / "big"
    (root / "RUSLAN").mkdir(parents=True)
    for i in range(60):
        sf.write(root / "RUSLAN" / f"{i:03d}.wav", tone(200 + i, 3.0, 44100), 44100)
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "resample_wavs.py"), str(root), "--out", str(out), "--sr", "22050",
               "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list((out / "RUSLAN").glob("*.wav"))) < 5:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    for wav in (out / "RUSLAN").glob("*.wav"):  # whatever made it to its final name is complete
        assert sf.info(wav).frames == 3 * 22050, wav.name
    assert subprocess.run(command, capture_output=True, timeout=120).returncode == 0
    assert len(list((out / "RUSLAN").glob("*.wav"))) == 60
    assert not [p for p in out.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


def test_a_rerun_with_less_input_leaves_nothing_stale(corpus, tmp_path, capsys):
    """Issue 23, point 1 (b): a source removed since, its output goes; the audit of the earlier output goes too."""
    out = tmp_path / "out"
    args = [str(corpus), "--out", str(out), "--sr", "22050", "--workers", "1"]
    resample_wavs.main(args)
    for name in ("metadata_train.csv", "metadata_val.csv", "frontend.json"):  # check_sample_rate.py's, of this output
        (out / name).write_text("mono44|привет.\n", encoding="utf-8")
    (corpus / "RUSLAN" / "stereo48.wav").unlink()
    capsys.readouterr()
    assert resample_wavs.main(args) == 1  # the two bad files are still bad
    printed = capsys.readouterr().out
    assert "удалено прежних без исходника 1" in printed and "прежнее разбиение удалено" in printed
    assert sorted(p.name for p in (out / "RUSLAN").iterdir()) == ["already22.wav", "mono44.wav", "u8_16k.wav"]
    assert sorted(p.name for p in out.iterdir()) == ["RUSLAN", METADATA]


def test_a_bad_source_over_a_good_earlier_output_leaves_it(corpus, tmp_path, capsys):
    """Issue 23, point 1 (a): the new source cannot be read; the earlier output of it stays, and so does the audit."""
    out = tmp_path / "out"
    args = [str(corpus), "--out", str(out), "--sr", "22050", "--workers", "1"]
    resample_wavs.main(args)
    (out / "metadata_train.csv").write_text("mono44|привет.\n", encoding="utf-8")
    before = snapshot(out)
    broken = corpus / "RUSLAN" / "mono44.wav"
    broken.write_bytes(broken.read_bytes()[:1000])  # cut short: the header promises more
    os.utime(broken, (time.time() + 5, time.time() + 5))
    assert resample_wavs.main(args) == 1
    assert "mono44.wav" in capsys.readouterr().err
    assert snapshot(out) == before
    assert resample_wavs.main([str(corpus), "--out", str(out), "--sr", "22"]) == 2  # bad arguments: nothing touched
    assert snapshot(out) == before
