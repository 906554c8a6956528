"""Her own voice: fine-tuning the base model on 5, 10, 20 minutes of a new speaker against the base model and against
training from scratch on the same minutes for the same number of steps.

    nice -n 15 python bench/bench_own_voice.py --base outputs/<base run> --minutes 5 10 20 --steps 300
    nice -n 15 python bench/bench_own_voice.py --base outputs/<base run> --minutes 10 --lrs 1e-4 3e-4 1e-3 --steps 150
    python bench/bench_own_voice.py --base outputs/<base run> --minutes 10 --steps 900 --curve 300 --parallel 2
    python bench/bench_own_voice.py --base outputs/<base run> --minutes 10 --steps 5000 --max-minutes 60 --parallel 2
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
Everything is kept in --work (default outputs/bench_own_voice/); a rerun skips what is done; results.json at the end.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rutts.audio import resample, write_wav  # noqa: E402
from rutts.dataset import read_metadata  # noqa: E402
from rutts.run import numbered  # noqa: E402

TAKE_RATE = 48000
TAKE_SECONDS = 180
HELD_OUT = 24
DEMO_METADATA = ROOT / "data" / "demo" / "metadata_RUSLAN_22200.csv"

# OpenMP threads that spin while waiting make a training step ~13x slower when other processes share the cores
# (measured here: a CPU-preset GlowTTS step of batch 16, 2 threads, 3 other busy processes: 50 s; passive: 3.7 s).
TRAIN_ENV = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}

# ------------------------------------------------------------------------------------------------ her voice


def speak(text: str, voice: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(["RHVoice-test", "-p", voice, "-o", str(wav)], input=text.encode("utf-8"), check=True)
        audio, rate = sf.read(wav, dtype="float32")
    return audio, rate


def room_impulse(rate: int, rng: np.random.Generator, rt60: float = 0.3, direct_to_reverb_db: float = 8.0):
    """Direct sound plus a noise tail decaying by 60 dB over rt60 seconds: a small furnished room."""
    t = np.arange(int(rt60 * rate)) / rate
    tail = rng.normal(size=t.size) * np.exp(-6.9 * t / rt60)
    tail[: int(0.004 * rate)] = 0.0  # the first reflection arrives a few milliseconds after the direct sound
    tail *= np.sqrt(10 ** (-direct_to_reverb_db / 10) / np.sum(tail**2))
    tail[0] = 1.0
    return tail.astype(np.float32)


def home_mic(speech: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Room reverb, a low rumble of background noise, a level somewhere between -12 and -4 dBFS peak; stereo."""
    from scipy.signal import fftconvolve, lfilter

    wet = fftconvolve(speech, room_impulse(rate, rng))[: len(speech)]
    wet *= 10 ** (rng.uniform(-12, -4) / 20) / max(1e-6, np.abs(wet).max())
    noise = lfilter([1.0], [1.0, -0.95], rng.normal(size=(len(wet), 2)), axis=0)  # darker than white, like a room
    noise *= 10 ** (rng.uniform(-60, -52) / 20) / np.sqrt(np.mean(noise**2))
    return (wet[:, None] * np.array([1.0, 0.92]) + noise).astype(np.float32)


def begin(folder: Path) -> bool:
    """False when `folder` was rendered to the end before; else it is made empty to render into."""
    if (folder / "done").is_file():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return True


def render_takes(texts: list[str], folder: Path, voice: str, seed: int) -> None:
    """Long takes read in order, each about TAKE_SECONDS, with 0.8-1.6 s pauses and varied loudness."""
    if not begin(folder):
        return
    rng = np.random.default_rng(seed)
    take, seconds, number = [np.zeros(int(0.6 * TAKE_RATE), np.float32)], 0.0, 1
    for index, text in enumerate(texts):
        audio, rate = speak(text, voice)
        audio = resample(audio, rate, TAKE_RATE) * np.float32(10 ** (rng.uniform(-4, 4) / 20))
        take += [audio, np.zeros(int(rng.uniform(0.8, 1.6) * TAKE_RATE), np.float32)]
        seconds += len(audio) / TAKE_RATE
        if seconds >= TAKE_SECONDS or index == len(texts) - 1:
            sf.write(folder / f"дубль{number:02d}.wav", home_mic(np.concatenate(take), TAKE_RATE, rng), TAKE_RATE)
            take, seconds, number = [np.zeros(int(0.6 * TAKE_RATE), np.float32)], 0.0, number + 1
    (folder / "done").write_text("ok")


