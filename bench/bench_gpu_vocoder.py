"""Vocoders on a GPU: a few minutes of each GPU preset, then how long an 8 GB RTX 4060 needs to reach a target PESQ.

    python bench/bench_gpu_vocoder.py --tts-config config.json --corpus data/demo_22k --minutes 8
    python bench/bench_gpu_vocoder.py --minutes 0.5 --presets freev_cpu     # a dry run of the plumbing without a GPU

Each preset (by default the CPU winner's GPU preset freev_gpu8gb and HiFi-GAN's gpu8gb) trains with
train_vocoder.py for --minutes, in mixed precision on CUDA, in a process capped at --budget-gb of GPU memory
(torch.cuda.set_per_process_memory_fraction: "fits" means it really ran inside it). Then, for each run:
- steps/s, from the wall time of its logged steps (start-up and evaluation excluded);
- peak allocated and reserved GPU memory of the training process;
- copy-synthesis PESQ-wb of every checkpoint on the held-out clips (bench_vocoder.py's scoring) and of Griffin-Lim;
- a fit PESQ = a + b·ln(minutes) over those checkpoints, solved for --target-pesq: the minutes this GPU needs, and
  times --slowdown (this GPU's speed over an RTX 4060's: an assumption, printed with the result) the hours an
  RTX 4060 needs. A log fit of a few minutes' curve is a rough guide: vocoder curves flatten later.
Needs the eval extra (pip install -r requirements-eval.txt).
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

GIB = 2**30
# Runs train_vocoder.py in this process after capping its GPU memory, and leaves the peaks in $PEAK_FILE at exit.
CAPPED_RUN = """
import atexit, json, os, runpy, sys, torch
if torch.cuda.is_available():
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, float(os.environ["BUDGET_GB"]) * 2**30 / total), 0)
    atexit.register(lambda: open(os.environ["PEAK_FILE"], "w").write(json.dumps(
        {"allocated": torch.cuda.max_memory_allocated(), "reserved": torch.cuda.max_memory_reserved()})))
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def train(preset: str, minutes: float, tts_config: Path, corpus: Path, out: Path, budget_gb: float) -> tuple[Path, dict]:
    """One capped training run of `preset`; (its run folder, its peak GPU memory in bytes or {} on a CPU)."""
    peak_file = out / f"{preset}_peak.json"
    command = [sys.executable, "-c", CAPPED_RUN, str(ROOT / "train_vocoder.py"), "--tts-config", str(tts_config),
               "--data", str(corpus), "--preset", preset, "--max-minutes", str(minutes),
               "--output-path", str(out / preset), "--health-every", "0"]
    if torch.cuda.is_available():
        command.append("--coqpit.mixed_precision=true")
    with open(out / f"{preset}.log", "w", encoding="utf-8") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PEAK_FILE": str(peak_file), "BUDGET_GB": str(budget_gb)})
    if code != 0:
        raise SystemExit(f"{preset}: обучение завершилось с кодом {code}, см. {out / f'{preset}.log'}")
    run = next((out / preset).iterdir())
    return run, json.loads(peak_file.read_text()) if peak_file.is_file() else {}


def steps_per_second(run: Path) -> float:
    """Steps per second between the first and the last logged step (nan with fewer than two)."""
    from bench_vocoder import step_minutes

    table = step_minutes(run)
    first, last = min(table), max(table)
    seconds = (table[last] - table[first]) * 60
    return (last - first) / seconds if seconds > 0 else float("nan")


def minutes_to(target: float, rows: list[dict]) -> float | None:
    """Minutes where PESQ = a + b·ln(minutes), least squares over `rows`, reaches `target`; None when it can't tell
    (fewer than two checkpoints past the first minute, or a curve that does not rise)."""
    points = [(row["minutes"], row["pesq_wb"]) for row in rows if row["minutes"] >= 1]
    if len(points) < 2:
        return None
    slope, intercept = np.polyfit(np.log([m for m, _ in points]), [p for _, p in points], 1)
    return math.exp((target - intercept) / slope) if slope > 0 else None


