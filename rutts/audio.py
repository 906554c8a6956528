"""Audio helpers: read, mono, resample, loudness, silence trimming, and atomic WAV / OGG Opus / MP3 writing.

Audio is float32 in [-1, 1]: shape (frames,) for mono, (frames, channels) otherwise. Decoding and encoding are
libsndfile's (soundfile; its MP3 encoder is LAME), resampling is soxr's, loudness is pyloudnorm's (ITU-R BS.1770).
Every writer writes a temporary file beside the target and renames it into place, so a killed process never
leaves a half-written file under the target name, only a ``*.partial`` file.
"""
from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".partial"
OPUS_RATE = 48_000  # libsndfile writes Opus only at 8/12/16/24/48 kHz; at other rates it leaves a 0-byte file
TRUE_PEAK_OVERSAMPLING = 4  # as in ITU-R BS.1770 Annex 2
LOUDNESS_BLOCK_S = 0.4  # BS.1770 gating block


class AudioError(Exception):
    """A file that cannot be read or written as audio; the message (Russian) starts with the file's path."""


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a whole file as float32; returns (audio, sample_rate)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: файла нет")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: пустой файл (0 байт)")
    try:
        audio, sample_rate = sf.read(path, dtype="float32")
    except sf.LibsndfileError as error:
        raise AudioError(f"{path}: не читается как звук ({error.error_string.rstrip('.')})") from None
    if len(audio) == 0:
        raise AudioError(f"{path}: в файле нет звука (0 сэмплов)")
    return audio, sample_rate


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels; mono audio is returned as is."""
    return audio if audio.ndim == 1 else audio.mean(axis=1, dtype=np.float32)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """soxr's high-quality resampler; audio already at rate_out is returned as is."""
    return audio if rate_in == rate_out else soxr.resample(audio, rate_in, rate_out, quality="HQ")


def convert_wav(src: str | Path, dst: str | Path, sample_rate: int) -> None:
    """Any readable audio file -> mono 16-bit PCM WAV at sample_rate (written atomically)."""
    audio, rate = read_audio(src)
    write_wav(dst, resample(to_mono(audio), rate, sample_rate), sample_rate)


_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in path's folder; it replaces path only if the block finishes without error."""
    path = Path(path)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(handle)
    temp = Path(temp)
    try:
        yield temp
        os.chmod(temp, 0o666 & ~_UMASK)  # mkstemp makes the file private; give it the usual permissions
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _write(path: str | Path, audio: np.ndarray, sample_rate: int, container: str, subtype: str) -> None:
    # Through a Python file object: given a file name, libsndfile fsyncs every file it closes, which made
    # writing a short WAV 2-3x slower here. The rename protects against a killed process; flushing to disk
    # (power cuts) is left to the OS.
    with atomic_output(path) as temp, open(temp, "wb") as file:
        sf.write(file, audio, sample_rate, format=container, subtype=subtype)


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM WAV; samples beyond [-1, 1] are clipped."""
    # libsndfile's own float -> int16 conversion (floor(x * 32768), clipped) done by numpy, ~10x faster.
    pcm = np.clip(np.floor(audio * np.float32(32768)), -32768, 32767).astype(np.int16)
    _write(path, pcm, sample_rate, "WAV", "PCM_16")


def write_ogg_opus(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """OGG/Opus (e.g. a Telegram voice note), resampled to 48 kHz first."""
    _write(path, resample(audio, sample_rate, OPUS_RATE), OPUS_RATE, "OGG", "OPUS")


def write_mp3(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """MP3 through libsndfile's LAME encoder (sample rates 8-48 kHz).

    Not lameenc: its stream decodes 1105 samples late and ~1400 longer (no gapless header), which would put
    subtitles 50 ms off; libsndfile's decodes sample-exact.
    """
    _write(path, audio, sample_rate, "MP3", "MPEG_LAYER_III")


WRITERS = {".wav": write_wav, ".ogg": write_ogg_opus, ".opus": write_ogg_opus, ".mp3": write_mp3}


def write_audio(path: str | Path, audio: np.ndarray, sample_rate: int) -> None:
    """Write in the format the suffix names: .wav, .ogg/.opus or .mp3."""
    writer = WRITERS.get(Path(path).suffix.lower())
    if writer is None:
        raise AudioError(f"{path}: неизвестный формат, нужен один из {', '.join(WRITERS)}")
    writer(path, audio, sample_rate)


def measure_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770); -inf for silence or empty audio."""
    import pyloudnorm  # imported here: it pulls in scipy (over a second), which nothing else needs

    if len(audio) == 0:
        return float("-inf")
    block = int(np.ceil(LOUDNESS_BLOCK_S * sample_rate))
    if len(audio) < block:
        # BS.1770 needs one whole 400 ms block; a short clip repeated to that length has the same mean square.
        audio = np.resize(audio, (block, *audio.shape[1:]))
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio))


