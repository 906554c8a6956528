"""Subtitles (SRT) from sentence timings: one cue per sentence."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from rutts.speech.timeline import SentenceTiming


def subtitles(sentences: Iterable[SentenceTiming]) -> str:
    """SRT text: one cue per sentence."""
    import srt

    cues = [
        srt.Subtitle(index, timedelta(seconds=s.start), timedelta(seconds=s.end), s.text)
        for index, s in enumerate(sentences, 1)
    ]
    return srt.compose(cues)
