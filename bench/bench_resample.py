"""Resampling speed: a plain librosa loop vs resample_wavs.py, and resample_wavs.py re-run on finished data.

    python bench/bench_resample.py                                  # 200 generated 44.1 kHz files of 3-6 s
    python bench/bench_resample.py --input data/ruslan --workers 2  # a corpus in RUSLAN's layout

All on the same files in the same run: (a) `librosa.load(path, sr=...)` + `soundfile.write` one file after the
other, (b) resample_wavs.main() on --workers processes, (c) resample_wavs.main() again on its finished output.
Timed in this process (imports and librosa's first-call set-up excluded from all three; (b) includes starting
its worker pool); best of --repeat runs, (a) and (b) taking turns.
Goals: (b) >= 1.8x faster than (a) on 2 cores, (c) >= 50x faster than (b).
Both resample with soxr HQ (librosa's default) and write identical files; besides using two processes, (b)
writes through a file object, which spares it libsndfile's fsync of every file that (a) pays.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["TQDM_DISABLE"] = "1"  # before tqdm is imported: no progress bars in the timings

import librosa
import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
import resample_wavs  # noqa: E402

SPEEDUP_GOAL = 1.8
RERUN_GOAL = 50.0


def make_corpus(root: Path, files: int, rate: int = 44_100, seed: int = 0) -> None:
    """Speech-like test files (a wobbling tone plus noise, 3-6 s) in RUSLAN's layout."""
    rng = np.random.default_rng(seed)
    (root / "RUSLAN").mkdir(parents=True)
    lines = []
    for i in range(files):
        t = np.arange(int(rate * rng.uniform(3.0, 6.0))) / rate
        tone = np.sin(2 * np.pi * rng.uniform(90, 250) * t + 3 * np.sin(2 * np.pi * 5 * t))
        audio = 0.3 * tone * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(len(t))
        sf.write(root / "RUSLAN" / f"{i:05d}.wav", audio.astype(np.float32), rate, subtype="PCM_16")
        lines.append(f"{i:05d}|тестовая фраза номер {i}\n")
    (root / "metadata_RUSLAN_22200.csv").write_text("".join(lines), encoding="utf-8")


def librosa_loop(wavs: list[Path], out: Path, rate: int) -> None:
    out.mkdir(exist_ok=True)
    for wav in wavs:
        audio, _ = librosa.load(wav, sr=rate)
        sf.write(out / wav.name, audio, rate, subtype="PCM_16")


def ours(src: Path, out: Path, rate: int, workers: int) -> None:
    with contextlib.redirect_stdout(io.StringIO()):  # its summary line
        code = resample_wavs.main([str(src), "--out", str(out), "--sr", str(rate), "--workers", str(workers)])
    if code != 0:
        raise SystemExit(f"resample_wavs exited with {code}")


def timed(run, fresh: Path | None = None) -> float:
    """Seconds `run()` takes; `fresh` (an output folder) is deleted first, untimed."""
    if fresh:
        shutil.rmtree(fresh, ignore_errors=True)
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def verdict(ratio: float, goal: float) -> str:
    return "OK" if ratio >= goal else "BELOW GOAL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="librosa loop vs resample_wavs.py (files/s)")
    parser.add_argument("--input", type=Path, help="corpus root (RUSLAN/*.wav); default: generate --files files")
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--sr", type=int, default=22_050)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_resample_") as temp:
        temp = Path(temp)
        src = args.input or temp / "corpus"
        if args.input is None:
            make_corpus(src, args.files)
        wavs = sorted((src / "RUSLAN").glob("*.wav"))
        seconds = sum(sf.info(w).duration for w in wavs)
        load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
        print(f"{len(wavs)} files, {seconds / 60:.1f} min of audio at {sf.info(wavs[0]).samplerate} Hz "
              f"-> {args.sr} Hz; {args.workers} workers, {os.cpu_count()} CPUs{load}; best of {args.repeat}")
        librosa.load(wavs[0], sr=args.sr)  # librosa sets up its resampler lazily on the first call

        theirs_out, ours_out = temp / "librosa", temp / "ours"
        runs = []
        for _ in range(args.repeat):  # interleaved, so that changes in the machine's load hit both alike
            runs.append((timed(lambda: librosa_loop(wavs, theirs_out, args.sr), fresh=theirs_out),
                         timed(lambda: ours(src, ours_out, args.sr, args.workers), fresh=ours_out)))
        t_librosa, t_ours = min(t for t, _ in runs), min(t for _, t in runs)
        t_rerun = min(timed(lambda: ours(src, ours_out, args.sr, args.workers)) for _ in range(args.repeat))
        command = [sys.executable, str(ROOT / "resample_wavs.py"), str(src), "--out", str(ours_out),
                   "--sr", str(args.sr)]
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        t_rerun_cli = time.perf_counter() - started

        ref, _ = sf.read(theirs_out / wavs[0].name)
        mine, _ = sf.read(ours_out / "RUSLAN" / wavs[0].name)
        print(f"same length as librosa's: {len(ref) == len(mine)}, max difference {np.abs(ref - mine).max():.1e}")

    n = len(wavs)
    print(f"(a) librosa.load + soundfile.write loop: {t_librosa:7.3f} s  {n / t_librosa:8.1f} files/s")
    print(f"(b) resample_wavs, {args.workers} workers:          {t_ours:7.3f} s  {n / t_ours:8.1f} files/s")
    print(f"(c) resample_wavs re-run (all done):   {t_rerun:7.3f} s  {n / t_rerun:8.1f} files/s")
    print(f"    the same re-run as a command (Python start-up and imports included): {t_rerun_cli:.3f} s")
    speedup, rerun = t_librosa / t_ours, t_ours / t_rerun
    print(f"speed-up (a)/(b): {speedup:.2f}x (goal >= {SPEEDUP_GOAL}x) {verdict(speedup, SPEEDUP_GOAL)}")
    print(f"re-run   (b)/(c): {rerun:.1f}x (goal >= {RERUN_GOAL:.0f}x) {verdict(rerun, RERUN_GOAL)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
