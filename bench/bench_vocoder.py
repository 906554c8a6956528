"""Vocoder benchmark: Griffin-Lim (the default) against vocoders trained by train_vocoder.py.

    python bench/bench_vocoder.py --corpus data/demo_22k --vocoder outputs/<vocoder run> [--vocoder ...] \
        --tts-run outputs/<tts run> --curve --json outputs/bench_vocoder.json
    python bench/bench_vocoder.py --train freev_cpu --train vocos_cpu --minutes 30 60 120 --tts-run outputs/<tts run>

- --train: trains each preset on the corpus, each on a core of its own (Linux: taskset; one thread), stopping at each
  of --minutes with a copy of its best model (more presets than cores: in turns), then scores the copies as --vocoder
  runs, and prints each preset's curve over the marks with the first mark
  where it is at or above Griffin-Lim on both PESQ-wb and P.808 (copies named <preset>_<minutes>m count as marks);
- copy synthesis of the corpus's held-out clips (--meta, by default metadata_val.csv: never trained on): the real
  mel of each clip → Griffin-Lim (--gl-power: at other exponents too) / each vocoder → PESQ-wb (ITU-T P.862.2, at
  16 kHz) and STOI against the clip itself, DNSMOS P.808 (a MOS predicted without reference; the clips' own is
  the top of that scale), and SI-SDR, which train_vocoder.py decides with (rutts.speech.heldout);
  --seeded-gl N: a frame vocoder also with N Griffin-Lim iterations started from its own phase;
- --curve: the same PESQ for every checkpoint of each vocoder run, against its training minutes (from the event
  files' wall time), and where it crosses Griffin-Lim;
- --tts-run: Whisper CER and DNSMOS P.808 of full TTS output (the held-out sentences read by the TTS model) with
  each, and the CPU RTF of the whole text → wav path (front end, GlowTTS, vocoder, joining) on --threads cores;
  --sentences FILE: that CER on these sentences (one per line) instead, e.g. many that the corpus does not have.
Needs the eval extra (pip install -r requirements-eval.txt: pesq, pystoi, speechmos, faster-whisper).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rutts.dataset import VAL_FILE, DatasetError, read_metadata, wav_path  # noqa: E402

RTF_TEXT = ("Добрый день! Сегодня мы разберём третий урок курса. Откройте файл с таблицей и найдите второй столбец. "
            "Если значение пустое, программа выведет предупреждение, а не ошибку. Повторите упражнение дважды, "
            "чтобы закрепить материал. ") * 3


def held_out_clips(corpus: Path, meta: str, ap) -> list[tuple[str, np.ndarray]]:
    """(id, audio as the vocoder sees it: loaded and silence-trimmed by Coqui's AudioProcessor) of `meta`."""
    return [(utt_id, ap.load_wav(str(wav_path(corpus, utt_id)))) for utt_id, _ in read_metadata(corpus / meta)]


def copy_synthesis(vocoder, clips, ap, syn=None) -> list[np.ndarray]:
    from rutts.speech import SynthesisConfig
    from rutts.speech.heldout import copy_synthesis as one

    out = []
    for index, (_, audio) in enumerate(clips):
        torch.manual_seed(index)  # Griffin-Lim starts from a random phase: the same one for every side and run
        out.append(one(vocoder, audio, ap, syn or SynthesisConfig()))
    return out


def scores(clips, waves, rate: int) -> dict:
    from pesq import pesq
    from pystoi import stoi

    from rutts.speech.heldout import si_sdr

    pesqs, stois, sdrs = [], [], []
    for (_, ref), deg in zip(clips, waves):
        n = min(len(ref), len(deg))
        ref16, deg16 = (soxr.resample(x[:n].astype(np.float64), rate, 16000) for x in (ref, deg))
        pesqs.append(pesq(16000, ref16, deg16, "wb"))
        stois.append(stoi(ref[:n], deg[:n], rate, extended=False))
        sdrs.append(si_sdr(ref, deg))
    return {"pesq_wb": float(np.mean(pesqs)), "stoi": float(np.mean(stois)), "p808": p808(waves, rate),
            "si_sdr": float(np.mean(sdrs)), "n": len(pesqs)}


def describe(row: dict) -> str:
    return (f"PESQ-wb {row['pesq_wb']:.2f}, STOI {row['stoi']:.3f}, P.808 {row['p808']:.2f}, "
            f"SI-SDR {row['si_sdr']:.1f} дБ")


def train_presets(presets: list[str], minutes: list[float], corpus: Path, tts_config: Path, out: Path) -> list[Path]:
    """Each preset trained in its own process pinned to a core of its own, stopped at each of `minutes` (continued
    with --continue-path between them) with a copy of its best model in <out>/<preset>_<minutes>m/. More presets than
    cores train in turns, so none shares a core. Returns the copies, in order of preset and minutes."""
    import shutil
    import subprocess

    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    pin_with = shutil.which("taskset") if cores else None
    width = len(cores) or os.cpu_count() or 1
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {preset: None for preset in presets}
    copies = []
    done = 0.0
    for mark in sorted(minutes):
        for first in range(0, len(presets), width):
            jobs = {}
            for core, preset in enumerate(presets[first:first + width]):
                pin = [pin_with, "-c", str(cores[core])] if pin_with else []
                where = (["--continue-path", str(runs[preset])] if runs[preset] else
                         ["--tts-config", str(tts_config), "--data", str(corpus), "--preset", preset,
                          "--output-path", str(out / "runs" / preset)])
                command = [*pin, sys.executable, str(ROOT / "train_vocoder.py"), *where,
                           "--max-minutes", str(mark - done)]
                log = open(out / f"{preset}_{mark:g}m.log", "w", encoding="utf-8")
                jobs[preset] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env), log)
            for preset, (job, log) in jobs.items():
                job.wait()
                log.close()
                runs[preset] = runs[preset] or next((out / "runs" / preset).iterdir())
                copy = out / f"{preset}_{mark:g}m"
                copy.mkdir(parents=True, exist_ok=True)
                for name in ("best_model.pth", "config.json"):
                    shutil.copy2(runs[preset] / name, copy / name)
                copies.append(copy)
        done = mark
        print(f"  обучено {mark:g} мин: {', '.join(presets)}", flush=True)
    return sorted(copies, key=lambda path: (presets.index(path.name.rsplit("_", 1)[0]), path.name))


