"""rutts.speech on a freshly initialized tiny GlowTTS: loading, text splitting, loudness, speed, timings, seeds."""
import json
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import ROOT, TINY_MODEL
from rutts.audio import measure_loudness, true_peak, write_wav
from rutts.run import RunError
from rutts.speech import SynthesisConfig, Voice, subtitles
from rutts.text import split_chunks, split_paragraphs
from rutts.text import CHARACTERS

FRAMES_PER_TOKEN = 4


def save_run(folder, characters=CHARACTERS, **changes):
    """An untrained tiny GlowTTS saved the way the Trainer saves a run: config.json + checkpoint_<step>.pth."""
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig
    from TTS.tts.models.glow_tts import GlowTTS

    data = json.loads((ROOT / "config.json").read_text(encoding="utf-8"))
    data.update(TINY_MODEL, **changes)
    if characters is None:  # the model's default set (IPA phonemes when use_phonemes)
        data["characters"] = None
    else:
        data["characters"]["characters"] = characters
    config = GlowTTSConfig()
    config.from_dict(data)
    torch.manual_seed(0)
    model = GlowTTS(config)
    # Untrained, the duration predictor says ~0 frames a token, which every speed rounds up to 1 frame:
    # a constant duration gives length_scale something to scale.
    with torch.no_grad():
        model.encoder.duration_predictor.proj.weight.zero_()
        model.encoder.duration_predictor.proj.bias.fill_(math.log(1 + FRAMES_PER_TOKEN))
    folder.mkdir(parents=True, exist_ok=True)
    config.save_json(str(folder / "config.json"))
    torch.save({"config": config.to_dict(), "model": model.state_dict(), "step": 3}, folder / "checkpoint_3.pth")
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    return save_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="session")
def voice(tiny_run):
    return Voice.load(tiny_run)


def speech_runs(audio, rate, min_gap_s=0.2):
    """(start, end) seconds of the stretches that are not digital silence, gaps shorter than min_gap_s bridged."""
    loud = np.flatnonzero(np.abs(audio) > 1e-3)
    breaks = np.flatnonzero(np.diff(loud) > min_gap_s * rate)
    starts = np.r_[loud[0], loud[breaks + 1]]
    ends = np.r_[loud[breaks], loud[-1]] + 1
    return [(s / rate, e / rate) for s, e in zip(starts, ends)]


# ---------------------------------------------------------------- text


def test_chunks_are_short_and_never_cut_a_word():
    words = ("сег+одня мы разбер+ём, как устр+оены сп+иски и словар+и; нап+ишем небольш+ую прогр+амму "
             "для уч+ёта расх+одов без зап+ятых вообщ+е совс+ем длинн+ую-предлинн+ую").split()
    text = " ".join(words * 4) + "."
    for limit in (20, 45, 80, 200):
        chunks = split_chunks(text, limit)
        assert " ".join(chunks).split() == text.split()
        assert all(len(c) <= limit or " " not in c for c in chunks)
        assert all(c == c.strip() and c for c in chunks)
    assert split_chunks("короткая фраза.", 200) == ["короткая фраза."]
    clauses = split_chunks("перв+ая часть фр+азы, втор+ая часть фр+азы, тр+етья часть.", 30)
    assert all(c.endswith((",", ".")) for c in clauses)  # clause punctuation is preferred to plain spaces


def test_markdown_becomes_plain_paragraphs():
    text = (
        "# Урок 3\n\nПривет, **друзья**! Смотрите [тут](https://x.ru).\nВторая строка.\n\n"
        "- первый пункт\n- второй пункт\n\n```python\nprint('код не читаем')\n```\n\n> Цитата.\n---\nКонец"
    )
    assert split_paragraphs(text) == [
        "Урок 3.",
        "Привет, друзья! Смотрите тут. Вторая строка.",
        "Первый пункт. Второй пункт.",
        "Цитата.",
        "Конец",
    ]
    assert split_paragraphs("  \n\n ``` \n") == []


