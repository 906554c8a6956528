"""The knobs of one synthesis call (`inference.py` has one flag per field) and the fixed constants of joining."""
from __future__ import annotations

from dataclasses import dataclass

CHUNK_PAUSE_S = 0.12  # between two chunks of one long sentence (cut at a comma or a space)
FADE_S = 0.005  # fade at every chunk edge: a join never starts or stops mid-wave, so no clicks
EDGE_KEEP_MS = 20  # silence kept at a chunk's edges; the pauses between chunks are added on purpose
BLOCK_CHARS = 600  # sentences synthesized (and loudness-normalized) together: ~40 s of speech


@dataclass
class SynthesisConfig:
    """Knobs of one synthesis call; `inference.py` has one flag per field."""

    length_scale: float = 1.0  # > 1 slower, < 1 faster (speed = 1 / length_scale)
    noise_scale: float = 0.667  # variability of the voice; 0 = the same reading every time
    sentence_silence: float = 0.3  # seconds after each sentence
    paragraph_silence: float = 0.8  # seconds between paragraphs
    gl_iters: int = 16  # fast Griffin-Lim (momentum): 16 iterations already match 60 plain ones in spectral error
    gl_momentum: float = 0.99
    # Exponent on the magnitudes before Griffin-Lim. Coqui's audio.power (1.5 in config.json) is the worst of 1.0-1.5
    # on every score we have; PESQ-wb and DNSMOS peak at 1.2 for a male and a female voice. Speaker similarity to the
    # real voice falls from 1.0 on (0.97, 0.95, 0.90, 0.71 at 1.0, 1.1, 1.2, 1.5):
    # bench/RESULTS.md, "Гриффин-Лим: степень амплитуд".
    gl_power: float = 1.2
    vocoder_gl_iters: int = 0  # a frame vocoder's output refined by Griffin-Lim started from its phase (0 = none)
    seed: int | None = 1234  # same text + same seed → the same samples; None → different every time
    loudness_lufs: float = -16.0
    peak_dbfs: float = -1.0  # true-peak ceiling
    max_chunk_chars: int = 200  # longer sentences are cut at commas, then spaces (capped by the model's max_text_len)
    batch_size: int = 8  # chunks per model/Griffin-Lim call