def crossings(rows: dict[str, dict], gl: dict) -> dict[str, str]:
    """For each preset among copies named <preset>_<minutes>m (as --train leaves them): its PESQ-wb and P.808 at each
    mark, and the first mark where both are at or above Griffin-Lim's."""
    marks: dict[str, list[tuple[float, dict]]] = {}
    for name, row in rows.items():
        preset, _, mark = name.rpartition("_")
        if preset and mark.endswith("m") and mark[:-1].replace(".", "", 1).isdigit():
            marks.setdefault(preset, []).append((float(mark[:-1]), row))
    lines = {}
    for preset, points in marks.items():
        points.sort(key=lambda point: point[0])
        path = " → ".join(f"{row['pesq_wb']:.2f} ({minutes:g} мин)" for minutes, row in points)
        first = next((minutes for minutes, row in points
                      if row["pesq_wb"] >= gl["pesq_wb"] and row["p808"] >= gl["p808"]), None)
        lines[preset] = (f"{preset}: PESQ-wb {path}; " +
                         (f"выше Гриффина-Лима (PESQ и P.808) с отметки {first:g} мин" if first is not None else
                          f"Гриффина-Лима ({gl['pesq_wb']:.2f}) не догнал за {points[-1][0]:g} мин"))
    return lines


def p808(waves, rate: int) -> float:
    """Mean DNSMOS P.808 of the clips: a MOS predicted without a reference, so TTS output can be scored too."""
    from speechmos import dnsmos

    return float(np.mean([dnsmos.run(np.clip(soxr.resample(np.asarray(wave, np.float64), rate, 16000), -1, 1),
                                     16000)["p808_mos"] for wave in waves]))


