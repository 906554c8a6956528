"""Speech laid out in time: sentence timings, the pieces a voice streams, and the timeline that joins them."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

@dataclass(frozen=True)
class SentenceTiming:
    text: str  # the sentence as written (Markdown stripped), for subtitles
    start: float  # seconds from the start of the audio it belongs to
    end: float
    paragraph: int


@dataclass
class Piece:
    """A few consecutive sentences of one paragraph, ready to write after `pause_before` seconds of silence."""

    paragraph: int
    pause_before: float  # 0 for the first piece, else a sentence or a paragraph pause
    audio: np.ndarray  # float32 mono, loudness-normalized, starts and ends with speech
    sentences: list[SentenceTiming]  # times from the start of `audio`
    source_chars: int  # characters of input text this piece covers (for progress bars)


@dataclass
class Speech:
    audio: np.ndarray
    sample_rate: int
    sentences: list[SentenceTiming] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


class Timeline:
    """Pieces laid end to end: where each starts, and its sentences' times from the start of the whole."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.samples = 0
        self.sentences: list[SentenceTiming] = []

    def place(self, piece: Piece) -> np.ndarray:
        """Account for the piece; returns the silence that goes before its audio."""
        silence = np.zeros(round(piece.pause_before * self.sample_rate), np.float32)
        offset = (self.samples + silence.size) / self.sample_rate
        self.sentences += [replace(s, start=s.start + offset, end=s.end + offset) for s in piece.sentences]
        self.samples += silence.size + piece.audio.size
        return silence