# ---------------------------------------------------------------- audio


def test_wav_at_config_rate_and_loudness_target(voice, tmp_path):
    text = "Добрый день! Сегодня у нас третий урок. Откройте тетради."
    quiet = voice.synthesize(text, SynthesisConfig(loudness_lufs=-23.0))
    assert abs(measure_loudness(quiet, voice.sample_rate) + 23.0) < 1.0
    loud = voice.synthesize(text)  # Griffin-Lim peaks: the true-peak limiter lets the gain reach −16 LUFS
    assert measure_loudness(loud, voice.sample_rate) == pytest.approx(-16.0, abs=0.5)
    assert 20 * np.log10(true_peak(loud, voice.sample_rate)) <= -1.0 + 0.01
    write_wav(tmp_path / "out.wav", loud, voice.sample_rate)
    info = sf.info(tmp_path / "out.wav")
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert abs(info.frames - loud.size) == 0


def test_speed_shortens_audio(voice):
    text = "Тише едешь, дальше будешь."
    normal = voice.synthesize(text, SynthesisConfig(length_scale=1.0))
    fast = voice.synthesize(text, SynthesisConfig(length_scale=1 / 1.5))
    assert fast.size < 0.85 * normal.size


def test_timings_match_the_audio(voice):
    text = "Первое предложение. Второе, чуть длиннее предложение!\n\nНовый абзац. Последнее предложение?"
    speech = voice.speak(text, SynthesisConfig(sentence_silence=0.4, paragraph_silence=1.0))
    assert [s.text for s in speech.sentences] == [
        "Первое предложение.", "Второе, чуть длиннее предложение!", "Новый абзац.", "Последнее предложение?"
    ]
    assert [s.paragraph for s in speech.sentences] == [0, 0, 1, 1]
    runs = speech_runs(speech.audio, speech.sample_rate)
    assert len(runs) == len(speech.sentences)
    for (start, end), sentence in zip(runs, speech.sentences):
        assert abs(start - sentence.start) < 0.05 and abs(end - sentence.end) < 0.05
    gaps = [b.start - a.end for a, b in zip(speech.sentences, speech.sentences[1:])]
    assert gaps == pytest.approx([0.4, 1.0, 0.4], abs=0.01)
    assert subtitles(speech.sentences).count("-->") == 4


def test_same_seed_same_audio(voice):
    text = "Семь раз отмерь, один раз отрежь."
    first = voice.synthesize(text, SynthesisConfig(seed=7))
    assert np.array_equal(first, voice.synthesize(text, SynthesisConfig(seed=7)))
    assert not np.array_equal(first, voice.synthesize(text, SynthesisConfig(seed=8)))


def test_long_sentence_is_chunked_into_one_timed_sentence(voice):
    sentence = ", ".join(["каждый охотник желает знать где сидит фазан"] * 8) + "."
    speech = voice.speak(sentence, SynthesisConfig(max_chunk_chars=80))
    assert len(speech.sentences) == 1
    assert speech.sentences[0].end == pytest.approx(speech.duration, abs=1e-6)
    audio, ms = speech.audio, speech.sample_rate // 1000
    sound = np.abs(audio) > 0
    edges = np.flatnonzero(np.diff(sound.astype(np.int8)))  # where silence and chunks meet
    assert len(edges) >= 2 * 3  # four or more chunks, joined by pauses
    peak = np.abs(audio).max()
    for edge in edges:  # every join fades: no step from silence to full level, so no click
        assert np.abs(audio[max(0, edge - ms) : edge + ms + 1]).max() < 0.1 * peak


# ---------------------------------------------------------------- loading


