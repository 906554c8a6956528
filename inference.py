"""Read Russian text aloud with a trained GlowTTS: a phrase, a file, or a whole lesson with subtitles.

    .venv/bin/python inference.py -m outputs/<run> --text "Привет! Это мой голос." -o outputs/hello.wav
    .venv/bin/python inference.py -m outputs/<run> -i lesson.md --course -o outputs/lesson1
    echo "Текст из другой программы." | .venv/bin/python inference.py -m outputs/<run> -o outputs/text.ogg

    .venv/bin/python inference.py -m outputs/<run> --vocoder outputs/<vocoder run> -i lesson.md --course
    .venv/bin/python inference.py -m outputs/<run> --griffin-lim --text "Без нейровокодера." -o outputs/gl.wav

-m takes a run folder (its best or latest checkpoint and its config.json) or a checkpoint with --config.
Sound comes from the vocoder the run names (train_vocoder.py --tts-run writes outputs/<run>/vocoder.json), from
--vocoder, or from Griffin-Lim (--griffin-lim, or when the run names none).
-o picks the format by extension: .wav, .ogg (Opus, 48 kHz) or .mp3. --course writes into the -o folder one WAV per
paragraph (<name>_001.wav, ...), the whole lesson (<name>.wav) and its subtitles (<name>.srt), <name> being the
input file's name. Paragraphs are separated by blank lines; Markdown headings start a new one, markup is dropped.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from rutts.audio import WRITERS, AudioError, write_audio
from rutts.cli import ArgumentParser, guarded, non_negative, non_negative_int, os_reason, positive, positive_int
from rutts.files import UnreadableFile, atomic_output, read_utf8
from rutts.text import TextError

PROGRESS_FROM_CHARS = 500  # shorter texts finish before a progress bar would help


def momentum(value: str) -> float:
    number = float(value)
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError(f"момент Гриффина-Лима должен быть в [0, 1), получено {value}")
    return number


# Fields of SynthesisConfig with a flag each (--noise-scale or --noise_scale), their type and what they do.
KNOBS = [
    ("noise_scale", non_negative, "живость интонации, 0 = всегда одинаково"),
    ("sentence_silence", non_negative, "пауза после предложения, с"),
    ("paragraph_silence", non_negative, "пауза между абзацами, с"),
    ("gl_iters", positive_int, "итерации Гриффина-Лима"),
    ("gl_momentum", momentum, "момент быстрого Гриффина-Лима"),
    ("gl_power", positive, "степень амплитуд перед Гриффином-Лимом (у Coqui 1.5)"),
    ("vocoder_gl_iters", non_negative_int, "итерации Гриффина-Лима поверх кадрового вокодера, с его фазы (0 — нет)"),
    ("seed", int, "зерно случайности: тот же текст — тот же звук"),
    ("loudness_lufs", float, "громкость, LUFS"),
    ("peak_dbfs", float, "потолок истинного пика, dBTP"),
    ("max_chunk_chars", int, "длинные предложения режутся на куски не длиннее"),
    ("batch_size", positive_int, "кусков за один проход модели"),
]


def parse_args(argv):
    from rutts.speech import SynthesisConfig as D

    p = ArgumentParser(
        description="Озвучить русский текст обученной моделью GlowTTS.",
        epilog="Пример: python inference.py -m outputs/<запуск> -i урок.md --course -o outputs/урок1",
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument("--text", help="текст для озвучивания")
    source.add_argument("-i", "--input-file", "--input_file", type=Path, help="текстовый или Markdown-файл (UTF-8)")
    p.add_argument("-m", "--model", required=True, type=Path, help="папка запуска или чекпоинт .pth")
    p.add_argument("--config", type=Path, help="config.json модели (по умолчанию лежащий рядом с чекпоинтом)")
    vocoder = p.add_mutually_exclusive_group()
    vocoder.add_argument("--vocoder", help="папка прогона train_vocoder.py, чекпоинт вокодера Coqui или имя из "
                                           "списка Coqui (vocoder_models/...); по умолчанию — вокодер, который "
                                           "назван в прогоне модели (vocoder.json), иначе Гриффин-Лим")
    vocoder.add_argument("--griffin-lim", "--griffin_lim", action="store_true",
                         help="Гриффин-Лим, даже если прогон модели называет вокодер")
    p.add_argument("--vocoder-config", "--vocoder_config", type=Path, help="config.json вокодера")
    p.add_argument("--lexicon", type=Path, help="словарь произношений (по умолчанию — тот, с которым обучена модель)")
    p.add_argument("--no-stress", action="store_true", help="без автоматических ударений (если так обучали)")
    p.add_argument("-o", "--output", "--output-file", type=Path,
                   help="файл .wav/.ogg/.mp3, а с --course — папка (по умолчанию outputs/speech.wav или outputs/<имя>)")
    p.add_argument("--course", action="store_true", help="урок: wav на каждый абзац + весь урок + субтитры .srt")
    p.add_argument("--srt", action="store_true", help="без --course: ещё и субтитры рядом с выходным файлом")
    speed = p.add_mutually_exclusive_group()
    speed.add_argument("--length-scale", "--length_scale", type=positive, default=D.length_scale,
                       help="длительность звуков: >1 медленнее, <1 быстрее (по умолчанию %(default)s)")
    speed.add_argument("--speed", type=positive, help="скорость речи, 1.5 = в полтора раза быстрее (= 1/length-scale)")
    for name, kind, text in KNOBS:
        flags = dict.fromkeys([f"--{name.replace('_', '-')}", f"--{name}"])
        p.add_argument(*flags, type=kind, default=getattr(D, name), help=f"{text} (по умолчанию %(default)s)")
    p.add_argument("--device", default="cpu", help="cpu или cuda")
    p.add_argument("--debug", action="store_true", help="подробный журнал и трассировки ошибок")
    args = p.parse_args(argv)
    if args.max_chunk_chars < 20:
        p.error("--max-chunk-chars должно быть не меньше 20")
    return args


def read_text(args) -> str:
    if args.text is not None:
        text = args.text
    elif args.input_file is not None:
        try:
            text = read_utf8(args.input_file, "Файл текста")
        except UnreadableFile as error:
            raise TextError(str(error)) from None
    elif sys.stdin.isatty():
        raise TextError("нет текста: дайте --text, -i ФАЙЛ или подайте текст на вход (stdin)")
    else:
        text = sys.stdin.read()
    if not text.strip():
        raise TextError("текст пустой")
    return text


def output_paths(args) -> tuple[Path, Path | None]:
    """(audio file or course folder, subtitles file or None), checked to be writable before the model loads."""
    if args.course:
        stem = args.input_file.stem if args.input_file else "lesson"
        folder = args.output or Path("outputs") / stem
        if folder.suffix.lower() in WRITERS:
            raise AudioError(f"{folder}: с --course -o — это папка, а не файл")
        target, subtitles, check = folder / f"{stem}.wav", folder / f"{stem}.srt", folder
    else:
        target = args.output or Path("outputs") / "speech.wav"
        if target.suffix.lower() not in WRITERS:
            raise AudioError(f"{target}: неизвестный формат, нужен один из {', '.join(WRITERS)}")
        subtitles, check = (target.with_suffix(".srt") if args.srt else None), target.parent
    try:
        check.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=check).close()
    except OSError as error:
        raise AudioError(f"{check}: нельзя писать в эту папку ({os_reason(error)})") from None
    return target, subtitles


def wav_writer(path: Path, rate: int):
    import soundfile as sf

    return sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16", format="WAV")


def narrate_file(voice, paragraphs, syn, target: Path, timeline, progress) -> None:
    """WAV streamed to disk; OGG/MP3 encoded from the float32 audio at the end."""
    if target.suffix.lower() == ".wav":
        with atomic_output(target) as temp, wav_writer(temp, voice.sample_rate) as out:
            for piece in voice.stream(paragraphs, syn):
                out.write(timeline.place(piece))
                out.write(piece.audio)
                progress.update(piece.source_chars)
        return
    parts = []
    for piece in voice.stream(paragraphs, syn):
        parts += [timeline.place(piece), piece.audio]
        progress.update(piece.source_chars)
    write_audio(target, np.concatenate(parts), voice.sample_rate)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s" if args.debug else "внимание: %(message)s",
    )
    if not args.debug:  # library deprecation notes and tracebacks are not for the reader of a lesson
        warnings.filterwarnings("ignore")
        logging.getLogger("TTS").setLevel(logging.CRITICAL)
    from rutts.run import RunError

    if args.debug:
        return run(args)
    return guarded(lambda: run(args), refused=(TextError, AudioError, RunError),
                   interrupted="Прервано: незаконченные файлы удалены.")


def run(args) -> int:
    from rutts.speech import GRIFFIN_LIM, SynthesisConfig, Timeline, Voice, subtitles
    from rutts.speech.lesson import write_lesson
    from rutts.text import split_paragraphs
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    text = read_text(args)
    paragraphs = split_paragraphs(text)
    if not paragraphs:
        raise TextError("после удаления разметки текст пустой")
    target, srt_path = output_paths(args)
    started = time.perf_counter()
    vocoder = GRIFFIN_LIM if args.griffin_lim else args.vocoder
    voice = Voice.load(args.model, args.config, vocoder, args.vocoder_config, args.device, args.lexicon,
                       stress=False if args.no_stress else None)
    voice.frontend.process("Загрузка.")  # the stress model loads on first use: count it as loading, not synthesis
    loaded = time.perf_counter()
    syn = SynthesisConfig(length_scale=1 / args.speed if args.speed else args.length_scale,
                          **{name: getattr(args, name) for name, _, _ in KNOBS})
    total = sum(map(len, paragraphs))
    with tqdm(total=total, unit="симв", desc="озвучиваю", disable=total < PROGRESS_FROM_CHARS, leave=False) as bar, \
            logging_redirect_tqdm():
        if args.course:  # built aside, put in place whole; an earlier lesson's extra paragraphs removed
            timeline, files = write_lesson(target.parent, target.stem, voice.stream(paragraphs, syn),
                                           voice.sample_rate, on_piece=lambda piece: bar.update(piece.source_chars))
        else:
            timeline = Timeline(voice.sample_rate)
            narrate_file(voice, paragraphs, syn, target, timeline, bar)
        if srt_path and not args.course:
            with atomic_output(srt_path) as temp:
                temp.write_text(subtitles(timeline.sentences), encoding="utf-8")
    seconds = time.perf_counter() - loaded
    audio_seconds = timeline.samples / voice.sample_rate
    where = f"{target.parent} (абзацев: {files}, весь урок: {target.name})" if args.course else str(target)
    print(f"готово: {audio_seconds:.1f} с звука (предложений: {len(timeline.sentences)}) → {where}"
          + (f", субтитры {srt_path.name}" if srt_path else ""))
    print(f"синтез {seconds:.1f} с (RTF {seconds / max(audio_seconds, 1e-9):.3f}), загрузка модели {loaded - started:.1f} с")
    return 0


if __name__ == "__main__":
    sys.exit(main())
