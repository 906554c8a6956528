"""Waveforms of one paragraph's chunks joined into one piece of speech: edges trimmed and faded, pauses between
chunks and sentences, loudness normalized, each sentence's start and end noted."""
from __future__ import annotations

import numpy as np

from rutts.audio import normalize_loudness, trim_silence
from rutts.speech.settings import CHUNK_PAUSE_S, EDGE_KEEP_MS, FADE_S, SynthesisConfig
from rutts.speech.timeline import SentenceTiming


def faded(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Leading/trailing silence cut, then a short fade in and out."""
    wave = trim_silence(wave, sample_rate, keep_ms=EDGE_KEEP_MS)
    fade = min(len(wave) // 2, int(FADE_S * sample_rate))
    if fade:
        ramp = np.sin(np.linspace(0, np.pi / 2, fade, dtype=np.float32)) ** 2
        wave = wave.copy()
        wave[:fade] *= ramp
        wave[-fade:] *= ramp[::-1]
    return wave



def join_sentences(sentences: list[tuple[str, list[np.ndarray]]], paragraph: int, rate: int,
                   syn: SynthesisConfig) -> tuple[np.ndarray, list[SentenceTiming]]:
    """(sentence, the faded waveforms of its chunks) → joined, normalized audio and each sentence's start/end in
    it; a sentence whose chunks all came out empty is left out."""
    parts: list[np.ndarray] = []
    timings: list[SentenceTiming] = []
    position = 0
    for sentence, waves in sentences:
        sentence_waves = [w for w in waves if w.size]
        if not sentence_waves:
            continue
        if parts:
            parts.append(np.zeros(round(syn.sentence_silence * rate), np.float32))
            position += parts[-1].size
        start = position
        for k, wave in enumerate(sentence_waves):
            if k:
                parts.append(np.zeros(round(CHUNK_PAUSE_S * rate), np.float32))
                position += parts[-1].size
            parts.append(wave)
            position += wave.size
        timings.append(SentenceTiming(sentence, start / rate, position / rate, paragraph))
    if not parts:
        return np.zeros(0, np.float32), []
    audio = normalize_loudness(np.concatenate(parts), rate, syn.loudness_lufs, syn.peak_dbfs)
    return audio.astype(np.float32, copy=False), timings


def blocks(sentences: list[str], max_chars: int) -> list[list[str]]:
    """Consecutive sentences grouped so that each group holds at most `max_chars` (a longer sentence alone)."""
    groups: list[list[str]] = []
    size = 0
    for sentence in sentences:
        if groups and size + len(sentence) <= max_chars:
            groups[-1].append(sentence)
            size += len(sentence)
        else:
            groups.append([sentence])
            size = len(sentence)
    return groups
