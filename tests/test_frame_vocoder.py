"""A tiny frame-level vocoder (rutts.speech.frame_vocoder) trained by train_vocoder.py on the tiny corpus with the
real Coqui trainer: its mel is Coqui's, it resumes, speaks through the same voice path as any vocoder, is named by
the TTS run only when it beats Griffin-Lim, fine-tunes, and bad combinations are refused in one line."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import ROOT, VAL_IDS
from rutts.dataset import wav_path
from rutts.run import LINK_FILE, RunFolder
from rutts.run.state import CHECK_FILE
from rutts.speech import SynthesisConfig, Voice
from rutts.speech.heldout import beats_griffin_lim, compare_with_griffin_lim
from rutts.speech.stft import TorchMel
from rutts.speech.vocoders import FrameVocoderRunner, GriffinLim
from rutts.train.frame_vocoder import Clips, FrameVocoderModel, GtaSegments
from rutts.train.vocoder_config import read_tts_config, vocoder_config
from test_synth import save_run

TINY_FRAME = {
    "run_name": "freev_tiny",
    "model": "frame_vocoder",
    "design": "freev",
    "model_params": {"phase_dim": 32, "phase_intermediate_dim": 64, "phase_layers": 1},
    "batch_size": 2,
    "seq_len": 4096,
    "warmup_steps": 2,
    "scheduler_after_epoch": False,
    "num_loader_workers": 0,
    "num_eval_loader_workers": 0,
    "print_step": 1,
    "save_step": 2,
    "save_n_checkpoints": 2,
    "epochs": 1000,
}
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def train(*args, timeout=300):
    command = [sys.executable, str(ROOT / "train_vocoder.py"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=ENV)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_corpus):
    tmp = tmp_path_factory.mktemp("frame_vocoder")
    tts_run = save_run(tmp / "tts_run")
    data = json.loads((tts_run / "config.json").read_text(encoding="utf-8"))
    data["datasets"][0]["path"] = str(tiny_corpus)
    data["output_path"] = str(tmp / "outputs")
    (tts_run / "config.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (tmp / "tiny_frame.json").write_text(json.dumps(TINY_FRAME), encoding="utf-8")
    return {"tmp": tmp, "tts_run": tts_run, "preset": tmp / "tiny_frame.json", "corpus": tiny_corpus,
            "out": tmp / "outputs"}


@pytest.fixture(scope="module")
def frame_run(setup):
    """Trained 4 steps, then continued to 6 with --tts-run (which compares it with Griffin-Lim)."""
    first = train("--tts-config", setup["tts_run"] / "config.json", "--preset", setup["preset"], "--max-steps", 4)
    assert first.returncode == 0, first.stderr[-3000:]
    (run,) = [p for p in setup["out"].iterdir() if p.is_dir()]
    resumed = train("--continue-path", run, "--tts-run", setup["tts_run"], "--max-steps", 6)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return run, resumed


def test_torch_mel_is_coquis_mel(setup):
    from TTS.utils.audio import AudioProcessor

    ap = AudioProcessor(read_tts_config(setup["tts_run"]).audio)
    wav = ap.load_wav(str(wav_path(setup["corpus"], sorted(VAL_IDS)[0]))).astype(np.float32)
    ours = TorchMel.from_ap(ap)(torch.from_numpy(wav)[None])[0].numpy()
    theirs = ap.melspectrogram(wav)
    assert ours.shape == theirs.shape  # the same frames: frame t centred at sample t·hop
    assert np.abs(ours - theirs).max() < 1e-3


def test_a_frame_vocoder_trains_resumes_and_is_not_named_while_worse_than_griffin_lim(setup, frame_run):
    run, resumed = frame_run
    assert "Model restored from step 4" in (run / "trainer_0_log.txt").read_text(encoding="utf-8")
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    assert config["model"] == "frame_vocoder" and config["target_loss"] == "loss"
    assert config["audio"] == json.loads((setup["tts_run"] / "config.json").read_text(encoding="utf-8"))["audio"]
    state = torch.load(RunFolder(run).checkpoint(), map_location="cpu", weights_only=False)
    ema = {k: v for k, v in state["model"].items() if k.startswith("ema.")}
    assert ema and all(torch.isfinite(v).all() for v in ema.values())
    assert "Вокодер пока хуже Гриффина-Лима" in resumed.stdout
    assert not (setup["tts_run"] / LINK_FILE).exists()
    check = json.loads((run / CHECK_FILE).read_text(encoding="utf-8"))
    assert check["vocoder"] < check["griffin_lim"] and check["clips"] == len(VAL_IDS)


def test_the_voice_speaks_with_it_and_its_sound_lines_up_with_the_mel(setup, frame_run):
    run, _ = frame_run
    voice = Voice.load(setup["tts_run"], vocoder=run)
    assert isinstance(voice.vocoder, FrameVocoderRunner)
    audio = voice.synthesize("Проверка вокодера.")
    assert audio.size > 0.1 * voice.sample_rate and np.isfinite(audio).all()
    hop = voice.vocoder.ap.hop_length
    mels = torch.randn(3, 40, 80) - 4
    waves = voice.vocoder(mels, [40, 17, 1], SynthesisConfig())
    assert [len(w) for w in waves] == [40 * hop, 17 * hop, hop]
    alone = voice.vocoder(mels[1:2, :17], [17], SynthesisConfig())[0]
    # padding in a batch changes only the last frames' context, not the start of the sound
    assert np.allclose(waves[1][: 10 * hop], alone[: 10 * hop], atol=1e-4)


def test_griffin_lim_seeded_by_the_model_makes_its_spectrum_more_consistent(setup, frame_run):
    run, _ = frame_run
    voice = Voice.load(setup["tts_run"], vocoder=run)
    runner = voice.vocoder
    mel = runner.ap.melspectrogram(runner.ap.load_wav(str(wav_path(setup["corpus"], sorted(VAL_IDS)[0]))))
    mels = torch.from_numpy(mel.astype(np.float32)).T[None]
    stft = runner.net.stft

    def inconsistency(wave):
        with torch.no_grad():
            spec = runner.net(mels.transpose(1, 2))["spec"]
        rebuilt = stft(torch.from_numpy(wave)[None])[..., : spec.shape[-1]]
        return float((rebuilt.abs() - spec.abs()[..., : rebuilt.shape[-1]]).abs().mean())

    plain = runner(mels, [mels.shape[1]], SynthesisConfig())[0]
    seeded = runner(mels, [mels.shape[1]], SynthesisConfig(vocoder_gl_iters=16))[0]
    assert np.isfinite(seeded).all() and not np.allclose(plain, seeded)
    assert inconsistency(seeded) < inconsistency(plain)


class TrueSound:
    """A 'vocoder' that returns the recording a mel was made from: the best any vocoder could do."""

    def __init__(self, clips, hop):
        self.by_frames = {len(c) // hop + 1: c for c in clips}

    def __call__(self, mels, frames, syn):
        return [self.by_frames[frames[0]]]


def test_the_griffin_lim_check_prefers_the_true_sound_and_is_strict(setup, monkeypatch):
    from TTS.utils.audio import AudioProcessor

    ap = AudioProcessor(read_tts_config(setup["tts_run"]).audio)
    clips = [ap.load_wav(str(wav_path(setup["corpus"], i))).astype(np.float32) for i in sorted(VAL_IDS)]
    truth = compare_with_griffin_lim(TrueSound(clips, ap.hop_length), setup["corpus"], ap)
    assert truth["metric"] == "pesq_wb" and truth["vocoder"] > 4.5 > truth["griffin_lim"] and beats_griffin_lim(truth)
    assert truth["si_sdr_db"][0] > 100 > truth["si_sdr_db"][1]
    monkeypatch.setitem(sys.modules, "pesq", None)  # without the eval extra: SI-SDR decides
    truth = compare_with_griffin_lim(TrueSound(clips, ap.hop_length), setup["corpus"], ap)
    assert truth["metric"] == "si_sdr_db" and truth["vocoder"] > 100 > truth["griffin_lim"] and beats_griffin_lim(truth)
    griffin_lim = GriffinLim(ap, torch.device("cpu"))
    itself = compare_with_griffin_lim(griffin_lim, setup["corpus"], ap)  # same seed, same sound: not "better"
    assert itself["vocoder"] == pytest.approx(itself["griffin_lim"], rel=1e-6) and not beats_griffin_lim(itself)


def test_fine_tuning_keeps_the_design_and_bad_combinations_are_refused(setup, frame_run, tmp_path):
    run, _ = frame_run
    tuned = train("--tts-config", setup["tts_run"] / "config.json", "--restore-path", RunFolder(run).checkpoint(),
                  "--max-steps", 2, "--output-path", tmp_path / "tuned", "--coqpit.seq_len=4096")
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    (tuned_run,) = (tmp_path / "tuned").iterdir()
    assert "freev_ru_cpu" in tuned_run.name  # the frame preset, not HiFi-GAN's, was chosen for a frame checkpoint
    assert json.loads((tuned_run / "config.json").read_text())["model_params"] == TINY_FRAME["model_params"]
    assert "дообучение: сеть и её скользящее среднее" in tuned.stderr

    hifigan = tmp_path / "hifigan"  # a HiFi-GAN run's config beside a checkpoint
    hifigan.mkdir()
    vocoder_config(read_tts_config(setup["tts_run"]), "cpu").save_json(str(hifigan / "config.json"))
    torch.save({"model": {}}, hifigan / "best_model.pth")
    refused = {
        "схемой": train("--tts-run", setup["tts_run"], "--preset", setup["preset"], "--restore-path",
                        hifigan / "best_model.pth", "--max-steps", 1),
        "не длиннее отрезка seq_len=1048576": train("--tts-run", setup["tts_run"], "--preset", setup["preset"],
                                                  "--gta-from", setup["tts_run"], "--coqpit.seq_len=1048576",
                                                  "--max-steps", 1),
        "model_params не подходят": train("--tts-run", setup["tts_run"], "--preset", setup["preset"],
                                          '--coqpit.model_params={"bogus": 1}', "--max-steps", 1),
    }
    for words, result in refused.items():
        errors = [line for line in result.stderr.splitlines() if line.startswith("Ошибка")]
        assert result.returncode == 2 and len(errors) == 1 and words in errors[0], result.stderr[-2000:]
        assert "Traceback" not in result.stderr


def real_mels_as_gta(setup, folder: Path, ap) -> list[tuple[str, str]]:
    """(wav, mel) pairs whose 'GTA' mel is the recording's own mel, as the TTS model's mel is aligned to it."""
    folder.mkdir()
    pairs = []
    for utt_id in sorted(VAL_IDS):
        wav = wav_path(setup["corpus"], utt_id)
        np.save(folder / f"{utt_id}.npy", ap.melspectrogram(ap.load_wav(str(wav))).astype(np.float32))
        pairs.append((str(wav), str(folder / f"{utt_id}.npy")))
    return pairs


def test_gta_segments_and_clips_line_the_mel_up_with_their_sound(setup, tmp_path):
    from TTS.utils.audio import AudioProcessor

    ap = AudioProcessor(read_tts_config(setup["tts_run"]).audio)
    mel_of = TorchMel.from_ap(ap)
    pairs = real_mels_as_gta(setup, tmp_path / "gta", ap)
    segments = GtaSegments(pairs, 4096, 8, seed=0, ap=ap)
    for index in range(len(segments)):
        item = segments[index]
        assert item["wav"].shape == (4096,) and item["mel"].shape == (80, 4096 // ap.hop_length + 1)
        own = mel_of(item["wav"][None])[0]
        # the frames away from the segment's edges (where its own mel reflects) are the same frames
        assert torch.abs(own[:, 3:-3] - item["mel"][:, 3:-3]).max() < 1e-3
    clip = Clips(pairs, ap)[0]
    assert torch.abs(mel_of(clip["wav"][None])[0][:, 3:-3] - clip["mel"][:, 3:-3]).max() < 1e-3

    model = FrameVocoderModel(vocoder_config(read_tts_config(setup["tts_run"]), str(setup["preset"])))
    batch = {"wav": clip["wav"][None], "mel": clip["mel"][None]}
    given, _ = model.eval_step(batch, model.get_criterion())
    other, _ = model.eval_step({**batch, "mel": batch["mel"] + 1}, model.get_criterion())
    assert not torch.allclose(given["spec"], other["spec"])  # the vocoder speaks from the mel it is given


def test_a_frame_vocoder_fine_tunes_on_the_tts_models_own_mels(setup, frame_run, tmp_path):
    run, _ = frame_run
    tuned = train("--tts-config", setup["tts_run"] / "config.json", "--restore-path", RunFolder(run).checkpoint(),
                  "--gta-from", setup["tts_run"], "--max-steps", 2, "--output-path", tmp_path / "gta")
    assert tuned.returncode == 0, tuned.stderr[-3000:]
    (tuned_run,) = (tmp_path / "gta").iterdir()
    config = json.loads((tuned_run / "config.json").read_text(encoding="utf-8"))
    assert config["model"] == "frame_vocoder" and Path(config["feature_path"]) == setup["tts_run"] / "gta_mels"
    assert "GTA mels" in tuned.stderr and "EVALUATION" in (tuned_run / "trainer_0_log.txt").read_text("utf-8")


def test_health_report_reads_a_frame_vocoder_run(frame_run, capsys):
    import view_tensorboard

    run, _ = frame_run
    assert view_tensorboard.main([str(run), "--report"]) == 0
    out = capsys.readouterr().out
    assert "кадровый вокодер: в логах шаги" in out and "loss длительностей" not in out
    assert {p.name for p in (run / "curves").glob("*.png")} == {"loss.png", "phase_loss.png", "learning_rate.png"}


def speak_with(setup, vocoder: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "inference.py"), "-m", str(setup["tts_run"]), "--vocoder",
                           str(vocoder), "--text", "Проверка вокодера.", "-o", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=ENV)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    errors = [line for line in result.stderr.splitlines() if line.startswith("Ошибка")]
    assert result.returncode != 0 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return errors[0]


def test_a_checkpoint_whose_sound_comes_out_non_finite_is_refused_not_played(setup, frame_run, tmp_path):
    run, _ = frame_run
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_bytes((run / "config.json").read_bytes())
    state = torch.load(RunFolder(run).checkpoint(), map_location="cpu", weights_only=False)
    state["model"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                      for k, v in state["model"].items()}
    torch.save(state, broken / "best_model.pth")
    result = speak_with(setup, broken, tmp_path / "hello.wav")
    assert "NaN/Inf" in one_error_line(result) and not (tmp_path / "hello.wav").exists()


def test_a_frame_vocoder_made_for_other_mel_settings_is_named_field_by_field(setup, frame_run, tmp_path):
    run, _ = frame_run
    other = tmp_path / "other"
    other.mkdir()
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    config["audio"]["mel_fmax"] = 11025.0
    (other / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (other / "best_model.pth").write_bytes(RunFolder(run).checkpoint().read_bytes())
    result = speak_with(setup, other, tmp_path / "hello.wav")
    assert "mel_fmax 8000.0 ≠ 11025.0" in one_error_line(result) and not (tmp_path / "hello.wav").exists()
