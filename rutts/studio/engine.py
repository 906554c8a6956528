"""The voice side of the studio: readings with the lesson's lexicon, cache keys, one paragraph rendered into a
take, and a rendered lesson turned back into the pieces the lesson writer takes."""
from __future__ import annotations

import copy
import functools
import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from rutts.audio import write_wav
from rutts.speech import Piece, SentenceTiming, SynthesisConfig, Timeline
from rutts.studio.state import Paragraph, sha
from rutts.text import STRESS, Lexicon, TextError, read_lexicon, split_sentences

UNSPEAKABLE = "—"  # the reading shown for a sentence with nothing to say (the voice skips it)


def file_identity(path: Path | None) -> str:
    """A file as the cache knows it: where it is, its size and when it was written (a retrained model differs)."""
    if path is None:
        return "griffin-lim"
    path = Path(path).resolve()
    stat = path.stat()
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


class Engine:
    """One loaded voice and the lesson's lexicon; `reading` and `key` are cheap, `render` is the slow part."""

    def __init__(self, voice, checkpoint: Path, lexicon: Path, settings: SynthesisConfig):
        self.voice = voice
        self.base_frontend = voice.frontend
        self.lexicon_path = Path(lexicon)
        self.settings = settings
        self.identity = [file_identity(checkpoint), file_identity(getattr(voice.vocoder, "checkpoint", None))]
        self.reload_lexicon()

    def reload_lexicon(self) -> None:
        """The run's front end with the lesson's lexicon in front of its own (TextError for a bad lexicon file)."""
        frontend = copy.copy(self.base_frontend)
        entries = read_lexicon(self.lexicon_path) if self.lexicon_path.is_file() else {}
        frontend.lexicon = Lexicon(entries, self.base_frontend.lexicon.entries)
        frontend.signature = f"{self.base_frontend.signature}-lesson{frontend.lexicon.digest()}"
        # the reading shown for an edit is what the voice reads next: each sentence goes through the front end once
        frontend.process = functools.lru_cache(maxsize=4096)(frontend.process)
        self.voice.frontend = frontend

    @property
    def signature(self) -> str:
        return self.voice.frontend.signature

    def reading(self, text: str) -> str:
        """What the model will be given, sentence by sentence (what `Voice.stream` reads)."""
        parts = []
        for sentence in split_sentences(text):
            try:
                parts.append(self.voice.frontend.process(sentence))
            except TextError:
                parts.append(UNSPEAKABLE)
        return " ".join(parts)

    def reading_key(self, text: str) -> str:
        return sha(f"{self.signature}\n{text}")

    def synthesis(self, paragraph: Paragraph, seed: int | None = None) -> SynthesisConfig:
        return replace(self.settings, length_scale=self.settings.length_scale / paragraph.speed,
                       seed=paragraph.seed if seed is None else seed)

    def key(self, reading: str, paragraph: Paragraph, seed: int | None = None) -> str:
        """The take's name: everything that decides its samples, and nothing else (not the pause after it)."""
        what = [reading, self.identity, asdict(self.synthesis(paragraph, seed))]
        return hashlib.sha256(json.dumps(what, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:32]

    def render(self, text: str, syn: SynthesisConfig, wav: Path) -> dict:
        """Synthesize one paragraph into `wav`; its record: duration and sentence times within it."""
        timeline = Timeline(self.voice.sample_rate)
        parts = []
        for piece in self.voice.stream([text], syn):
            parts += [timeline.place(piece), piece.audio]
        audio = np.concatenate(parts)
        write_wav(wav, audio, self.voice.sample_rate)
        return {"duration": len(audio) / self.voice.sample_rate, "sample_rate": self.voice.sample_rate,
                "sentences": [[s.text, s.start, s.end] for s in timeline.sentences]}


def lesson_pieces(takes: list[tuple[Path, dict, float]], texts: list[str]):
    """(take wav, its record, pause after) of each paragraph → the pieces `write_lesson` takes, read one by one."""
    import soundfile as sf

    pause = 0.0
    for index, ((wav, record, pause_after), text) in enumerate(zip(takes, texts)):
        audio, _ = sf.read(wav, dtype="int16")
        sentences = [SentenceTiming(t, start, end, index) for t, start, end in record["sentences"]]
        yield Piece(index, pause, audio.astype(np.float32) / 32768, sentences, len(text))
        pause = pause_after


def stressed(text: str, offset) -> str:
    """`text` with the stress of the word around `offset` (a vowel) put on that vowel: "+" before it, the word's
    other marks removed; ValueError when `offset` is not a vowel of `text`."""
    from rutts.text import VOWELS

    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < len(text) \
            or text[offset].lower() not in VOWELS:
        raise ValueError(offset)

    def in_word(ch: str) -> bool:
        return ch.isalpha() or ch in (STRESS, "\u0301")

    start, end = offset, offset + 1
    while start > 0 and in_word(text[start - 1]):
        start -= 1
    while end < len(text) and in_word(text[end]):
        end += 1
    word = text[start:end]
    vowel = offset - start - sum(ch in (STRESS, "\u0301") for ch in word[: offset - start])
    bare = word.replace(STRESS, "").replace("\u0301", "")
    return text[:start] + bare[:vowel] + STRESS + bare[vowel:] + text[end:]

