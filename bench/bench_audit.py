"""How long check_sample_rate.py takes on RUSLAN-sized data, measured on generated files and extrapolated.

    python bench/bench_audit.py                     # 2,000 one-second files, 500 five-second files, 40 texts
    python bench/bench_audit.py --header-files 22200 --signal-files 2000

1. The header stage (rate/channels/subtype/length from soundfile.info), extrapolated to 22,200 files, against a
   baseline that decodes every file (soundfile.read) measured in the same run.
2. The signal stage (decode + clipping, RMS, edge silence) on files of RUSLAN's mean length (~5 s).
3. The text stage the first time (normalization + silero-stress per text); later runs take it from the cache.
Files are freshly written, so they sit in the OS page cache: a cold disk adds its read time (~5 GB for RUSLAN).
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rutts.audit import AuditLimits, audit_corpus  # noqa: E402
from rutts.text import CHARACTERS, PUNCTUATIONS, FrontEnd  # noqa: E402

RATE = 22050
RUSLAN_FILES = 22200
PHRASES = ["Сегодня мы разберём урок номер {}.", "В {} году курс прошли сто человек.",
           "Откройте таблицу и найдите строку {}.", "Повторение — мать учения, глава {}."]


def make_corpus(root: Path, count: int, seconds: float) -> Path:
    (root / "RUSLAN").mkdir(parents=True)
    burst = (0.1 * np.random.default_rng(0).standard_normal(int(seconds * RATE))).astype(np.float32)
    lines = []
    for number in range(count):
        utt = f"{number:06d}_RUSLAN"
        sf.write(root / "RUSLAN" / f"{utt}.wav", burst, RATE, subtype="PCM_16")
        lines.append(f"{utt}|Проверка скорости.\n")
    (root / "metadata_bench.csv").write_text("".join(lines), encoding="utf-8")
    return root


def audit_timings(root: Path, signal: bool) -> dict[str, float]:
    limits = AuditLimits(RATE, frozenset(CHARACTERS + PUNCTUATIONS), RATE // 2, 15 * RATE)
    audit = audit_corpus(root, root / "metadata_bench.csv", limits, FrontEnd(stress=False), signal=signal)
    assert not audit.errors, audit.errors[:3]
    return audit.timings


def timed(work) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--header-files", type=int, default=2000)
    parser.add_argument("--signal-files", type=int, default=500)
    parser.add_argument("--texts", type=int, default=40, help="distinct texts for the stress timing (0: skip)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_corpus(Path(tmp) / "headers", args.header_files, 1.0)
        audit_timings(root, signal=False)  # warm up: imports, the text cache, the page cache
        headers = audit_timings(root, signal=False)["headers_s"]
        per_header = headers / args.header_files
        print(f"header stage: {args.header_files} files in {headers:.2f} s ({1000 * per_header:.3f} ms/file) "
              f"-> {RUSLAN_FILES} files: {per_header * RUSLAN_FILES:.1f} s (goal < 10 s)")

        root = make_corpus(Path(tmp) / "signal", args.signal_files, 5.0)
        paths = sorted((root / "RUSLAN").iterdir())
        per_decode = timed(lambda: [sf.read(path, dtype="int16") for path in paths]) / args.signal_files
        print(f"baseline:     soundfile.read of a 5 s file {1000 * per_decode:.3f} ms -> header-only is "
              f"{per_decode / per_header:.1f}x faster per file")
        per_signal = audit_timings(root, signal=True)["signal_s"] / args.signal_files
        print(f"signal stage: {1000 * per_signal:.3f} ms per 5 s file -> {RUSLAN_FILES} files (~31 h): "
              f"{per_signal * RUSLAN_FILES:.0f} s (plus reading ~5 GB from a cold disk)")

    if args.texts:
        texts = [PHRASES[n % len(PHRASES)].format(n + 1) for n in range(args.texts)]
        front_end = FrontEnd(stress=True)
        load = timed(lambda: front_end.process(texts[0]))
        per_text = timed(lambda: front_end.process_many(texts[1:])) / (len(texts) - 1)
        plain = FrontEnd(stress=False)
        per_plain = timed(lambda: plain.process_many(texts)) / len(texts)
        print(f"text stage:   silero-stress load {load:.1f} s, {1000 * per_text:.1f} ms/text with stress "
              f"({1000 * per_plain:.1f} ms without) -> {RUSLAN_FILES} texts the first time: "
              f"{(load + per_text * RUSLAN_FILES) / 60:.1f} min; cached afterwards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