def test_run_folder_picks_best_model_and_config(tiny_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_bytes((tiny_run / "config.json").read_bytes())
    (run / "checkpoint_1.pth").write_bytes(b"stale")  # an older checkpoint: never read while a best model exists
    (run / "best_model.pth").write_bytes((tiny_run / "checkpoint_3.pth").read_bytes())
    assert Voice.load(run).sample_rate == 22050


def test_missing_model_files_are_named(tmp_path):
    with pytest.raises(RunError, match="модель не найдена"):
        Voice.load(tmp_path / "missing")
    with pytest.raises(RunError, match="нет читаемого чекпо[ий]нта"):
        Voice.load(tmp_path)
    (tmp_path / "lonely.pth").write_bytes(b"weights without a config")
    with pytest.raises(RunError, match="не найден конфиг"):
        Voice.load(tmp_path / "lonely.pth")


def test_mismatched_config_or_checkpoint_is_named(tiny_run, tmp_path):
    checkpoint = tiny_run / "checkpoint_3.pth"
    config = json.loads((tiny_run / "config.json").read_text(encoding="utf-8"))
    vits = tmp_path / "vits.json"
    vits.write_text(json.dumps(dict(config, model="vits")), encoding="utf-8")
    with pytest.raises(RunError, match="не конфиг GlowTTS"):
        Voice.load(checkpoint, vits)
    latin = tmp_path / "latin.json"
    latin.write_text(json.dumps(dict(config, characters=dict(config["characters"], characters="abc"))), encoding="utf-8")
    with pytest.raises(RunError, match="другим набором символов"):
        Voice.load(checkpoint, latin)
    wider = tmp_path / "wider.json"
    wider.write_text(json.dumps(dict(config, hidden_channels_dec=48)), encoding="utf-8")
    with pytest.raises(RunError, match=r"не подходит к конфигу .*wider.json: другие размеры сети: слой decoder"):
        Voice.load(checkpoint, wider)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(RunError, match="не читается как чекпоинт"):
        Voice.load(junk, tiny_run / "config.json")


def test_model_trained_with_another_alphabet_is_named(tiny_run, tmp_path):
    other = save_run(tmp_path / "other", characters=CHARACTERS + "x")
    with pytest.raises(RunError, match="другой алфавит: лишние «x»"):
        Voice.load(other / "checkpoint_3.pth", tiny_run / "config.json")


def test_phoneme_model_reads_russian_letters_without_stress_marks(tmp_path):
    run = save_run(tmp_path / "phonemes", characters=None, use_phonemes=True, phonemizer="espeak",
                   phoneme_language="ru")
    voice = Voice.load(run)
    tokenizer = voice.model.tokenizer
    seen, to_ids = [], tokenizer.text_to_ids
    tokenizer.text_to_ids = lambda text, *args, **kwargs: seen.append(text) or to_ids(text, *args, **kwargs)
    audio = voice.synthesize("Молоко стоит 50 рублей.")
    assert audio.size > 0
    assert seen == ["молоко стоит пятьдесят рублей."]  # stress marks dropped: espeak-ng would read "+" as "плюс"
    phonemes = tokenizer.decode(to_ids(seen[0]))
    assert "ˈ" in phonemes and not any("а" <= ch <= "я" for ch in phonemes)


def test_vocoder_with_other_mel_settings_is_refused(tiny_run, tmp_path):
    from TTS.vocoder.configs import HifiganConfig
    from TTS.vocoder.models import setup_model

    config = HifiganConfig()
    config.audio.mel_fmax = None  # the acoustic model's mels stop at 8 kHz
    config.generator_model_params = {
        "upsample_factors": [8, 8, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4], "upsample_initial_channel": 16,
        "resblock_kernel_sizes": [3], "resblock_dilation_sizes": [[1, 3, 5]], "resblock_type": "1",
    }
    vocoder = setup_model(config)
    config.save_json(str(tmp_path / "vocoder.json"))
    torch.save({"model": vocoder.state_dict()}, tmp_path / "vocoder.pth")
    with pytest.raises(RunError, match="mel_fmax 8000.0 ≠ None"):  # tests/test_vocoder.py: a matching one
        Voice.load(tiny_run, vocoder=tmp_path / "vocoder.pth", vocoder_config=tmp_path / "vocoder.json")