def true_peak(audio: np.ndarray, sample_rate: int) -> float:
    """Linear peak of the 4x oversampled signal, streamed in blocks so long audio needs little memory.

    Never below the sample peak (the resampler's low-pass rounds off full-band clicks).
    """
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    stream = soxr.ResampleStream(sample_rate, TRUE_PEAK_OVERSAMPLING * sample_rate, channels, dtype="float32")
    block = 1 << 16
    peak = float(np.abs(audio).max(initial=0.0))
    for start in range(0, len(audio), block):
        chunk = np.ascontiguousarray(audio[start : start + block], dtype=np.float32)
        oversampled = stream.resample_chunk(chunk, last=start + block >= len(audio))
        if oversampled.size:
            peak = max(peak, float(np.abs(oversampled).max()))
    return peak


def normalize_loudness(
    audio: np.ndarray, sample_rate: int, target_lufs: float = -16.0, peak_ceiling_db: float = -1.0
) -> np.ndarray:
    """Scale to target_lufs, but no further than keeps the true peak at or below peak_ceiling_db (dBTP).

    A plain gain, no limiter: audio with high peaks ends up quieter than the target (logged). Silent or
    empty audio is returned unchanged.
    """
    loudness = measure_loudness(audio, sample_rate)
    if not np.isfinite(loudness):
        return audio
    gain = 10 ** ((target_lufs - loudness) / 20)
    peak = true_peak(audio, sample_rate) * gain
    ceiling = 10 ** (peak_ceiling_db / 20)
    if peak > ceiling:
        gain *= ceiling / peak
        log.info("true-peak ceiling %.1f dBTP: loudness %.1f LUFS instead of %.1f",
                 peak_ceiling_db, target_lufs + 20 * np.log10(ceiling / peak), target_lufs)
    return (audio * gain).astype(np.float32)


def speech_bounds(
    audio: np.ndarray, sample_rate: int, threshold_db: float = -40.0, frame_ms: int = 10
) -> tuple[int, int]:
    """Sample range [start, end) outside which every 10 ms frame is threshold_db or more below the loudest one (RMS).

    Returns (0, 0) for digital silence.
    """
    mono = to_mono(audio)
    frame = max(1, sample_rate * frame_ms // 1000)
    frames = -(-len(mono) // frame)
    padded = np.pad(mono, (0, frames * frame - len(mono)))
    rms = np.sqrt(np.mean(np.square(padded.reshape(frames, frame)), axis=1))
    loud = np.flatnonzero(rms > rms.max(initial=0.0) * 10 ** (threshold_db / 20))
    if loud.size == 0:
        return 0, 0
    return int(loud[0]) * frame, min(len(mono), (int(loud[-1]) + 1) * frame)


def trim_silence(
    audio: np.ndarray, sample_rate: int, threshold_db: float = -40.0, keep_ms: int = 50
) -> np.ndarray:
    """Cut leading and trailing silence (see speech_bounds), keeping keep_ms of it at each end.

    Digital silence becomes empty audio.
    """
    start, end = speech_bounds(audio, sample_rate, threshold_db)
    if start == end:
        return audio[:0]
    keep = sample_rate * keep_ms // 1000
    return audio[max(0, start - keep) : end + keep]