def main(argv=None) -> int:
    from rutts.cli import ArgumentParser, positive

    parser = ArgumentParser(description="Вокодеры на видеокарте: несколько минут каждого пресета и оценка часов "
                                        "RTX 4060 до целевого PESQ.")
    parser.add_argument("--tts-config", type=Path, default=ROOT / "config.json")
    parser.add_argument("--corpus", type=Path, default=Path("data/demo_22k"))
    parser.add_argument("--presets", nargs="+", default=["freev_gpu8gb", "gpu8gb"])
    parser.add_argument("--minutes", type=positive, default=8.0, help="минут обучения на пресет")
    parser.add_argument("--budget-gb", type=positive, default=7.0, help="сколько памяти видеокарты дать процессу")
    parser.add_argument("--target-pesq", type=positive, default=3.5)
    parser.add_argument("--slowdown", type=positive, default=8.0,
                        help="во сколько раз RTX 4060 медленнее этой видеокарты (допущение: H100 против RTX 4060 — "
                             "пропускная способность памяти 3,35 ТБ/с против 272 ГБ/с, fp16-тензорные ядра "
                             "≈990 против ≈120 TFLOPS)")
    parser.add_argument("--out", type=Path, default=Path("outputs/bench_gpu_vocoder"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    from rutts.train.config import available_vocoder_presets

    unknown = sorted(set(args.presets) - set(available_vocoder_presets()))
    if unknown:
        parser.error(f"нет пресетов вокодера {', '.join(unknown)}; есть: {', '.join(available_vocoder_presets())}")

    from TTS.utils.audio import AudioProcessor

    from bench_vocoder import copy_synthesis, curve, held_out_clips, scores
    from rutts.dataset import VAL_FILE, DatasetError
    from rutts.speech.vocoders import GriffinLim
    from rutts.train.config import load_config

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (без видеокарты: проверка сборки)"
    print(f"{device}; предел памяти {args.budget_gb:g} ГиБ, {args.minutes:g} мин на пресет")
    tts_config = load_config(args.tts_config)
    ap = AudioProcessor(tts_config.audio)
    try:
        clips = held_out_clips(args.corpus, VAL_FILE, ap)
    except DatasetError as error:
        parser.error(str(error))
    torch.manual_seed(0)
    gl = scores(clips, copy_synthesis(GriffinLim(ap, torch.device("cpu")), clips, ap), ap.sample_rate)
    print(f"  Гриффин-Лим: PESQ-wb {gl['pesq_wb']:.2f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"device": device, "griffin_lim": gl, "slowdown": args.slowdown, "presets": {}}
    for preset in args.presets:
        run, peak = train(preset, args.minutes, args.tts_config, args.corpus, args.out, args.budget_gb)
        rate = steps_per_second(run)
        rows = curve(run, clips, ap, tts_config.audio, gl["pesq_wb"])
        steps = rows[-1]["step"]
        needed = minutes_to(args.target_pesq, rows)
        row = {"run": str(run), "steps": steps, "steps_per_s": rate, "peak_gib": {k: v / GIB for k, v in peak.items()},
               "curve": rows, "minutes_to_target_here": needed,
               "hours_to_target_rtx4060": needed * args.slowdown / 60 if needed else None}
        result["presets"][preset] = row
        memory = (f"пик {row['peak_gib']['allocated']:.1f} ГиБ (с кэшем {row['peak_gib']['reserved']:.1f})"
                  if peak else "память GPU не замерена")
        estimate = (f"до PESQ {args.target_pesq:g}: ≈{needed:.0f} мин здесь, ≈{row['hours_to_target_rtx4060']:.1f} ч "
                    f"на RTX 4060 (×{args.slowdown:g})" if needed else "до цели: по этой кривой не оценить")
        print(f"  {preset}: {steps} шагов, {rate:.1f} шаг/с, {memory}, PESQ-wb {rows[-1]['pesq_wb']:.2f}; {estimate}",
              flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