def step_minutes(run: Path) -> dict[int, float]:
    """Minutes of training at each logged step, from the wall time of the generator's loss events (HiFi-GAN's loss_1,
    a frame vocoder's loss). A gap much longer than the usual one between logged steps is a stop and a
    --continue-path: it counts as one usual gap."""
    from tensorboard.backend.event_processing import event_accumulator as ea

    events = ea.EventAccumulator(str(run), size_guidance={ea.SCALARS: 0})
    events.Reload()
    tag = next(tag for tag in ("TrainIterStats/loss_1", "TrainIterStats/loss") if tag in events.Tags()["scalars"])
    points = sorted(events.Scalars(tag), key=lambda p: p.step)
    gaps = np.diff([p.wall_time for p in points])
    usual = float(np.median(gaps)) if gaps.size else 0.0
    minutes = np.concatenate([[0.0], np.cumsum(np.where(gaps > 5 * usual, usual, gaps))]) / 60
    return {p.step: float(m) for p, m in zip(points, minutes)}


def minutes_at(table: dict[int, float], step: int) -> float:
    nearest = min(table, key=lambda s: abs(s - step))
    return table[nearest]


def curve(run: Path, clips, tts_ap, tts_audio, gl_pesq: float) -> list[dict]:
    from rutts.run import RunFolder, numbered
    from rutts.speech.vocoders import make_vocoder

    table = step_minutes(run)
    rows = []
    for checkpoint in numbered(run, "checkpoint"):
        step = int(checkpoint.stem.split("_")[1])
        vocoder = make_vocoder(checkpoint, RunFolder(run).config_path, tts_ap, tts_audio, torch.device("cpu"))
        row = {"step": step, "minutes": round(minutes_at(table, step), 1),
               **scores(clips, copy_synthesis(vocoder, clips, tts_ap), tts_ap.sample_rate)}
        rows.append(row)
        print(f"  {run.name} шаг {step:>5} ({row['minutes']:5.1f} мин): PESQ-wb {row['pesq_wb']:.2f}, STOI "
              f"{row['stoi']:.3f}", flush=True)
    crossing = next((r for r in rows if r["pesq_wb"] >= gl_pesq), None)
    print(f"  {run.name}: " + (f"PESQ выше Гриффина-Лима с {crossing['minutes']} мин (шаг {crossing['step']})"
                               if crossing else f"за {rows[-1]['minutes'] if rows else 0} мин PESQ не догнал "
                                                f"Гриффина-Лима ({gl_pesq:.2f})"))
    return rows


def rtf_of(voice, syn) -> tuple[float, float]:
    """(whole text → wav path, vocoder stage) real-time factors of one synthesis of RTF_TEXT."""
    voice.stage_seconds.clear()
    started = time.perf_counter()
    audio = voice.synthesize(RTF_TEXT, syn)
    seconds = audio.size / voice.sample_rate
    return (time.perf_counter() - started) / seconds, voice.stage_seconds["vocoder"] / seconds


def one_call(name: str) -> str:
    return f"{name}, пачка одним вызовом"


def gl_label(power: float) -> str:
    return f"griffin-lim, степень {power:g}"


def spoken(voice, syn, corpus: Path, sentences: list[str] | None, out: Path) -> list[tuple[Path, str]]:
    """(wav, text) pairs for the meter: `sentences` if given, else the corpus's held-out sentences."""
    from rutts.audio import write_wav
    from rutts.intelligibility import synthesize_validation

    if sentences is None:
        return synthesize_validation(voice, corpus, out, syn=syn)
    out.mkdir(parents=True, exist_ok=True)
    pairs = []
    for number, text in enumerate(sentences, 1):
        wav = out / f"{number:04d}.wav"
        write_wav(wav, voice.synthesize(text, syn), voice.sample_rate)
        pairs.append((wav, text))
    return pairs


