"""Her own voice: fine-tuning the base model on 5, 10, 20 minutes of a new speaker against the base model and against
training from scratch on the same minutes for the same number of steps.

    nice -n 15 python bench/bench_own_voice.py --base outputs/<base run> --minutes 5 10 20 --steps 300
    nice -n 15 python bench/bench_own_voice.py --base outputs/<base run> --minutes 10 --lrs 1e-4 3e-4 1e-3 --steps 150
    python bench/bench_own_voice.py --base outputs/<base run> --minutes 10 --steps 900 --curve 300 --parallel 2
    python bench/bench_own_voice.py --base outputs/<base run> --minutes 10 --steps 5000 --max-minutes 60 --parallel 2
    python bench/bench_own_voice.py --base outputs/<base run> --minutes 10 --vocoder outputs/<frame vocoder run> \
        --vocoder-minutes 20 --vocoder-only      # her held-out recordings through the vocoder, before/after fine-tuning
    nice -n 15 python bench/bench_own_voice.py --quick          # end to end in ~10 min: a 40-step base, 1 minute

Stand-in for her voice: RHVoice --voice (female; the base model, trained on the demo corpus's male teacher, never heard
it) reads the recording script (make_recording_script's choice from the built-in pool) through a simulated home
microphone: a small room (synthetic exponentially decaying impulse response), low background noise, loudness varying
from sentence to sentence, 48 kHz stereo takes of about three minutes with pauses. The takes go through
import_recordings (split, match, check) and check_sample_rate, as hers would; the first N minutes of clips make the
N-minute corpus. Held-out sentences (in neither the script nor the demo corpus) read the same way are the reference.

Scores on the held-out sentences: speaker similarity (cosine of resemblyzer speaker embeddings, synthesized speech
against the held-out recordings; target-vs-itself, half against half, and base-vs-target are the ends of the scale;
"share" is how much of that distance a model covers; the held-out recordings through our mel and Griffin-Lim show
the most a Griffin-Lim model can reach) and Whisper-base CER. Needs requirements-eval.txt.
--vocoder: a vocoder trained on the demo corpus, fine-tuned on her N minutes for --vocoder-minutes on one core
(train_vocoder.py --restore-path); her held-out recordings through our mel and Griffin-Lim, that vocoder and the
fine-tuned one: PESQ-wb and STOI against the recordings, similarity and CER — the most a model heard through each
can reach.
Everything is kept in --work (default outputs/bench_own_voice/); a rerun skips what is done; results.json at the end.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from her_voice import import_corpus, make_scripts, render_singles, render_takes, subset_corpus  # noqa: E402
from rutts.audio import write_wav  # noqa: E402
from rutts.dataset import read_metadata  # noqa: E402
from rutts.run import numbered  # noqa: E402


# OpenMP threads that spin while waiting make a training step ~13x slower when other processes share the cores
# (measured here: a CPU-preset GlowTTS step of batch 16, 2 threads, 3 other busy processes: 50 s; passive: 3.7 s).
TRAIN_ENV = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}

# ------------------------------------------------------------------------------------------------ training


def train(name: str, args: list[str], runs: Path, threads: int | None = None) -> dict:
    """One train_glowtts.py run (a separate process, as a user runs it); its folder, steps, wall and CPU minutes.
    `threads` caps its OpenMP threads (two runs side by side on 2 cores get one each)."""
    out = runs / name
    done = out / "bench_run.json"
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = TRAIN_ENV if threads is None else {**TRAIN_ENV, "OMP_NUM_THREADS": str(threads)}
    started = time.monotonic()
    with (out / "train.log").open("w", encoding="utf-8") as log:
        command = [sys.executable, "train_glowtts.py", *args, "--output-path", str(out), "--health-every", "0"]
        print("$", " ".join(command[1:]), flush=True)
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        cpu = None
        if hasattr(os, "wait4"):  # this child's own CPU time, also when another run goes on beside it
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu = (usage.ru_utime + usage.ru_stime) / 60
        else:  # Windows: CPU time is not reported
            process.wait()
    # 130: stopped with Ctrl-C or SIGTERM, the checkpoint of that step saved: scored like a finished run.
    if process.returncode not in (0, 130):
        raise subprocess.CalledProcessError(process.returncode, command)
    wall = time.monotonic() - started
    run = next(p for p in out.iterdir() if p.is_dir())
    steps = int(numbered(run, "checkpoint")[-1].stem.rsplit("_", 1)[-1])
    if process.returncode == 130:
        print(f"{name}: stopped by a signal at step {steps}, scored as it is", flush=True)
    info = {"run": str(run), "steps": steps, "wall_minutes": round(wall / 60, 1),
            "cpu_minutes": None if cpu is None else round(cpu, 1), "threads": threads,
            "stopped": process.returncode == 130}
    done.write_text(json.dumps(info), encoding="utf-8")
    return info


# ------------------------------------------------------------------------------------------------ scoring


def synthesize(model: str, texts: list[str], folder: Path) -> list[Path]:
    from rutts.speech import Voice

    wavs = [folder / f"{n:03d}.wav" for n in range(1, len(texts) + 1)]
    if all(w.is_file() for w in wavs):
        return wavs
    folder.mkdir(parents=True, exist_ok=True)
    voice = Voice.load(model)
    for wav, text in zip(wavs, texts):
        write_wav(wav, voice.synthesize(text), voice.sample_rate)
    return wavs


def griffin_lim_copies(recordings: list[Path], folder: Path) -> list[Path]:
    """The recordings through our mel and Griffin-Lim: the closest a model heard through Griffin-Lim can get."""
    import torch
    from bench_vocoder import copy_synthesis
    from TTS.utils.audio import AudioProcessor

    from rutts.train.config import load_config
    from rutts.speech import GriffinLim

    wavs = [folder / w.name for w in recordings]
    if all(w.is_file() for w in wavs):
        return wavs
    folder.mkdir(parents=True, exist_ok=True)
    ap = AudioProcessor(load_config(ROOT / "config.json").audio)
    clips = [(source.stem, ap.load_wav(str(source))) for source in recordings]
    for wav, audio in zip(wavs, copy_synthesis(GriffinLim(ap, torch.device("cpu")), clips, ap)):
        write_wav(wav, audio, ap.sample_rate)
    return wavs


class Scorer:
    def __init__(self, reference: list[Path], texts: list[str]):
        from resemblyzer import VoiceEncoder

        from rutts.intelligibility import Meter

        self.encoder = VoiceEncoder("cpu", verbose=False)
        self.meter = Meter(threads=2)
        self.texts = texts
        self.reference = self.embed(reference)
        half = len(reference) // 2
        self.self_similarity = float(self.embed(reference[:half]) @ self.embed(reference[half:]))

    def embed(self, wavs: list[Path]) -> np.ndarray:
        from resemblyzer import preprocess_wav

        return self.encoder.embed_speaker([preprocess_wav(w) for w in wavs])

    def score(self, wavs: list[Path]) -> dict:
        return {"similarity": round(float(self.embed(wavs) @ self.reference), 4),
                "cer": round(self.meter.score(list(zip(wavs, self.texts))).cer, 4)}


def through_vocoders(reference: list[Path], named: dict[str, str | None], folder: Path, scorer) -> list[dict]:
    """Her held-out recordings through our mel and each vocoder (None: Griffin-Lim): PESQ-wb, STOI, similarity, CER."""
    import torch
    from bench_vocoder import copy_synthesis, scores
    from TTS.utils.audio import AudioProcessor

    from rutts.speech import GriffinLim
    from rutts.speech.vocoders import make_vocoder, vocoder_files
    from rutts.train.config import load_config

    audio_config = load_config(ROOT / "config.json").audio
    ap = AudioProcessor(audio_config)
    clips = [(source.stem, ap.load_wav(str(source))) for source in reference]
    rows = []
    for name, run in named.items():
        vocoder = (GriffinLim(ap, torch.device("cpu")) if run is None else
                   make_vocoder(*vocoder_files(run), ap, audio_config, torch.device("cpu")))
        waves = copy_synthesis(vocoder, clips, ap)
        wavs = [folder / name / f"{utt}.wav" for utt, _ in clips]
        wavs[0].parent.mkdir(parents=True, exist_ok=True)
        for wav, audio in zip(wavs, waves):
            write_wav(wav, audio, ap.sample_rate)
        quality = scores(clips, waves, ap.sample_rate)
        rows.append({"vocoder": name, **{k: round(v, 4) for k, v in quality.items()}, **scorer.score(wavs)})
        print(f"  her held-out recordings through {name}: PESQ-wb {quality['pesq_wb']:.2f}, STOI {quality['stoi']:.3f}, "
              f"similarity {rows[-1]['similarity']:.3f}, CER {rows[-1]['cer']:.3f}", flush=True)
    return rows


def finetune_vocoder(base_vocoder: str, corpus: Path, minutes: float, runs: Path) -> str:
    """train_vocoder.py --restore-path <base vocoder> on her corpus, one thread, for `minutes`; its run folder."""
    out = runs / f"vocoder_{corpus.name}"
    done = out / "bench_run.json"
    if done.is_file():
        return json.loads(done.read_text(encoding="utf-8"))["run"]
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    command = [sys.executable, "train_vocoder.py", "--tts-config", str(ROOT / "config.json"), "--data", str(corpus),
               "--restore-path", base_vocoder, "--max-minutes", f"{minutes:g}", "--output-path", str(out)]
    print("$", " ".join(command[1:]), flush=True)
    with (out / "train.log").open("w", encoding="utf-8") as log:
        subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True,
                       env={**TRAIN_ENV, "OMP_NUM_THREADS": "1"})
    run = str(next(p for p in out.iterdir() if p.is_dir()))
    done.write_text(json.dumps({"run": run}), encoding="utf-8")
    return run


def score_checkpoints(run: Path, scorer: Scorer, texts: list[str], folder: Path, low: float, top: float) -> list:
    """Similarity, share and CER of every checkpoint_<step>.pth of a run: how the voice moves with training."""

    points = []
    for checkpoint in numbered(run, "checkpoint"):
        step = int(checkpoint.stem.rsplit("_", 1)[-1])
        scores = scorer.score(synthesize(str(checkpoint), texts, folder / f"step_{step}"))
        points.append({"step": step, **scores, "share": round(share(scores["similarity"], low, top), 3)})
        print(f"  {run.parent.name} step {step}: similarity {scores['similarity']:.3f} "
              f"(share {points[-1]['share']:.0%}), CER {scores['cer']:.3f}", flush=True)
    return points


def share(similarity: float, base: float, top: float) -> float:
    """How much of the distance from base-vs-target to target-vs-itself a model covers."""
    return (similarity - base) / (top - base) if top != base else 0.0


# ------------------------------------------------------------------------------------------------ main


def quick_base(work: Path) -> str:
    info = train("quick_base", ["--preset", "cpu", "--data", str(ROOT / "data" / "demo_22k"), "--max-steps", "40"],
                 work / "runs")
    return info["run"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Свой голос: дообучение против базовой модели и обучения с нуля.")
    parser.add_argument("--base", help="папка прогона базовой модели (демо-корпус, мужской голос)")
    parser.add_argument("--minutes", type=float, nargs="+", default=[5, 10, 20], help="минуты записей")
    parser.add_argument("--steps", type=int, default=300, help="шагов обучения на каждую модель")
    parser.add_argument("--max-minutes", type=float,
                        help="и не дольше стольких минут на модель (дообучение и с нуля получают одно время)")
    parser.add_argument("--lrs", type=float, nargs="+", help="подбор lr: дообучить с каждым (на первом --minutes)")
    parser.add_argument("--warmup", type=int, help="warmup_steps поверх пресета finetune")
    parser.add_argument("--no-scratch", action="store_true", help="без обучения с нуля")
    parser.add_argument("--curve", type=int, metavar="K",
                        help="сохранять чекпоинт каждые K шагов и оценить каждый: сходство и CER против шагов")
    parser.add_argument("--parallel", type=int, default=1,
                        help="обучать столько моделей сразу, по одному потоку каждая (2 на 2 ядрах)")
    parser.add_argument("--voice", default="elena", help="голос RHVoice вместо её голоса (по умолчанию elena)")
    parser.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench_own_voice")
    parser.add_argument("--quick", action="store_true", help="быстрый сквозной прогон: база 40 шагов, 1 мин, 10 шагов")
    parser.add_argument("--vocoder", help="вокодер, обученный на демо-корпусе: дообучить на её минутах и сравнить")
    parser.add_argument("--vocoder-minutes", type=float, default=20, help="минут дообучения вокодера (одно ядро)")
    parser.add_argument("--vocoder-only", action="store_true", help="только часть с вокодером, без обучения TTS")
    args = parser.parse_args(argv)
    if args.quick:
        args.work = args.work.with_name(args.work.name + "_quick")
        args.minutes, args.steps = [1.0], 10
    if not args.base and not args.quick:
        parser.error("нужна --base (или --quick)")
    if args.max_minutes is not None and args.max_minutes <= 0:
        parser.error(f"--max-minutes: больше нуля (дано {args.max_minutes:g})")
    if args.curve is not None and args.curve < 1:
        parser.error(f"--curve: чекпоинт каждые K шагов, K ≥ 1 (дано {args.curve})")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    base = args.base or quick_base(work)

    script, held_out = make_scripts(work, max(args.minutes) * 1.3 + 2)  # her pace and trimming shorten it
    texts = [text for _, text in read_metadata(script)]
    render_takes(texts, work / "recordings", args.voice, seed=1)
    held_texts = [text for _, text in read_metadata(held_out)]
    render_singles(held_texts, work / "held_out_recordings", args.voice, seed=2)
    full = import_corpus(work / "recordings", script, work / "corpus_full")
    reference_corpus = import_corpus(work / "held_out_recordings", held_out, work / "held_out_corpus")
    reference = [w for utt, _ in read_metadata(held_out) if (w := reference_corpus / "RUSLAN" / f"{utt}.wav").is_file()]

    scorer = Scorer(reference, held_texts)
    results = {"voice": args.voice, "base": base, "steps": args.steps, "target_vs_itself": scorer.self_similarity,
               "held_out": len(held_texts), "models": []}
    base_scores = scorer.score(synthesize(base, held_texts, work / "synth" / "base"))
    results["base_vs_target"] = base_scores["similarity"]
    results["models"].append({"model": "base", "minutes": 0, **base_scores})
    low, top = base_scores["similarity"], scorer.self_similarity
    through_gl = scorer.score(griffin_lim_copies(reference, work / "synth" / "target_griffin_lim"))
    ceiling = through_gl["similarity"]
    results["target_through_griffin_lim"], results["target_through_griffin_lim_cer"] = ceiling, through_gl["cer"]
    print(f"scale: base vs target {low:.3f} … target vs itself {top:.3f} (through Griffin-Lim {ceiling:.3f}, "
          f"share {share(ceiling, low, top):.0%}, CER {through_gl['cer']:.3f}); base CER {base_scores['cer']:.3f}")

    if args.vocoder:
        corpus = subset_corpus(full, work / f"corpus_{args.minutes[0]:g}min", args.minutes[0])
        tuned = finetune_vocoder(args.vocoder, corpus, args.vocoder_minutes, work / "runs")
        results["vocoders"] = through_vocoders(reference, {"griffin-lim": None, "demo vocoder": args.vocoder,
                                                           "fine-tuned vocoder": tuned}, work / "synth", scorer)
        (work / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
        if args.vocoder_only:
            return 0
    finetune = ["--preset", "finetune", "--restore-path", base, "--max-steps", str(args.steps)]
    if args.warmup is not None:
        finetune.append(f'--coqpit.lr_scheduler_params={{"warmup_steps": {args.warmup}}}')
    jobs = []
    if args.lrs:
        corpus = subset_corpus(full, work / f"corpus_{args.minutes[0]:g}min", args.minutes[0])
        for lr in args.lrs:
            jobs.append((f"ft_{args.minutes[0]:g}min_lr{lr:g}", args.minutes[0],
                         finetune + ["--data", str(corpus), f"--coqpit.lr={lr}"]))
    else:
        for minutes in args.minutes:
            corpus = subset_corpus(full, work / f"corpus_{minutes:g}min", minutes)
            jobs.append((f"ft_{minutes:g}min", minutes, finetune + ["--data", str(corpus)]))
            if not args.no_scratch:
                jobs.append((f"scratch_{minutes:g}min", minutes,
                             ["--preset", "cpu", "--data", str(corpus), "--max-steps", str(args.steps)]))
    if args.max_minutes:
        jobs = [(name, minutes, job + ["--max-minutes", f"{args.max_minutes:g}"]) for name, minutes, job in jobs]
    if args.curve:
        jobs = [(name, minutes, job + [f"--coqpit.save_step={args.curve}", "--coqpit.save_n_checkpoints=1000"])
                for name, minutes, job in jobs]
    threads = 1 if args.parallel > 1 else None
    with ThreadPoolExecutor(args.parallel) as pool:
        infos = list(pool.map(lambda job: train(job[0], job[2], work / "runs", threads), jobs))
    for (name, minutes, _), info in zip(jobs, infos):
        scores = scorer.score(synthesize(info["run"], held_texts, work / "synth" / name))
        row = {"model": name, "minutes": minutes, **info, **scores,
               "share": round(share(scores["similarity"], low, top), 3)}
        results["models"].append(row)
        if args.curve:
            row["curve"] = score_checkpoints(Path(info["run"]), scorer, held_texts, work / "synth" / name, low, top)
        print(f"{name}: similarity {scores['similarity']:.3f} (share {row['share']:.0%}), CER {scores['cer']:.3f}, "
              f"{info['steps']} steps, {info['wall_minutes']} min wall, {info['cpu_minutes']} CPU min", flush=True)
        (work / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")

    print(f"\nheld-out sentences: {len(held_texts)}; target vs itself {top:.3f}, base vs target {low:.3f}, "
          f"target through Griffin-Lim {ceiling:.3f} (share {share(ceiling, low, top):.0%}, "
          f"CER {through_gl['cer']:.3f})")
    print(f"{'model':<22} {'min':>4} {'similarity':>10} {'share':>6} {'CER':>6} {'steps':>6} {'wall':>6} {'CPU':>6}")
    for row in results["models"]:
        share_text = f"{row['share']:.0%}" if "share" in row else "—"
        print(f"{row['model']:<22} {row['minutes']:>4g} {row['similarity']:>10.3f} {share_text:>6} {row['cer']:>6.3f} "
              f"{row.get('steps', '—')!s:>6} {row.get('wall_minutes', '—')!s:>6} {row.get('cpu_minutes', '—')!s:>6}")
    (work / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
