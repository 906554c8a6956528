"""What the meter scores: a model's held-out sentences spoken from their written text, or a narrated lesson cut at
its subtitles, or a folder of wavs with their metadata."""
from __future__ import annotations

from pathlib import Path

import srt

from rutts.audio import read_audio, write_wav
from rutts.dataset import VAL_FILE, find_metadata, read_metadata
from rutts.intelligibility.model import IntelligibilityError
from rutts.text import FrontEnd, TextError, default_lexicon


def synthesize_validation(voice, corpus: Path, out_dir: Path, limit: int | None = None,
                          syn=None) -> list[tuple[Path, str]]:
    """Speak the corpus's held-out sentences (`metadata_val.csv`) from their original text, as a user would
    write them; returns (wav, what the model should have said) pairs for `Meter.score`."""
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