def tts_rows(tts_run: Path, vocoders: list[str], gl_powers: list[float], corpus: Path, sentences: list[str] | None,
             work: Path, threads: int, repeat: int) -> list[dict]:
    """RTF of Griffin-Lim (at the default exponent and at each of `gl_powers`) and of each vocoder (also with the
    whole batch in one generator call, as before FRAMES_PER_CALL), the sides alternated `repeat` times, the best of
    each counting (other processes only ever add time); then the CER of each voice on the same sentences."""
    from rutts.intelligibility import Meter
    from rutts.speech import SynthesisConfig, Voice
    from rutts.speech.vocoders import FRAMES_PER_CALL, GRIFFIN_LIM

    griffin_lim = Voice.load(tts_run, vocoder=GRIFFIN_LIM)
    voices = {"griffin-lim": (griffin_lim, SynthesisConfig())}
    voices.update({gl_label(power): (griffin_lim, SynthesisConfig(gl_power=power)) for power in gl_powers})
    voices.update({Path(vocoder).name: (Voice.load(tts_run, vocoder=vocoder), SynthesisConfig())
                   for vocoder in vocoders})
    trained = [Path(vocoder).name for vocoder in vocoders]
    sides = [(name, name, FRAMES_PER_CALL) for name in voices] + [(one_call(name), name, 10**9) for name in trained]
    for voice, syn in voices.values():
        voice.synthesize("Разминка перед замером.", syn)
    best = {label: (float("inf"), float("inf")) for label, _, _ in sides}
    for _ in range(repeat):
        for label, name, per_call in sides:
            if name in trained:
                voices[name][0].vocoder.frames_per_call = per_call
            best[label] = min(best[label], rtf_of(*voices[name]))
    for name in trained:  # the CER below is of the default path
        voices[name][0].vocoder.frames_per_call = FRAMES_PER_CALL
    print(f"  RTF текст → wav на {threads} ядрах, {len(RTF_TEXT)} символов, лучший из {repeat} попеременных:")
    for label, (rtf, vocoder_rtf) in best.items():
        print(f"    {label}: {rtf:.3f} (из них вокодер {vocoder_rtf:.3f})", flush=True)
    for name in trained:
        ratio = best[one_call(name)][1] / best[name][1]
        print(f"    {name}: вокодер пачкой одним вызовом / по {FRAMES_PER_CALL} кадров = {ratio:.2f}×")
    meter = Meter(threads=threads)
    rows, reports = [], {}
    for name, (voice, syn) in voices.items():
        pairs = spoken(voice, syn, corpus, sentences, work / name.replace(", ", "_").replace(" ", "_"))
        reports[name] = report = meter.score(pairs)
        mos = p808([sf.read(wav, dtype="float64")[0] for wav, _ in pairs], voice.sample_rate)
        rtf, vocoder_rtf = best[name]
        rows.append({"vocoder": name, "cer": report.cer, "p808": mos, "n": report.n, "rtf": rtf,
                     "vocoder_rtf": vocoder_rtf, "rtf_one_call": best.get(one_call(name)), "chars": len(RTF_TEXT)})
        print(f"  TTS с {name}: CER {report.cer:.3f}, DNSMOS P.808 {mos:.2f} (N={report.n})", flush=True)
    looped = [(Path(row.wav).name, name, row.transcript) for name, report in reports.items()
              for row in report.looped()]
    for clip, name, transcript in looped:
        print(f"  Whisper зациклился на {clip} с {name} (ошибок больше, чем букв во фразе): «{transcript[:60]}…»")
    dropped = {clip for clip, _, _ in looped}
    for row in rows:
        row["cer_without_loops"] = reports[row["vocoder"]].cer_without(dropped)
    if dropped:
        print(f"  CER без {len(dropped)} таких фраз, у всех сторон одних и тех же: " + ", ".join(
            f"{row['vocoder']} {row['cer_without_loops']:.3f}" for row in rows if row["cer_without_loops"] is not None))
    for row in rows:
        if row["vocoder"] == "griffin-lim":
            continue
        row["cer_gap"] = gap = cer_gap(reports[row["vocoder"]], reports["griffin-lim"], dropped)
        print(f"  CER {row['vocoder']} − Гриффин-Лим: {gap['gap']:+.3f} (95 % bootstrap по фразам {gap['low']:+.3f}…"
              f"{gap['high']:+.3f}; хуже на {gap['worse']} фразах, лучше на {gap['better']})")
    return rows


