"""A tiny HiFi-GAN trained by train_vocoder.py on the tiny corpus (real Coqui GAN and trainer, on CPU): SIGTERM and
resume, the TTS run naming its vocoder, synthesis and the course mode with it, GTA mels, fine-tuning, the health
report, and bad input."""
import io
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
import srt
import soundfile as sf
import torch

import inference
import view_tensorboard
from conftest import ROOT
from rutts.audio import measure_loudness, true_peak
from rutts.run import LINK_FILE, best_checkpoint, link_vocoder
from rutts.run.state import CHECK_FILE
from rutts.speech import GRIFFIN_LIM, CoquiVocoder, GriffinLim, Voice
from rutts.speech.vocoders import frame_groups
from rutts.train import health
from rutts.train.config import TrainingSetupError
from rutts.train.vocoder import build_vocoder_trainer
from rutts.train.vocoder_config import read_tts_config, vocoder_config
from rutts.train.vocoder_data import extract_gta_mels, vocoder_samples
from test_bot import OWNER, fake, run_bot, voice_of  # noqa: F401  (fixtures)
from test_inference import LESSON, LESSON_SENTENCES
from test_synth import save_run, speech_runs

TINY_VOCODER = {
    "run_name": "hifigan_tiny",
    "generator_model_params": {"upsample_factors": [8, 8, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4],
                               "upsample_initial_channel": 16, "resblock_kernel_sizes": [3],
                               "resblock_dilation_sizes": [[1, 3, 5]], "resblock_type": "1"},
    "discriminator_model": "melgan_multiscale_discriminator",
    "discriminator_model_params": {"base_channels": 4, "max_channels": 16, "downsample_factors": [4, 4]},
    "batch_size": 2,
    "seq_len": 2048,
    "num_loader_workers": 0,
    "num_eval_loader_workers": 0,
    "print_step": 1,
    "plot_step": 1,
    "save_step": 2,
    "save_n_checkpoints": 2,
    "epochs": 1000,
}
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def command(*args):
    return [sys.executable, str(ROOT / "train_vocoder.py"), *map(str, args)]


def train(*args, timeout=300):
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=ENV)


def newest(run):
    return max(run.glob("checkpoint_*.pth"), key=lambda p: int(p.stem.split("_")[1]))