def render_singles(texts: list[str], folder: Path, voice: str, seed: int) -> None:
    if not begin(folder):
        return
    rng = np.random.default_rng(seed)
    for number, text in enumerate(texts, 1):
        audio, rate = speak(text, voice)
        padded = np.concatenate([np.zeros(int(0.4 * rate), np.float32), audio, np.zeros(int(0.5 * rate), np.float32)])
        sf.write(folder / f"{number:03d}.wav", home_mic(resample(padded, rate, TAKE_RATE), TAKE_RATE, rng), TAKE_RATE)
    (folder / "done").write_text("ok")


# ------------------------------------------------------------------------------------------------ corpora


def write_metadata(path: Path, texts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{n:06d}_RUSLAN|{t}\n" for n, t in enumerate(texts, 1)), encoding="utf-8")
    return path


def make_scripts(work: Path, minutes: float) -> tuple[Path, Path]:
    """The recording script (greedy coverage, as make_recording_script.py writes it) and the held-out sentences:
    pool sentences in neither the script nor the demo corpus."""
    from rutts.own_voice.script import choose, prepare_candidates, read_pool, write_script
    from rutts.text import FrontEnd

    script_dir, held_out = work / "script", work / "held_out.csv"
    if (script_dir / "metadata.csv").is_file() and held_out.is_file():
        return script_dir / "metadata.csv", held_out
    candidates, _ = prepare_candidates([(t, "pool") for t in read_pool()], FrontEnd())
    demo = {text for _, text in read_metadata(DEMO_METADATA)}
    rng = np.random.default_rng(7)
    unseen = [c for c in candidates if c.text not in demo and 25 <= len(c.text) <= 90]
    reference = [unseen[i] for i in sorted(rng.choice(len(unseen), HELD_OUT, replace=False))]
    script = choose([c for c in candidates if c not in reference], minutes)
    write_script(script_dir, script)
    write_metadata(held_out, [c.text for c in reference])
    print(f"script: {len(script.sentences)} sentences, ~{script.seconds / 60:.1f} min, coverage {script.coverage:.1%}")
    return script_dir / "metadata.csv", held_out


def import_corpus(recordings: Path, script: Path, out: Path) -> Path:
    from rutts.own_voice.importer import REPORT_JSON, import_recordings

    if not (out / REPORT_JSON).is_file():
        result = import_recordings([recordings], script, out, 22050)
        print(f"imported {recordings.name}: kept {len(result.kept)} ({result.kept_seconds() / 60:.1f} min), "
              f"set aside {len(result.clips) - len(result.kept)}, missing {len(result.missing)}")
    return out


def subset_corpus(full: Path, out: Path, minutes: float) -> Path:
    """The first `minutes` of kept clips, in script order, as a corpus of its own with its split."""
    import check_sample_rate

    if (out / "metadata_train.csv").is_file():
        return out
    (out / "RUSLAN").mkdir(parents=True, exist_ok=True)
    rows, total = [], 0.0
    for utt_id, text in read_metadata(full / "metadata_RUSLAN.csv"):
        seconds = sf.info(full / "RUSLAN" / f"{utt_id}.wav").duration
        if total + seconds > minutes * 60:
            break
        shutil.copyfile(full / "RUSLAN" / f"{utt_id}.wav", out / "RUSLAN" / f"{utt_id}.wav")
        rows.append(f"{utt_id}|{text}\n")
        total += seconds
    (out / "metadata_RUSLAN.csv").write_text("".join(rows), encoding="utf-8")
    check_sample_rate.main([str(out), "--config", str(ROOT / "config.json")])
    print(f"corpus {out.name}: {len(rows)} clips, {total / 60:.1f} min")
    return out


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
