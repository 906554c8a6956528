"""Audio helpers: read, mono, resample, loudness, silence trimming, and atomic WAV / OGG Opus / MP3 writing.

Audio is float32 in [-1, 1]: shape (frames,) for mono, (frames, channels) otherwise. Decoding and encoding are
libsndfile's (soundfile; its MP3 encoder is LAME), resampling is soxr's, loudness is pyloudnorm's (ITU-R BS.1770).
Every writer writes through rutts.files.atomic_output, so a killed process never leaves a half-written file under
the target name.
"""
from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from rutts.files import atomic_output

log = logging.getLogger(__name__)

OPUS_RATE = 48_000  # libsndfile writes Opus only at 8/12/16/24/48 kHz; at other rates it leaves a 0-byte file
TRUE_PEAK_OVERSAMPLING = 4  # as in ITU-R BS.1770 Annex 2
LOUDNESS_BLOCK_S = 0.4  # BS.1770 gating block
# The limiter's gain falls 1 dB a millisecond ahead of a peak and recovers 40 dB a second after it (4 dB in
# 100 ms). Griffin-Lim speech needs 4-8 dB off its peaks to reach -16 LUFS under -1 dBTP (less the longer the
# model trained).
LIMITER_ATTACK_DB_PER_S = 1000.0
LIMITER_RELEASE_DB_PER_S = 40.0
LIMITER_MAX_DB = 10.0  # deeper cuts would be audible distortion; clicks and spikes stay quieter instead
LOUDNESS_PASSES = 4
LOUDNESS_TOLERANCE_LU = 0.1


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
    shortfall = wav_shortfall(path)
    if shortfall > 0:
        raise AudioError(f"{path}: {truncation_message(shortfall)}")
    return audio, sample_rate


def wav_shortfall(path: str | Path) -> float:
    """Share of the sample data a RIFF/WAVE header promises that the file does not hold (a copy or download cut
    short); 0.0 for a whole file or one that is not RIFF/WAVE. libsndfile reads such a file without a word,
    counting only the frames present, so its frame count cannot tell."""
    with open(path, "rb") as file:
        head = file.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            return 0.0
        size = os.fstat(file.fileno()).st_size
        offset = 12
        while offset + 8 <= size:  # walk the chunks up to "data"
            file.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", file.read(8))
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):  # written as a stream (a pipe): the size was never known
                    return 0.0
                return max(0.0, 1 - (size - offset - 8) / chunk_size)
            offset += 8 + chunk_size + (chunk_size & 1)  # chunks are word-aligned
    return 0.0


def truncation_message(shortfall: float) -> str:
    return f"файл обрезан: нет {shortfall:.0%} звука, обещанного заголовком (копирование не закончилось?)"


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


def _peak_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per sample: the highest level of the 4x oversampled signal around it (the sample itself and the
    inter-sample peaks on both sides), over all channels."""
    level = np.abs(audio).reshape(len(audio), -1).max(axis=1)
    oversampled = soxr.resample(audio, sample_rate, TRUE_PEAK_OVERSAMPLING * sample_rate)
    between = np.abs(oversampled).reshape(len(oversampled), -1).max(axis=1)
    groups = np.zeros(len(audio), np.float32)
    usable = min(len(between) // TRUE_PEAK_OVERSAMPLING, len(audio))
    groups[:usable] = between[: usable * TRUE_PEAK_OVERSAMPLING].reshape(usable, -1).max(axis=1)
    groups[1:] = np.maximum(groups[1:], groups[:-1])  # a peak between two samples belongs to both
    return np.maximum(level, groups)


def limit_true_peak(audio: np.ndarray, sample_rate: int, ceiling_db: float = -1.0) -> np.ndarray:
    """Look-ahead true-peak limiter: where the oversampled signal would pass ceiling_db, the gain dips just
    enough, falling at LIMITER_ATTACK_DB_PER_S ahead of the peak and recovering at LIMITER_RELEASE_DB_PER_S after.

    The gain curve in dB is the upper envelope of those ramps over every sample's need, so it is continuous,
    never less than any sample needs, and computed without a per-sample Python loop.
    """
    need_db = 20 * np.log10(np.maximum(_peak_envelope(audio, sample_rate), 1e-12)) - ceiling_db
    if need_db.size == 0 or need_db.max() <= 0:
        return audio
    need_db = np.maximum(need_db, 0.0)
    t = np.arange(len(need_db)) / sample_rate
    release = np.maximum.accumulate(need_db + LIMITER_RELEASE_DB_PER_S * t) - LIMITER_RELEASE_DB_PER_S * t
    attack = np.maximum.accumulate((need_db - LIMITER_ATTACK_DB_PER_S * t)[::-1])[::-1] + LIMITER_ATTACK_DB_PER_S * t
    gain = 10 ** (-np.maximum(release, attack) / 20)
    return (audio * (gain if audio.ndim == 1 else gain[:, None])).astype(np.float32)


def normalize_loudness(
    audio: np.ndarray, sample_rate: int, target_lufs: float = -16.0, peak_ceiling_db: float = -1.0
) -> np.ndarray:
    """Bring to target_lufs with the true peak at or below peak_ceiling_db (dBTP).

    The gain goes up to the target and the limiter (limit_true_peak) takes off what passes the ceiling; the
    limiter lowers loudness a little, so the gain is corrected and the pair run again (a few passes). Peaks are
    never cut by more than LIMITER_MAX_DB: audio that would need more (clicks) stays quieter than the target
    (logged). Silent or empty audio is returned unchanged.
    """
    loudness = measure_loudness(audio, sample_rate)
    if not np.isfinite(loudness):
        return audio
    peak_db = 20 * np.log10(true_peak(audio, sample_rate))
    max_gain_db = peak_ceiling_db + LIMITER_MAX_DB - peak_db
    gain_db = min(target_lufs - loudness, max_gain_db)
    for _ in range(LOUDNESS_PASSES):
        out = limit_true_peak(audio * np.float32(10 ** (gain_db / 20)), sample_rate, peak_ceiling_db)
        miss = target_lufs - measure_loudness(out, sample_rate)
        if abs(miss) < LOUDNESS_TOLERANCE_LU or gain_db >= max_gain_db:
            break
        gain_db = min(gain_db + miss, max_gain_db)
    # The gain changes within the interpolation kernel, so a peak can end up a hair over the ceiling.
    overshoot = true_peak(out, sample_rate) / 10 ** (peak_ceiling_db / 20)
    if overshoot > 1:
        out = out / np.float32(overshoot)
    result = measure_loudness(out, sample_rate)
    if result < target_lufs - 2 * LOUDNESS_TOLERANCE_LU:
        log.info("true-peak ceiling %.1f dBTP: loudness %.1f LUFS instead of %.1f (peaks limited by at most %.0f dB)",
                 peak_ceiling_db, result, target_lufs, LIMITER_MAX_DB)
    return out.astype(np.float32, copy=False)


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
