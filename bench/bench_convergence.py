"""Convergence: our config against the original user's settings, same corpus, same wall time, this machine.

    python bench/bench_convergence.py --minutes 60        # all three setups: about 3.5 h on 2 cores
    python bench/bench_convergence.py --minutes 10 --only ours

All runs train the same CPU-sized GlowTTS on the same demo corpus (600 RHVoice utterances, 5 % held out).
"seed" differs only in the training settings the user had: Noam warmup 8000 stepped per epoch (with trainer 0.4 and
one optimizer: never stepped), RAdam 2e-4, batches unshuffled in length order, no length filter. "phonemes" is our
config with espeak-ng IPA phonemes instead of letters with stress marks (`--only phonemes`). Every saved
checkpoint is then scored: the held-out sentences are synthesized (Griffin-Lim) and read back by Whisper-base
(`rutts.intelligibility`, needs requirements-eval.txt); the table prints loss and CER against minutes trained.
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETUPS = {
    "ours": [],
    "seed": [
        "--coqpit.scheduler_after_epoch=true",
        "--coqpit.lr=2e-4",
        '--coqpit.lr_scheduler_params={"warmup_steps": 8000}',
        "--coqpit.shuffle=false",
        "--coqpit.batch_group_size=0",
        "--coqpit.min_audio_len=1",
        "--coqpit.max_audio_len=Infinity",
        "--coqpit.min_text_len=1",
        "--coqpit.max_text_len=Infinity",
    ],
    # Our config with espeak-ng phonemes (IPA) instead of letters: espeak reads the normalized text with ё and
    # places stress itself (our "+" marks would be read as "плюс", so the metadata is stripped of them).
    "phonemes": [
        "--coqpit.use_phonemes=true",
        '--coqpit.phonemizer="espeak"',
        '--coqpit.phoneme_language="ru"',
        "--coqpit.characters=null",
        '--coqpit.datasets.0.meta_file_train="nostress_train.csv"',
        '--coqpit.datasets.0.meta_file_val="nostress_val.csv"',
        '--coqpit.test_sentences=["добрый день! сегодня мы разберём урок номер три."]',
    ],
}


def run(cmd: list[str]) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run([sys.executable, *cmd], cwd=ROOT, check=True)


def prepare_corpus(work: Path, n: int) -> Path:
    raw, corpus = work / f"demo{n}", work / f"demo{n}_22k"
    run(["data/demo/prepare.py", "--n", str(n), "--out", str(raw)])
    run(["resample_wavs.py", str(raw), "--out", str(corpus)])
    subprocess.run([sys.executable, "check_sample_rate.py", str(corpus), "--val-fraction", "0.05"], cwd=ROOT)
    for split in ("train", "val"):
        text = (corpus / f"metadata_{split}.csv").read_text(encoding="utf-8")
        (corpus / f"nostress_{split}.csv").write_text(text.replace("+", ""), encoding="utf-8")
    return corpus


def train(name: str, corpus: Path, work: Path, minutes: float, save_step: int) -> Path:
    out = work / name
    if not any(out.glob("*/checkpoint_*.pth")):
        run(["train_glowtts.py", "--preset", "cpu", "--data", str(corpus), "--output-path", str(out),
             "--max-minutes", str(minutes), f"--coqpit.save_step={save_step}", "--coqpit.save_n_checkpoints=1000",
             "--coqpit.run_name=" + name, f'--coqpit.phoneme_cache_path="{(work / "phoneme_cache").as_posix()}"',
             *SETUPS[name]])
    return max(out.iterdir(), key=lambda p: p.stat().st_mtime)


def value_at(series, step: int) -> float:
    """The last logged value at or before `step`."""
    before = [value for at, value in series if at <= step]
    return float(before[-1]) if before else float("nan")


def score_checkpoints(run_dir: Path, corpus: Path, meter) -> list[dict]:
    from rutts.train.health import read_scalars
    from rutts.intelligibility import synthesize_validation
    from rutts.run import RunFolder, numbered
    from rutts.speech import Voice

    started = RunFolder(run_dir).config_path.stat().st_mtime  # written when the run starts
    logged = read_scalars(run_dir)
    rows = []
    for checkpoint in numbered(run_dir, "checkpoint"):
        step = int(checkpoint.stem.split("_")[1])
        voice = Voice.load(checkpoint, RunFolder(run_dir).config_path)
        pairs = synthesize_validation(voice, corpus, run_dir / "val_wavs" / checkpoint.stem)
        report = meter.score(pairs)
        rows.append({
            "step": step,
            "minutes": round((checkpoint.stat().st_mtime - started) / 60, 1),
            "train_loss": value_at(logged.get("TrainIterStats/loss", []), step),
            "eval_loss": value_at(logged.get("EvalStats/avg_loss", []), step),
            "lr": value_at(logged.get("TrainIterStats/current_lr", []), step),
            "cer": round(report.cer, 3),
            "wer": round(report.wer, 3),
        })
        print(run_dir.parent.name, rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60, help="training wall time of each run")
    parser.add_argument("--n", type=int, default=600, help="utterances in the demo corpus")
    parser.add_argument("--save-step", type=int, default=250, help="checkpoint (and CER point) every N steps")
    parser.add_argument("--only", choices=sorted(SETUPS), help="run one setup only")
    parser.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench_convergence")
    args = parser.parse_args(argv)

    from rutts.intelligibility import Meter

    meter = Meter(threads=2)  # fail early if the optional meter is not installed
    args.work.mkdir(parents=True, exist_ok=True)
    corpus = prepare_corpus(args.work, args.n)
    results = {}
    for name in [args.only] if args.only else list(SETUPS):
        tick = time.time()
        run_dir = train(name, corpus, args.work, args.minutes, args.save_step)
        print(f"{name}: trained in {(time.time() - tick) / 60:.1f} min -> {run_dir}", flush=True)
        results[name] = score_checkpoints(run_dir, corpus, meter)
    (args.work / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")

    print(f"\n{'setup':6} {'minutes':>7} {'step':>6} {'lr':>9} {'train loss':>10} {'eval loss':>9} {'CER':>6}")
    for name, rows in results.items():
        for row in rows:
            print(f"{name:6} {row['minutes']:7.1f} {row['step']:6d} {row['lr']:9.2e} {row['train_loss']:10.3f} "
                  f"{row['eval_loss']:9.3f} {row['cer']:6.3f}")
    for name, rows in results.items():
        if rows:
            print(f"{name}: final CER {rows[-1]['cer']:.3f} after {rows[-1]['minutes']:.0f} min "
                  f"(best {min(r['cer'] for r in rows):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
