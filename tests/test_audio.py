"""rutts.audio on real files written in tmp_path."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from rutts.audio import (
    AudioError,
    convert_wav,
    limit_true_peak,
    measure_loudness,
    normalize_loudness,
    read_audio,
    resample,
    speech_bounds,
    to_mono,
    trim_silence,
    true_peak,
    wav_shortfall,
    write_audio,
    write_mp3,
    write_ogg_opus,
    write_wav,
)
from rutts.files import TEMP_SUFFIX, atomic_output


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_frequency(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.fft.rfftfreq(len(audio), 1 / rate)[np.argmax(spectrum)])


def no_temp_files(folder) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX)]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "файла нет"), (b"", "пустой файл"), (b"RIFF not really a wave file" * 20, "не читается как звук")],
)
def test_read_audio_rejects_bad_files_with_their_path(tmp_path, content, message):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError, match=message) as error:
        read_audio(path)
    assert str(error.value).startswith(str(path))


def test_read_audio_rejects_a_wav_without_samples(tmp_path):
    sf.write(tmp_path / "none.wav", np.zeros(0, np.float32), 22050)
    with pytest.raises(AudioError, match="нет звука"):
        read_audio(tmp_path / "none.wav")


def test_read_audio_decodes_8_bit_and_stereo_as_float32(tmp_path):
    mono = tone(440, 0.5, 16000, amplitude=0.5)
    sf.write(tmp_path / "u8.wav", mono, 16000, subtype="PCM_U8")
    audio, rate = read_audio(tmp_path / "u8.wav")
    assert (rate, audio.dtype, audio.shape) == (16000, np.float32, mono.shape)
    assert np.abs(audio - mono).max() < 2 / 256  # 8-bit quantisation

    sf.write(tmp_path / "st.wav", np.stack([mono, -mono * 0.5], axis=1), 16000)
    stereo, _ = read_audio(tmp_path / "st.wav")
    assert stereo.shape == (len(mono), 2)
    assert np.allclose(to_mono(stereo), mono * 0.25, atol=1e-3)
    assert to_mono(mono) is mono


def test_a_wav_cut_short_is_refused_and_a_whole_one_is_not(tmp_path):
    path = tmp_path / "cut.wav"
    with sf.SoundFile(path, "w", 22050, 1, "PCM_16") as file:
        file.title = "Урок 3"  # a LIST chunk before the data
        file.write(tone(440, 1.0, 22050))
    assert wav_shortfall(path) == 0 and read_audio(path)[0].size == 22050
    odd = tmp_path / "odd.wav"
    sf.write(odd, tone(440, 1.0, 22050)[:1001], 22050, subtype="PCM_U8")  # 1001 bytes of data + a pad byte
    assert wav_shortfall(odd) == 0 and read_audio(odd)[0].size == 1001
    path.write_bytes(path.read_bytes()[:-22050])  # half the samples lost, as in an interrupted copy
    assert sf.info(path).frames == 11025  # libsndfile counts only what is there, without a word
    assert wav_shortfall(path) == pytest.approx(0.5, abs=0.001)
    with pytest.raises(AudioError, match="файл обрезан: нет 50% звука"):
        read_audio(path)
    data = path.read_bytes()
    at = data.index(b"data")
    odd_chunk = tmp_path / "odd_chunk.wav"  # a 3-byte chunk before the data, padded to 4 as RIFF requires
    odd_chunk.write_bytes(data[:at] + b"note\x03\x00\x00\x00abc\x00" + data[at:])
    assert wav_shortfall(odd_chunk) == pytest.approx(0.5, abs=0.001)
    streamed = tmp_path / "streamed.wav"  # a writer on a pipe cannot go back to fill in the size
    streamed.write_bytes(data[: at + 4] + b"\xff\xff\xff\xff" + data[at + 8 :])
    assert wav_shortfall(streamed) == 0 and read_audio(streamed)[0].size == 11025


def test_resample_keeps_pitch_and_level():
    audio = tone(1000, 1.0, 44100)
    out = resample(audio, 44100, 22050)
    assert len(out) == 22050 and out.dtype == np.float32
    assert dominant_frequency(out, 22050) == pytest.approx(1000, abs=2)
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(audio**2)), rel=0.01)
    assert resample(audio, 22050, 22050) is audio


def test_convert_wav_writes_mono_16_bit_at_the_target_rate(tmp_path):
    sf.write(tmp_path / "in.wav", np.stack([tone(300, 1.0, 44100)] * 2, axis=1), 44100)
    convert_wav(tmp_path / "in.wav", tmp_path / "out.wav", 22050)
    info = sf.info(tmp_path / "out.wav")
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (22050, 1, "PCM_16", 22050)


def test_write_wav_clips_instead_of_wrapping_around(tmp_path):
    write_wav(tmp_path / "loud.wav", np.array([0.5, 1.5, -1.5], np.float32), 8000)
    samples, _ = sf.read(tmp_path / "loud.wav", dtype="int16")
    assert samples.tolist() == [16384, 32767, -32768]


def test_atomic_output_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.wav"
    write_wav(target, tone(440, 0.2, 8000), 8000)
    before = target.read_bytes()
    with pytest.raises(RuntimeError), atomic_output(target) as temp:
        temp.write_bytes(b"half a file")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == before
    assert no_temp_files(tmp_path)
    with pytest.raises(OSError):
        write_wav(tmp_path / "no such folder" / "x.wav", tone(440, 0.2, 8000), 8000)


def test_ogg_opus_is_written_at_48_khz_whatever_the_input_rate(tmp_path):
    audio = tone(440, 1.0, 22050)
    write_ogg_opus(tmp_path / "voice.ogg", audio, 22050)
    decoded, rate = sf.read(tmp_path / "voice.ogg", dtype="float32")
    assert rate == 48000 and sf.info(tmp_path / "voice.ogg").subtype == "OPUS"
    assert len(decoded) == pytest.approx(48000, abs=480)
    assert dominant_frequency(decoded, rate) == pytest.approx(440, abs=3)
    assert no_temp_files(tmp_path)


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="this libsndfile has no MP3 (needs 1.1+)")
def test_mp3_decodes_sample_aligned_and_full_length(tmp_path):
    rate = 22050
    audio = np.zeros(rate, np.float32)
    audio[5000:6000] = tone(500, 1000 / rate, rate, amplitude=0.8)
    write_mp3(tmp_path / "a.mp3", audio, rate)
    decoded, decoded_rate = sf.read(tmp_path / "a.mp3", dtype="float32")
    assert decoded_rate == rate and len(decoded) == len(audio)
    lag = np.argmax(np.correlate(decoded, audio[4000:7000], "valid")) - 4000
    assert abs(lag) <= 2  # subtitles stay in sync with the MP3


def test_write_audio_picks_the_format_from_the_suffix(tmp_path):
    audio = tone(440, 0.5, 24000)
    for name, container in [("a.wav", "WAV"), ("a.ogg", "OGG"), ("a.opus", "OGG"), ("a.MP3", "MP3")]:
        write_audio(tmp_path / name, audio, 24000)
        assert sf.info(tmp_path / name).format == container
    with pytest.raises(AudioError, match="неизвестный формат"):
        write_audio(tmp_path / "a.flac", audio, 24000)
    assert not (tmp_path / "a.flac").exists()


@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_normalize_loudness_reaches_the_target(target):
    rate = 22050
    rng = np.random.default_rng(0)
    speechlike = tone(200, 3.0, rate, 0.05) * (0.5 + 0.5 * np.sin(np.linspace(0, 20, 3 * rate)))
    speechlike += 0.005 * rng.standard_normal(len(speechlike)).astype(np.float32)
    out = normalize_loudness(speechlike, rate, target)
    assert out.dtype == np.float32
    assert measure_loudness(out, rate) == pytest.approx(target, abs=0.5)


def dbtp(audio: np.ndarray, rate: int) -> float:
    return 20 * np.log10(true_peak(audio, rate))


@pytest.fixture(scope="module")
def griffin_lim_speech():
    """RHVoice speech through the project's mel settings and a few iterations of Coqui's Griffin-Lim: sharp peaks,
    ~16 dB above its loudness, as a vocoder-less model gives."""
    import json

    from TTS.tts.configs.glow_tts_config import GlowTTSConfig
    from TTS.utils.audio import AudioProcessor

    from conftest import ROOT, SENTENCES, speak

    config = GlowTTSConfig()
    config.from_dict(json.loads((ROOT / "config.json").read_text(encoding="utf-8")))
    processor = AudioProcessor(config.audio)
    processor.griffin_lim_iters = 4
    rate = config.audio.sample_rate
    speech = np.concatenate([speak(text, rate) for text in SENTENCES[:3]])
    return processor.inv_melspectrogram(processor.melspectrogram(speech)).astype(np.float32), rate


def test_griffin_lim_speech_reaches_minus_16_lufs_under_minus_1_dbtp(griffin_lim_speech):
    audio, rate = griffin_lim_speech
    assert dbtp(audio, rate) - measure_loudness(audio, rate) > 15.5  # a plain gain would stop short of -16
    out = normalize_loudness(audio, rate, -16.0, peak_ceiling_db=-1.0)
    assert measure_loudness(out, rate) == pytest.approx(-16.0, abs=0.5)
    assert dbtp(out, rate) <= -1.0 + 0.01
    assert out.dtype == np.float32 and out.shape == audio.shape


def test_limiter_only_touches_the_peaks_and_changes_gain_smoothly():
    rate = 22050
    audio = 0.4 + tone(220, 2.0, rate, amplitude=0.1)  # never near zero, so out / audio is the gain everywhere
    audio[rate : rate + 100] *= 3.0  # a 4.5 ms burst to 1.5 (+3.5 dBFS)
    out = limit_true_peak(audio, rate, ceiling_db=-1.0)
    assert dbtp(out, rate) <= -1.0 + 0.01
    gain_db = 20 * np.log10(out / audio)
    assert np.allclose(gain_db[: rate - 1500], 0.0) and np.allclose(gain_db[rate + 6000 :], 0.0)  # 68, 270 ms off
    assert gain_db[rate - 20] < -0.5  # the look-ahead: already down before the burst starts
    assert np.abs(np.diff(gain_db)).max() < 0.05  # 1 dB a millisecond at most: no step, no click
    quiet = tone(220, 1.0, rate, amplitude=0.5)
    assert np.array_equal(limit_true_peak(quiet, rate, ceiling_db=-1.0), quiet)


def test_limiter_handles_stereo():
    rate = 22050
    stereo = np.stack([tone(220, 1.0, rate, 1.2), tone(330, 1.0, rate, 0.3)], axis=1)
    out = limit_true_peak(stereo, rate, ceiling_db=-1.0)
    assert out.shape == stereo.shape and dbtp(out, rate) <= -1.0 + 0.01
    both = (np.abs(stereo) > 0.05).all(axis=1)
    assert np.allclose(out[both, 1] / stereo[both, 1], out[both, 0] / stereo[both, 0], atol=1e-4)  # one gain
    assert (out[both, 1] / stereo[both, 1]).min() < 0.9  # the quiet channel follows the loud one


def test_normalize_loudness_stops_at_the_true_peak_ceiling():
    rate = 22050
    clicks = np.zeros(2 * rate, np.float32)
    clicks[::2000] = 0.5  # high peaks, little energy: reaching -10 LUFS would need far more than a limiter may take
    out = normalize_loudness(clicks, rate, target_lufs=-10.0, peak_ceiling_db=-1.0)
    assert dbtp(out, rate) <= -1.0 + 0.01
    assert measure_loudness(out, rate) < -10.0
    assert true_peak(clicks, rate) >= np.abs(clicks).max() * 0.99


def test_normalize_loudness_copes_with_short_silent_and_empty_audio():
    rate = 22050
    short = tone(440, 0.1, rate, 0.01)  # shorter than BS.1770's 400 ms block
    assert measure_loudness(normalize_loudness(short, rate, -16.0), rate) == pytest.approx(-16.0, abs=0.5)
    silence = np.zeros(rate, np.float32)
    assert np.array_equal(normalize_loudness(silence, rate), silence)
    assert len(normalize_loudness(np.zeros(0, np.float32), rate)) == 0


def test_trim_silence_keeps_the_speech_and_a_little_margin():
    rate = 16000
    speech = tone(300, 1.0, rate)
    audio = np.concatenate([np.zeros(rate, np.float32), speech, np.zeros(2 * rate, np.float32)])
    audio += 1e-4 * np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32)  # noise floor
    start, end = speech_bounds(audio, rate)
    assert abs(start - rate) <= 160 and abs(end - 2 * rate) <= 160
    trimmed = trim_silence(audio, rate, keep_ms=50)
    assert len(trimmed) == pytest.approx(rate + 2 * 800, abs=2 * 160)
    assert len(trim_silence(np.zeros(rate, np.float32), rate)) == 0
