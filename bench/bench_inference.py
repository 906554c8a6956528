"""Inference speed: Coqui's stock Synthesizer (numpy Griffin-Lim) vs our Voice path, same checkpoint, same text.

    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_inference.py                  # fresh GlowTTS from config.json
    OMP_NUM_THREADS=2 .venv/bin/python bench/bench_inference.py --model outputs/<run> --cer

Both get the same ~1,000-character Russian paragraph, --repeat times in turn; the best time of each side counts
(on a shared machine the other processes only ever add time). Coqui cannot read raw Russian (digits, abbreviations,
stress), so it gets our front end's output, sentence by sentence; our time includes that front end. Model
loading and first-call warm-ups are left out of both. Prints both times, the ratio (goal >= 3x), our
real-time factor (goal <= 0.1 on 2 cores) and where our time goes. `--cer` also scores both outputs with the
intelligibility meter (needs requirements-eval.txt; meaningless on an untrained model).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rutts.audio import write_wav  # noqa: E402
from rutts.run import model_files  # noqa: E402
from rutts.speech import SynthesisConfig, Voice  # noqa: E402
from rutts.text import split_sentences  # noqa: E402

PARAGRAPH = (
    "Добро пожаловать на третий урок нашего курса по программированию на Python. Сегодня мы разберём, как "
    "устроены списки и словари, и напишем небольшую программу для учёта расходов. В прошлый раз мы установили "
    "Python 3.12 и настроили редактор кода. Если у вас что-то не получилось, вернитесь к видео номер два, там всё "
    "показано по шагам. Итак, список — это упорядоченная коллекция элементов. Его можно создать с помощью "
    "квадратных скобок. Например, список из трёх чисел: 1, 2 и 3. К элементам списка обращаются по индексу, и "
    "нумерация начинается с нуля, а не с единицы. Это частая ошибка начинающих, поэтому запомните её с первого "
    "дня. Словарь устроен иначе: он хранит пары «ключ — значение», и доступ к значению идёт по ключу. "
    "Представьте себе телефонную книгу, где по имени человека вы находите номер его телефона. В конце урока вас "
    "ждёт домашнее задание на 15 минут. Напишите программу, которая считает, сколько вы потратили за неделю, т. е. "
    "сумму всех покупок. Удачи, и до встречи на следующем уроке!"
)


def fresh_checkpoint(config_path: Path, folder: Path) -> Path:
    """An untrained GlowTTS built from config_path, saved like a Trainer run folder.

    Per second of audio it costs what a trained one does; it only makes shorter audio (~1 frame a token).
    """
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig
    from TTS.tts.models.glow_tts import GlowTTS

    config = GlowTTSConfig()
    config.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
    torch.manual_seed(0)
    model = GlowTTS(config)
    config.save_json(str(folder / "config.json"))
    torch.save({"config": config.to_dict(), "model": model.state_dict(), "step": 0}, folder / "checkpoint_0.pth")
    return folder


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def run_coqui(coqui, processed: str, path: Path) -> tuple[float, float]:
    """(seconds for Synthesizer.tts + save_wav, seconds of audio)."""
    wav, seconds = timed(coqui.tts, processed)
    _, writing = timed(coqui.save_wav, wav, str(path))
    return seconds + writing, len(wav) / coqui.output_sample_rate


def run_ours(voice, text: str, syn, path: Path) -> tuple[float, float, dict[str, float]]:
    """(seconds for Voice.speak + write_wav, seconds of audio, seconds per stage)."""
    voice.stage_seconds.clear()
    speech, seconds = timed(voice.speak, text, syn)
    _, writing = timed(write_wav, path, speech.audio, speech.sample_rate)
    return seconds + writing, speech.duration, {**voice.stage_seconds, "writing": writing}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="run folder or checkpoint (default: an untrained GlowTTS)")
    parser.add_argument("--config", type=Path, help="config.json of the checkpoint; for the untrained model, its architecture")
    parser.add_argument("--text-file", type=Path, help="your text instead of the built-in paragraph")
    parser.add_argument("--gl-iters", type=int, default=SynthesisConfig.gl_iters)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side; the best counts")
    parser.add_argument("--out", type=Path, help="folder to keep both wavs in (default: a temporary one)")
    parser.add_argument("--cer", action="store_true", help="score both outputs with the intelligibility meter (Whisper)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    text = args.text_file.read_text(encoding="utf-8") if args.text_file else PARAGRAPH

    with tempfile.TemporaryDirectory() as temp:
        temp = Path(temp)
        out = args.out or temp
        out.mkdir(parents=True, exist_ok=True)
        if args.model:
            checkpoint, config = model_files(args.model, args.config)
            origin = str(checkpoint)
        else:
            config_path = args.config or Path(__file__).resolve().parents[1] / "config.json"
            checkpoint, config = model_files(fresh_checkpoint(config_path, temp), None)
            origin = f"untrained GlowTTS from {config_path}"
        print(f"model: {origin}")
        print(f"text: {len(text)} characters; torch threads: {torch.get_num_threads()}")

        voice, load_ours = timed(Voice.load, checkpoint, config)
        syn = SynthesisConfig(gl_iters=args.gl_iters)
        voice.speak("Разминка перед замером.", syn)  # loads the stress model and warms up torch
        processed = " ".join(voice.frontend.process(s) for s in split_sentences(text))

        from TTS.utils.synthesizer import Synthesizer

        coqui, load_coqui = timed(Synthesizer, tts_checkpoint=str(checkpoint), tts_config_path=str(config))
        coqui.tts(voice.frontend.process("Разминка перед замером."))

        coqui_runs, our_runs = [], []
        for _ in range(args.repeat):  # interleaved, so a busy spell on a shared machine hits both sides
            coqui_runs.append(run_coqui(coqui, processed, out / "coqui.wav"))
            our_runs.append(run_ours(voice, text, syn, out / "ours.wav"))
        coqui_seconds, coqui_audio = min(coqui_runs)
        ours_seconds, ours_audio, stages = min(our_runs, key=lambda run: run[0])

        def runs(results):
            return ", ".join(f"{r[0]:.1f}" for r in results)

        print(f"(a) Coqui Synthesizer.tts, Griffin-Lim {coqui.tts_config.audio.griffin_lim_iters} it: best "
              f"{coqui_seconds:.2f} s (runs: {runs(coqui_runs)}) for {coqui_audio:.1f} s of audio, "
              f"RTF {coqui_seconds / coqui_audio:.3f}; model load {load_coqui:.1f} s, not counted")
        print(f"(b) ours, Voice.speak + write_wav, fast Griffin-Lim {syn.gl_iters} it: best "
              f"{ours_seconds:.2f} s (runs: {runs(our_runs)}) for {ours_audio:.1f} s of audio, "
              f"RTF {ours_seconds / ours_audio:.3f}; model load {load_ours:.1f} s, not counted")
        ratio = coqui_seconds / ours_seconds
        rtf = ours_seconds / ours_audio
        print(f"speed-up {ratio:.1f}x (goal >= 3x: {'yes' if ratio >= 3 else 'NO'}); "
              f"our RTF {rtf:.3f} (goal <= 0.1: {'yes' if rtf <= 0.1 else 'NO'}); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print("our time: " + ", ".join(f"{name} {sec:.2f} s ({100 * sec / ours_seconds:.0f}%)" for name, sec in stages.items()))

        if args.cer:
            from rutts.intelligibility import IntelligibilityError, Meter

            try:
                meter = Meter()
                for name in ("coqui", "ours"):
                    report = meter.score([(out / f"{name}.wav", text)])
                    print(f"intelligibility {name}: CER={report.cer:.3f} WER={report.wer:.3f}")
            except IntelligibilityError as error:
                print(f"intelligibility not measured: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