def cer_gap(report, baseline, dropped: set[str], rounds: int = 1000) -> dict:
    """CER of `report` minus that of `baseline` on the same sentences (without `dropped` clips), with a 95 % interval
    from resampling the sentences (the same resample on both sides), and on how many sentences it is worse / better."""
    from rutts.intelligibility.meter import corpus_cer

    pairs = [(row, base) for row, base in zip(report.rows, baseline.rows) if Path(row.wav).name not in dropped]

    def gap(chosen):
        return corpus_cer([pairs[i][0] for i in chosen]) - corpus_cer([pairs[i][1] for i in chosen])

    rng = np.random.default_rng(0)
    spread = [gap(rng.integers(0, len(pairs), len(pairs))) for _ in range(rounds)]
    low, high = np.percentile(spread, [2.5, 97.5])
    return {"gap": gap(range(len(pairs))), "low": float(low), "high": float(high),
            "worse": sum(row.cer > base.cer for row, base in pairs), "better": sum(row.cer < base.cer for row, base in pairs)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Griffin-Lim против обученного вокодера: PESQ-wb, STOI, CER, RTF.")
    parser.add_argument("--corpus", type=Path, default=Path("data/demo_22k"))
    parser.add_argument("--meta", default=VAL_FILE,
                        help=f"чьи записи слушать: файл метаданных корпуса, ни одна его запись не была в обучении "
                             f"(по умолчанию {VAL_FILE})")
    parser.add_argument("--vocoder", action="append", default=[],
                        help="папка прогона train_vocoder.py (можно несколько)")
    parser.add_argument("--gl-power", type=float, action="append", default=[],
                        help="Гриффин-Лим ещё и с этой степенью амплитуд (например 1.5, как в конфиге Coqui); "
                             "можно несколько")
    parser.add_argument("--tts-run", type=Path, help="прогон GlowTTS для CER и RTF полного синтеза")
    parser.add_argument("--sentences", type=Path,
                        help="для CER полного синтеза — эти фразы (файл, одна на строку; лучше те, которых нет в "
                             "корпусе) вместо отложенных фраз корпуса")
    parser.add_argument("--curve", action="store_true", help="PESQ каждого чекпойнта против минут обучения")
    parser.add_argument("--train", action="append", default=[],
                        help="обучить вокодер с этим пресетом (можно несколько, каждый на своём ядре) и оценить "
                             "его лучшую модель на каждой отметке --minutes")
    parser.add_argument("--minutes", type=float, nargs="+", default=[30, 60, 120], help="отметки для --train")
    parser.add_argument("--seeded-gl", type=int, action="append", default=[],
                        help="кадровый вокодер ещё и с N итерациями Гриффина-Лима с его фазы; можно несколько")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="замеров RTF каждой стороны, попеременно; лучший считается")
    parser.add_argument("--json", type=Path, help="записать результаты сюда")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat должно быть больше нуля, получено {args.repeat}")
    if any(power <= 0 for power in args.gl_power):
        parser.error(f"--gl-power должна быть больше нуля, получено {min(args.gl_power):g}")
    sentences = None
    if args.sentences:
        from rutts.own_voice.script import read_pool

        try:
            sentences = read_pool(args.sentences)
        except (OSError, UnicodeDecodeError) as error:
            parser.error(f"не читается --sentences {args.sentences}: {error}")
        if not sentences:
            parser.error(f"в {args.sentences} нет ни одной фразы")
    torch.set_num_threads(args.threads)
    from TTS.utils.audio import AudioProcessor

    from rutts.run import RunFolder
    from rutts.speech import SynthesisConfig
    from rutts.speech.vocoders import FrameVocoderRunner, GriffinLim, make_vocoder, vocoder_files
    from rutts.train.config import load_config

    tts_config = RunFolder(args.tts_run).tts_config() if args.tts_run else load_config(ROOT / "config.json")
    ap = AudioProcessor(tts_config.audio)
    try:
        clips = held_out_clips(args.corpus, args.meta, ap)
    except DatasetError as error:
        parser.error(str(error))
    seconds = sum(len(audio) for _, audio in clips) / ap.sample_rate
    print(f"Копия-синтез {len(clips)} отложенных фраз {args.corpus} ({seconds:.0f} с):")
    print(f"  сами записи: DNSMOS P.808 {p808([audio for _, audio in clips], ap.sample_rate):.2f}")
    griffin_lim = GriffinLim(ap, torch.device("cpu"))
    default = SynthesisConfig()
    gl = scores(clips, copy_synthesis(griffin_lim, clips, ap), ap.sample_rate)
    print(f"  Гриффин-Лим ({default.gl_iters} итераций, степень {default.gl_power:g}): {describe(gl)}", flush=True)
    result = {"griffin_lim": gl, "griffin_lim_powers": {}, "vocoders": {}, "curves": {}, "tts": []}
    for power in args.gl_power:
        row = scores(clips, copy_synthesis(griffin_lim, clips, ap, SynthesisConfig(gl_power=power)), ap.sample_rate)
        result["griffin_lim_powers"][str(power)] = row
        print(f"  Гриффин-Лим, степень {power:g}: PESQ-wb {row['pesq_wb']:.2f}, STOI {row['stoi']:.3f}, "
              f"P.808 {row['p808']:.2f}", flush=True)
    if args.train:
        out = Path("outputs/bench_vocoder_train")
        out.mkdir(parents=True, exist_ok=True)
        config_path = RunFolder(args.tts_run).config_path if args.tts_run else ROOT / "config.json"
        args.vocoder += [str(p) for p in train_presets(args.train, args.minutes, args.corpus, config_path, out)]
    for run in map(Path, args.vocoder):
        checkpoint, config = vocoder_files(run)
        vocoder = make_vocoder(checkpoint, config, ap, tts_config.audio, torch.device("cpu"))
        row = scores(clips, copy_synthesis(vocoder, clips, ap), ap.sample_rate)
        result["vocoders"][run.name] = {"checkpoint": checkpoint.name, **row}
        print(f"  {run.name} ({checkpoint.name}): {describe(row)}", flush=True)
        for iters in args.seeded_gl if isinstance(vocoder, FrameVocoderRunner) else []:
            row = scores(clips, copy_synthesis(vocoder, clips, ap, SynthesisConfig(vocoder_gl_iters=iters)),
                         ap.sample_rate)
            result["vocoders"][f"{run.name}+gl{iters}"] = {"checkpoint": checkpoint.name, **row}
            print(f"  {run.name} + {iters} итераций Гриффина-Лима с его фазы: {describe(row)}", flush=True)
        if args.curve:
            result["curves"][run.name] = curve(run, clips, ap, tts_config.audio, gl["pesq_wb"])
    result["crossings"] = crossings(result["vocoders"], gl)
    for line in result["crossings"].values():
        print(f"  {line}")
    if args.tts_run:
        result["tts"] = tts_rows(args.tts_run, args.vocoder, args.gl_power, args.corpus, sentences,
                                 Path("outputs/bench_vocoder"), args.threads, args.repeat)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