def runs_in(folder):
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_corpus):
    """An untrained tiny GlowTTS run whose config names the tiny corpus, and the tiny vocoder preset."""
    tmp = tmp_path_factory.mktemp("vocoder")
    tts_run = save_run(tmp / "tts_run")
    data = json.loads((tts_run / "config.json").read_text(encoding="utf-8"))
    data["datasets"][0]["path"] = str(tiny_corpus)
    data["output_path"] = str(tmp / "outputs")
    (tts_run / "config.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (tmp / "tiny.json").write_text(json.dumps(TINY_VOCODER), encoding="utf-8")
    return {"tmp": tmp, "tts_run": tts_run, "preset": tmp / "tiny.json", "corpus": tiny_corpus,
            "out": tmp / "outputs"}


@pytest.fixture(scope="module")
def vocoder_run(setup):
    """Trained until SIGTERM (which saves a checkpoint), then continued for 2 more steps; names itself in the TTS
    run. Returns (run folder, the step SIGTERM saved, the continued run's output)."""
    proc = subprocess.Popen(command("--tts-run", setup["tts_run"], "--preset", setup["preset"],
                                    "--coqpit.save_step=1000", "--max-steps", "1000"),
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        runs = runs_in(setup["out"])
        log = runs[0] / "trainer_0_log.txt" if runs else None
        if log and log.is_file() and "GLOBAL_STEP: 3" in log.read_text(encoding="utf-8"):
            break
        time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 130, output[-3000:]
    assert "--continue-path" in output
    (run,) = runs_in(setup["out"])
    (saved,) = run.glob("checkpoint_*.pth")
    stopped_at = int(saved.stem.split("_")[1])
    resumed = train("--continue-path", run, "--tts-run", setup["tts_run"], "--max-steps", stopped_at + 2)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # A vocoder trained for a few steps is worse than Griffin-Lim: the TTS run is not made to name it...
    assert "Вокодер пока хуже Гриффина-Лима" in resumed.stdout and not (setup["tts_run"] / LINK_FILE).exists()
    check = json.loads((run / CHECK_FILE).read_text(encoding="utf-8"))
    assert check["vocoder"] < check["griffin_lim"] and check["clips"] == 2
    link_vocoder(setup["tts_run"], run)  # ...so it is named by hand, for the tests of a voice that has a vocoder
    return run, stopped_at, resumed


# ---------------------------------------------------------------- training


def test_sigterm_saves_and_the_run_continues_in_place(setup, vocoder_run):
    run, stopped_at, resumed = vocoder_run
    assert runs_in(setup["out"]) == [run]  # continued in place
    assert f"Model restored from step {stopped_at}" in (run / "trainer_0_log.txt").read_text(encoding="utf-8")
    state = torch.load(newest(run), map_location="cpu", weights_only=False)
    assert state["step"] >= stopped_at + 1
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    tts_audio = json.loads((setup["tts_run"] / "config.json").read_text(encoding="utf-8"))["audio"]
    assert config["audio"] == tts_audio  # one source of truth
    assert config["target_loss"] == "G_l1_spec_loss"
    assert "пропущено NaN/Inf: 0" in resumed.stdout


def test_health_report_reads_a_vocoder_run(vocoder_run, capsys):
    run, _, _ = vocoder_run
    scalars = health.read_scalars(run)
    assert health.is_vocoder_run(scalars)
    assert view_tensorboard.main([str(run), "--report"]) == 0
    out = capsys.readouterr().out
    assert "mel loss генератора" in out and "дискриминатор: loss на настоящем" in out
    assert (run / "curves" / "mel_loss.png").is_file() and (run / "curves" / "discriminator.png").is_file()


def test_collapsed_discriminator_is_reported():
    steps = list(range(0, 400, 10))
    adv = [(s, 0.97) for s in steps]
    wins = health.check_vocoder_scalars({
        health.G_LOSS: [(s, 50.0) for s in steps], health.D_REAL_LOSS: [(s, 0.004) for s in steps],
        health.D_FAKE_LOSS: [(s, 0.003) for s in steps], health.G_ADV_LOSS: adv})
    blind = health.check_vocoder_scalars({
        health.G_LOSS: [(s, 50.0) for s in steps], health.D_REAL_LOSS: [(s, 0.25 + 1e-4 * (s % 3)) for s in steps],
        health.D_FAKE_LOSS: [(s, 0.25) for s in steps], health.G_ADV_LOSS: adv})
    balanced = health.check_vocoder_scalars({
        health.G_LOSS: [(s, 50.0) for s in steps], health.D_REAL_LOSS: [(s, 0.2 + 0.1 * (s % 7) / 7) for s in steps],
        health.D_FAKE_LOSS: [(s, 0.15 + 0.1 * (s % 5) / 5) for s in steps], health.G_ADV_LOSS: adv})

    def balance(findings):
        return next(f for f in findings if f.key == "gan_balance")

    assert balance(wins).level == health.WARN and "в победу" in balance(wins).message
    assert balance(blind).level == health.WARN and "одно и то же" in balance(blind).message
    assert balance(balanced).level == health.OK


def test_mel_loss_trend_and_nan_in_the_logs():
    steps = range(0, 500, 10)
    falling = health.check_vocoder_scalars({health.G_LOSS: [(s, 1.0) for s in steps],
                                            health.MEL_LOSS: [(s, 2.0 - s / 500) for s in steps]})
    mel = next(f for f in falling if f.key == "mel_loss")
    assert mel.level == health.OK and "падает" in mel.message
    nan = health.check_vocoder_scalars({health.G_LOSS: [(s, float("nan") if s == 250 else 1.0) for s in steps]})
    assert next(f for f in nan if f.key == "nonfinite").level == health.ERROR


# ---------------------------------------------------------------- synthesis with the vocoder


def test_tts_run_names_its_vocoder_and_voice_uses_it(setup, vocoder_run, caplog):
    run, _, _ = vocoder_run
    tts_run = setup["tts_run"]
    named = json.loads((tts_run / LINK_FILE).read_text(encoding="utf-8"))["vocoder_run"]
    assert (tts_run / named).resolve() == run.resolve()
    voice = Voice.load(tts_run)
    assert isinstance(voice.vocoder, CoquiVocoder) and voice.vocoder.checkpoint == best_checkpoint(run).resolve()
    audio = voice.synthesize("Проверка вокодера.")
    assert audio.dtype == np.float32 and audio.size > 0.1 * voice.sample_rate and np.isfinite(audio).all()
    assert isinstance(Voice.load(tts_run, vocoder=GRIFFIN_LIM).vocoder, GriffinLim)

    elsewhere = setup["tmp"] / "moved_tts_run"  # a named vocoder that is gone: warning, Griffin-Lim
    save_run(elsewhere)
    (elsewhere / LINK_FILE).write_text(json.dumps({"vocoder_run": "../no_such_run"}), encoding="utf-8")
    with caplog.at_level("WARNING", logger="rutts.speech"):
        assert isinstance(Voice.load(elsewhere).vocoder, GriffinLim)
    assert "no_such_run" in caplog.text and "Griffin-Lim" in caplog.text


def test_course_mode_with_the_vocoder_keeps_subtitles_and_loudness(setup, vocoder_run, tmp_path, capsys):
    run, _, _ = vocoder_run
    lesson = tmp_path / "lesson.md"
    lesson.write_text(LESSON, encoding="utf-8")
    out = tmp_path / "out"
    code = inference.main(["-m", str(setup["tts_run"]), "--vocoder", str(run), "-i", str(lesson), "--course",
                           "-o", str(out), "--sentence-silence", "0.4", "--paragraph-silence", "1.0"])
    assert code == 0, capsys.readouterr().err
    audio, rate = sf.read(out / "lesson.wav", dtype="float32")
    cues = list(srt.parse((out / "lesson.srt").read_text(encoding="utf-8")))
    assert [c.content for c in cues] == LESSON_SENTENCES
    runs = speech_runs(audio, rate)
    assert len(runs) == len(cues)
    for (start, end), cue in zip(runs, cues):
        assert abs(start - cue.start.total_seconds()) < 0.05
        assert abs(end - cue.end.total_seconds()) < 0.05
    # −16 LUFS under a −1 dBTP ceiling: an untrained vocoder clicks, so its peaks may hold the gain lower
    for number in range(1, 5):
        part, _ = sf.read(out / f"lesson_{number:03d}.wav", dtype="float32")
        peak_db = 20 * np.log10(true_peak(part, rate))
        assert peak_db <= -1.0 + 0.01
        assert abs(measure_loudness(part, rate) + 16.0) < 1.0 or peak_db > -1.2


def test_long_text_with_the_vocoder_streams_to_disk(setup, vocoder_run, tmp_path, capsys):
    """Python-side memory stays that of one piece with the vocoder too (as tests/test_inference.py with Griffin-Lim)."""
    paragraph = "Каждый охотник желает знать, где сидит фазан. Тише едешь, дальше будешь. " * 3
    peaks, sizes = [], []
    for count in (4, 20):
        script = tmp_path / f"long{count}.txt"
        script.write_text("\n\n".join([paragraph] * count), encoding="utf-8")
        tracemalloc.start()
        code = inference.main(["-m", str(setup["tts_run"]), "-i", str(script), "--course", "-o", str(tmp_path)])
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert code == 0, capsys.readouterr().err
        sizes.append(sf.info(tmp_path / f"long{count}.wav").frames * 4)
    assert sizes[1] > 30e6
    assert peaks[1] < peaks[0] + 4e6, f"Python memory grew with the text: {peaks[0] / 1e6:.0f} → {peaks[1] / 1e6:.0f} MB"


@pytest.fixture
def model_dir(setup, vocoder_run):
    """For test_bot's runner: the bot's model is the TTS run that names the trained vocoder."""
    return setup["tts_run"]


def test_bot_speaks_with_the_vocoder_the_run_names(run_bot, vocoder_run, caplog):
    run, _, _ = vocoder_run

    def users(fake):
        message = fake.text(OWNER, "Привет! Это голос нового вокодера.")
        fake.wait_for(lambda: fake.replies_to(message), 120, "the voice note")
        [(method, _, files)] = fake.replies_to(message)
        info, data = voice_of(files)
        assert method == "sendVoice" and (info.format, info.subtype) == ("OGG", "OPUS")
        assert sf.read(io.BytesIO(data))[0].std() > 0.001

    assert run_bot(users, "--allow", str(OWNER))[0] == 0
    assert f"vocoder named by {run.parent.parent / 'tts_run' / LINK_FILE}" in caplog.text


# ---------------------------------------------------------------- bad input


def run_cli(capsys, *args):
    code = inference.main([str(a) for a in args])
    return code, capsys.readouterr().err


def one_error(err):
    lines = [line for line in err.splitlines() if line.startswith("Ошибка")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_vocoder_with_other_mel_settings_or_rate_is_refused(setup, vocoder_run, tmp_path, capsys):
    run, _, _ = vocoder_run
    for field, value, named in (("mel_fmax", 11025.0, "mel_fmax 8000.0 ≠ 11025.0"),
                                ("sample_rate", 24000, "sample_rate 22050 ≠ 24000")):
        other = tmp_path / f"other_{field}"
        other.mkdir()
        config = json.loads((run / "config.json").read_text(encoding="utf-8"))
        config["audio"][field] = value
        (other / "config.json").write_text(json.dumps(config), encoding="utf-8")
        (other / "best_model.pth").symlink_to(best_checkpoint(run))
        code, err = run_cli(capsys, "-m", setup["tts_run"], "--vocoder", other, "--text", "Привет.",
                            "-o", tmp_path / "x.wav")
        assert code == 2 and named in one_error(err)
    assert not (tmp_path / "x.wav").exists()


def test_tts_and_vocoder_mixups_are_named(setup, vocoder_run, tmp_path, capsys):
    run, _, _ = vocoder_run
    code, err = run_cli(capsys, "-m", setup["tts_run"], "--vocoder", setup["tts_run"], "--text", "Привет.",
                        "-o", tmp_path / "x.wav")
    assert code == 2 and "конфиг модели GlowTTS, а не вокодера" in one_error(err)
    code, err = run_cli(capsys, "-m", run, "--text", "Привет.", "-o", tmp_path / "x.wav")
    assert code == 2 and "это вокодер, его передают через --vocoder" in one_error(err)
    as_tts = train("--tts-run", run, "--preset", setup["preset"], "--max-steps", "1")
    assert as_tts.returncode == 2 and "конфиг вокодера, а не TTS" in as_tts.stderr
    as_restore = train("--tts-run", setup["tts_run"], "--preset", setup["preset"], "--restore-path",
                       setup["tts_run"] / "checkpoint_3.pth", "--max-steps", "1")
    assert as_restore.returncode == 2 and "конфиг модели GlowTTS, а не вокодера" in as_restore.stderr
    as_continue = train("--continue-path", setup["tts_run"])
    assert as_continue.returncode == 2 and "train_glowtts.py --continue-path" in as_continue.stderr
    for result in (as_tts, as_restore, as_continue):
        assert "Traceback" not in result.stderr


def test_audio_settings_only_from_the_tts_config(setup, vocoder_run, tmp_path):
    run, _, _ = vocoder_run
    override = train("--tts-run", setup["tts_run"], "--preset", setup["preset"], "--coqpit.audio.mel_fmax=11025",
                     "--max-steps", "1")
    assert override.returncode == 2 and "берутся из конфига TTS" in override.stderr
    audio = json.loads((run / "config.json").read_text(encoding="utf-8"))["audio"]
    other_tts = save_run(tmp_path / "other_tts", audio={**audio, "mel_fmax": 7600.0})
    with pytest.raises(TrainingSetupError, match="mel_fmax 7600.0 ≠ 8000.0"):  # continuing with another TTS config
        build_vocoder_trainer(None, continue_path=run, tts_config=read_tts_config(other_tts))
    config = vocoder_config(read_tts_config(other_tts), str(setup["preset"]), data=setup["corpus"])
    with pytest.raises(TrainingSetupError, match="mel_fmax 7600.0 ≠ 8000.0"):  # fine-tuning a vocoder of other mels
        build_vocoder_trainer(config, restore_path=best_checkpoint(run), output_path=tmp_path)
    odd_hop = save_run(tmp_path / "odd_hop", audio={**audio, "hop_length": 200})
    with pytest.raises(TrainingSetupError, match="seq_len 2048 должен делиться на hop_length 200"):
        vocoder_config(read_tts_config(odd_hop), str(setup["preset"]))


def test_corpus_without_wavs_or_split_is_named(setup, tmp_path):
    (tmp_path / "empty" / "RUSLAN").mkdir(parents=True)
    empty = train("--tts-run", setup["tts_run"], "--preset", setup["preset"], "--data", tmp_path / "empty")
    assert empty.returncode == 2 and "нет ни одного wav" in empty.stderr and "Traceback" not in empty.stderr
    unsplit = tmp_path / "unsplit" / "RUSLAN"
    unsplit.mkdir(parents=True)
    sf.write(unsplit / "000001_RUSLAN.wav", np.zeros(22050, np.float32), 22050)
    config = vocoder_config(read_tts_config(setup["tts_run"]), str(setup["preset"]), data=unsplit.parent)
    with pytest.raises(TrainingSetupError, match="check_sample_rate.py"):
        vocoder_samples(config)


def test_clips_shorter_than_the_segment_are_padded_not_dropped(setup, tmp_path):
    from TTS.vocoder.models.gan import GAN

    short = tmp_path / "short"
    (short / "RUSLAN").mkdir(parents=True)
    for meta in ("metadata_train.csv", "metadata_val.csv"):
        text = (setup["corpus"] / meta).read_text(encoding="utf-8")
        (short / meta).write_text(text, encoding="utf-8")
        for line in text.splitlines():
            utt_id = line.split("|")[0]
            audio, rate = sf.read(setup["corpus"] / "RUSLAN" / f"{utt_id}.wav", dtype="float32")
            middle = len(audio) // 2
            sf.write(short / "RUSLAN" / f"{utt_id}.wav", audio[middle: middle + 1500], rate)  # < seq_len 2048
    config = vocoder_config(read_tts_config(setup["tts_run"]), str(setup["preset"]), data=short)
    train_items, _ = vocoder_samples(config)
    loader = GAN(config).get_data_loader(config, is_eval=False, samples=train_items, verbose=False)
    batches = list(loader)
    assert sum(len(mel) for mel, _ in batches) == len(train_items)  # every clip is used
    mel, audio = batches[0]
    assert audio.shape[1:] == (1, 2048) and mel.shape[1:] == (80, 2048 // 256)


# ---------------------------------------------------------------- GTA mels and fine-tuning


def test_gta_mels_are_the_tts_models_mels_aligned_to_the_audio(setup):
    from TTS.tts.utils.helpers import sequence_mask

    folder = extract_gta_mels(setup["tts_run"], setup["corpus"])
    config = vocoder_config(read_tts_config(setup["tts_run"]), str(setup["preset"]))
    config.feature_path = str(folder)
    train_items, val_items = vocoder_samples(config)
    assert len(train_items) == 10 and len(val_items) == 2 and all(isinstance(i, tuple) for i in train_items)
    wav_file, mel_file = val_items[0]
    model = Voice.load(setup["tts_run"], vocoder=GRIFFIN_LIM).model
    real = model.ap.melspectrogram(model.ap.load_wav(wav_file))
    gta = np.load(mel_file)
    assert gta.shape == (80, real.shape[1] // 2 * 2)  # GlowTTS drops the frame that does not fill a squeeze pair
    # mel space, not the flow's latent space: the flow maps the GTA mel back onto the aligned prior means
    text = dict(line.split("|") for line in (setup["corpus"] / "metadata_val.csv").read_text().splitlines())
    ids = torch.tensor([model.tokenizer.text_to_ids(text[os.path.basename(wav_file)[:-4]])])
    y = torch.from_numpy(real.astype(np.float32)).T.unsqueeze(0)
    with torch.inference_mode():
        means = model.inference_with_MAS(ids, torch.tensor([ids.shape[1]]), y, torch.tensor([y.shape[1]]))["y_mean"]
        mask = sequence_mask(torch.tensor([gta.shape[1]]), gta.shape[1]).unsqueeze(1).float()
        z, _ = model.decoder(torch.from_numpy(gta).unsqueeze(0), mask)
    assert torch.allclose(z[0], means[0].T, atol=1e-3)
    stamp = (folder / f"{os.path.basename(mel_file)}").stat().st_mtime_ns
    extract_gta_mels(setup["tts_run"], setup["corpus"])  # same checkpoint: kept, not extracted again
    assert (folder / os.path.basename(mel_file)).stat().st_mtime_ns == stamp


def test_fine_tuning_takes_weights_and_generator_shape_from_the_checkpoint(setup, vocoder_run, tmp_path):
    run, _, _ = vocoder_run
    config = vocoder_config(read_tts_config(setup["tts_run"]), "cpu")  # the CPU preset's generator is wider
    trainer = build_vocoder_trainer(config, restore_path=run, output_path=tmp_path)
    saved = torch.load(best_checkpoint(run), map_location="cpu", weights_only=False)["model"]
    for name, tensor in trainer.model.model_g.state_dict().items():
        assert torch.equal(tensor, saved[f"model_g.{name}"]), name
    assert trainer.total_steps_done == 0
    assert trainer.config.generator_model_params["upsample_initial_channel"] == 16

    old_style = tmp_path / "old" / "model_file.pth"  # older Coqui GAN checkpoints: generator in "model"
    old_style.parent.mkdir()
    generator = {k.removeprefix("model_g."): v for k, v in saved.items() if k.startswith("model_g.")}
    torch.save({"model": generator, "step": 0, "epoch": 0}, old_style)
    (old_style.parent / "config.json").write_text((run / "config.json").read_text())
    trainer = build_vocoder_trainer(vocoder_config(read_tts_config(setup["tts_run"]), "cpu"),
                                    restore_path=old_style, output_path=tmp_path)
    assert torch.equal(trainer.model.model_g.conv_pre.parametrizations.weight.original1,
                       saved["model_g.conv_pre.parametrizations.weight.original1"])


def test_a_published_vocoder_is_fine_tuned_by_its_coqui_name(setup, vocoder_run, tmp_path, monkeypatch, capsys):
    """--restore-path vocoder_models/... : the checkpoint Coqui's model manager keeps (here already in its folder, as
    after the one download on a machine with internet)."""
    run, _, _ = vocoder_run
    monkeypatch.setenv("TTS_HOME", str(tmp_path / "home"))
    kept = tmp_path / "home" / "tts" / "vocoder_models--en--ljspeech--hifigan_v2"
    kept.mkdir(parents=True)
    saved = torch.load(best_checkpoint(run), map_location="cpu", weights_only=False)["model"]
    torch.save({"model": saved, "step": 0, "epoch": 0}, kept / "model_file.pth")
    (kept / "config.json").write_text((run / "config.json").read_text())
    trainer = build_vocoder_trainer(vocoder_config(read_tts_config(setup["tts_run"]), "cpu"),
                                    restore_path="vocoder_models/en/ljspeech/hifigan_v2", output_path=tmp_path)
    assert torch.equal(trainer.model.model_g.conv_pre.parametrizations.weight.original1,
                       saved["model_g.conv_pre.parametrizations.weight.original1"])

    code = subprocess.run(command("--tts-run", setup["tts_run"], "--restore-path", "vocoder_models/en/no/such_model",
                                  "--output-path", tmp_path / "out"), env={**ENV, "TTS_HOME": str(tmp_path / "home")},
                          capture_output=True, text=True)
    assert code.returncode == 2 and "--restore-path: вокодер vocoder_models/en/no/such_model" in code.stderr, code.stderr


def test_presets_give_the_v2_generator_and_the_tts_audio(setup):
    tts_config = read_tts_config(setup["tts_run"])
    for preset in ("cpu", "gpu8gb"):
        config = vocoder_config(tts_config, preset)
        assert config.generator_model_params["upsample_initial_channel"] == 128
        assert config.audio.to_dict() == tts_config.audio.to_dict()
        assert config.l1_spec_loss_params["sample_rate"] == tts_config.audio.sample_rate
    with pytest.raises(TrainingSetupError, match="Нет пресета вокодера «gpu4gb»"):
        vocoder_config(tts_config, "gpu4gb")


def test_cpu_preset_slows_the_generator_on_the_step_the_discriminator_starts(setup, tmp_path):
    """Mel loss alone trains faster at lr 1e-3 (measured: PESQ 1.28 against 1.16 at 3000 steps); with the
    discriminator the generator goes back to HiFi-GAN's 2e-4, on that very step (per step, not per epoch)."""
    cpu = json.loads((ROOT / "presets" / "vocoder" / "cpu.json").read_text(encoding="utf-8"))
    assert cpu["lr_scheduler_gen_params"]["milestones"] == [cpu["steps_to_start_discriminator"]]
    schedule = {key: cpu[key] for key in ("lr_gen", "lr_disc", "scheduler_after_epoch", "lr_scheduler_gen",
                                          "lr_scheduler_disc", "lr_scheduler_disc_params")}
    preset = tmp_path / "tiny_cpu_schedule.json"
    preset.write_text(json.dumps({**TINY_VOCODER, **schedule, "steps_to_start_discriminator": 3,
                                  "lr_scheduler_gen_params": {**cpu["lr_scheduler_gen_params"], "milestones": [3]}}))
    done = train("--tts-run", setup["tts_run"], "--preset", preset, "--max-steps", "6",
                 "--output-path", tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = runs_in(tmp_path / "out")
    scalars = health.read_scalars(run)
    generator = dict(scalars["TrainIterStats/current_lr_1"])
    assert generator[1] == pytest.approx(1e-3) and generator[2] == pytest.approx(1e-3), generator
    assert all(generator[step] == pytest.approx(2e-4) for step in (3, 4, 5)), generator
    assert {round(lr, 8) for _, lr in scalars["TrainIterStats/current_lr_0"]} == {2e-4}


def test_a_scheduler_that_cannot_be_built_is_refused_before_training(setup):
    tts_config = read_tts_config(setup["tts_run"])
    with pytest.raises(TrainingSetupError, match="lr_scheduler_gen_params — словарь"):
        vocoder_config(tts_config, "cpu", ["--coqpit.lr_scheduler_gen_params=5"])
    with pytest.raises(TrainingSetupError, match="'NoSuchLR'.*не создаётся"):
        vocoder_config(tts_config, "cpu", ["--coqpit.lr_scheduler_gen=NoSuchLR"])
    with pytest.raises(TrainingSetupError, match="milestones"):  # MultiStepLR's params replaced without them
        vocoder_config(tts_config, "cpu", ['--coqpit.lr_scheduler_gen_params={"gamma": 0.5}'])


def test_evaluation_leaves_out_a_discriminator_that_does_not_train_yet(setup, tmp_path):
    config = vocoder_config(read_tts_config(setup["tts_run"]), str(setup["preset"]),
                            ["--coqpit.steps_to_start_discriminator=1000"])
    trainer = build_vocoder_trainer(config, output_path=tmp_path)

    def no_discriminator(*args):
        raise AssertionError("the discriminator ran in an evaluation before it trains")

    trainer.model.model_d.forward = no_discriminator
    trainer.eval_epoch()
    assert trainer.keep_avg_eval["avg_G_l1_spec_loss"] > 0


def test_vocoder_output_lines_up_with_the_mel(setup, vocoder_run):
    """Coqui's generator pads the mel by inference_padding frames each side; their sound must not shift the speech."""
    from rutts.speech import SynthesisConfig

    run, _, _ = vocoder_run
    voice = Voice.load(setup["tts_run"], vocoder=run)
    vocoder, hop = voice.vocoder, voice.vocoder.ap.hop_length
    pad = vocoder.model.model_g.inference_padding
    assert pad > 0
    vocoder.model.inference = lambda mel: torch.arange(float(mel.shape[2] + 2 * pad) * hop).view(1, 1, -1)
    mel = torch.zeros(1, 20, 80)
    (wave,) = vocoder(mel, [12], SynthesisConfig())
    assert wave.size == 12 * hop and wave[0] == pad * hop  # the samples of frames 0..11, nothing of the padding


def test_frame_groups_keep_each_generator_call_within_its_budget():
    assert frame_groups([100] * 8, 800) == [list(range(8))]
    assert frame_groups([300, 300, 300], 800) == [[0, 1], [2]]
    assert frame_groups([50, 900, 10], 800) == [[0], [1], [2]]  # a long chunk goes alone
    assert frame_groups([0, 0], 1) == [[0], [1]]  # an empty chunk still costs a frame


def test_every_chunk_gets_its_own_sound_however_the_calls_are_grouped(setup, vocoder_run):
    from rutts.speech import SynthesisConfig

    run, _, _ = vocoder_run
    vocoder = Voice.load(setup["tts_run"], vocoder=run).vocoder
    hop = vocoder.ap.hop_length
    torch.manual_seed(0)
    mels = torch.randn(4, 60, 80)
    frames = [20, 33, 47, 60]
    vocoder.frames_per_call = 10**6
    together = vocoder(mels, frames, SynthesisConfig())
    vocoder.frames_per_call = 1
    apart = vocoder(mels, frames, SynthesisConfig())
    for n, one, other in zip(frames, together, apart):
        assert one.size == other.size == n * hop
        # only the last frames hear the padding, which differs when a chunk shares a call with longer ones
        np.testing.assert_allclose(one[: (n - 10) * hop], other[: (n - 10) * hop], atol=1e-5)


def test_griffin_lim_exponent_sharpens_real_speech_better_than_coquis():
    """Copy synthesis of real speech: our Griffin-Lim exponent scores higher PESQ than the 1.5 of Coqui's config."""
    pesq = pytest.importorskip("pesq").pesq
    import soxr
    from TTS.utils.audio import AudioProcessor

    from conftest import speak
    from rutts.speech import SynthesisConfig
    from rutts.train.config import load_config

    ap = AudioProcessor(load_config(ROOT / "config.json").audio)
    griffin_lim = GriffinLim(ap, torch.device("cpu"))
    sentences = ["Сегодня мы разберём третий урок курса.", "Откройте файл с таблицей и найдите второй столбец.",
                 "Повторите упражнение дважды, чтобы закрепить материал."]

    def mean_pesq(syn):
        scores = []
        for text in sentences:
            audio = speak(text, ap.sample_rate)
            mel = torch.from_numpy(ap.melspectrogram(audio).astype(np.float32)).T.unsqueeze(0)
            torch.manual_seed(0)
            wave = griffin_lim(mel, [mel.shape[1]], syn)[0]
            n = min(len(audio), len(wave))
            ref, deg = (soxr.resample(x[:n].astype(np.float64), ap.sample_rate, 16000) for x in (audio, wave))
            scores.append(pesq(16000, ref, deg, "wb"))
        return float(np.mean(scores))

    ours, coquis = mean_pesq(SynthesisConfig()), mean_pesq(SynthesisConfig(gl_power=1.5))
    assert ours > coquis + 0.05, (ours, coquis)
