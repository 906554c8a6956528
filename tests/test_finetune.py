"""Fine-tune: a tiny GlowTTS trained a few steps, then train_glowtts.py --restore-path <its run> --preset finetune on an
imported corpus of another (female) voice. The restored weights must really be the starting point."""
import json
from pathlib import Path

import soundfile as sf
import torch

import check_sample_rate
import train_glowtts
from rutts.own_voice.importer import import_recordings
from rutts.run import best_checkpoint, link_vocoder, linked_vocoder
from rutts.train.config import load_config
from test_import_recordings import RATE, SCRIPT, home_mic, speak_female

PRESET = Path(__file__).resolve().parent.parent / "presets" / "finetune.json"


def flat_weights(checkpoint) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, map_location="cpu", weights_only=False)["model"]


def distance(a: dict, b: dict) -> float:
    return sum(float((a[k].float() - b[k].float()).pow(2).sum()) for k in a) ** 0.5


def only_run(folder):
    runs = [p for p in folder.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def test_finetune_starts_from_the_restored_model(tiny_config_path, tmp_path, capsys):
    assert train_glowtts.main(["--config", str(tiny_config_path), "--max-steps", "4"]) == 0
    base_run = only_run(tmp_path / "outputs")
    base = flat_weights(best_checkpoint(base_run))

    recordings, script = tmp_path / "phone", tmp_path / "metadata.csv"
    recordings.mkdir()
    script.write_text("".join(f"{n:06d}_RUSLAN|{t.replace(' |', '')}\n" for n, t in enumerate(SCRIPT, 1)),
                      encoding="utf-8")
    for number, text in enumerate(SCRIPT, 1):
        sf.write(recordings / f"{number:03d}.wav", home_mic(speak_female(text.replace(" |", "")), number), RATE)
    corpus = tmp_path / "own_voice"
    result = import_recordings([recordings], script, corpus, 22050)
    assert len(result.kept) == len(SCRIPT)
    assert check_sample_rate.main([str(corpus)]) == 0
    base_vocoder = tmp_path / "outputs_vocoder" / "hifigan_run"
    base_vocoder.mkdir(parents=True)
    link_vocoder(base_run, base_vocoder)  # what train_vocoder.py --tts-run did for the base
    capsys.readouterr()

    code = train_glowtts.main(["--restore-path", str(base_run), "--preset", "finetune", "--data", str(corpus),
                               "--max-steps", "3", "--output-path", str(tmp_path / "finetune")])
    out, err = capsys.readouterr()
    assert code == 0, err
    run = only_run(tmp_path / "finetune")
    # the base's vocoder learned the base's voice: the new run keeps Griffin-Lim and says how to fine-tune it
    assert linked_vocoder(run) is None
    assert f"python train_vocoder.py --tts-run {run} --restore-path {base_vocoder.resolve()}" in out, out
    config = load_config(run / "config.json")
    preset = json.loads(PRESET.read_text(encoding="utf-8"))
    assert config.lr == preset["lr"] and config.lr_scheduler_params["warmup_steps"] == preset["lr_scheduler_params"][
        "warmup_steps"]
    assert config.data_dep_init_steps == 0 and config.datasets[0].path == str(corpus)
    assert config.hidden_channels_enc == 32  # the base model's size, from its own config.json
    log = (run / "trainer_0_log.txt").read_text(encoding="utf-8")
    assert "Restoring Model" in log and "Partial model initialization" not in log

    # eval loss on a few clips bottoms out long before the reading stops improving: the run speaks with its last step
    assert not (run / "best_model.pth").exists() and best_checkpoint(run).name == "checkpoint_3.pth"
    tuned = flat_weights(best_checkpoint(run))
    from TTS.tts.models.glow_tts import GlowTTS

    fresh = GlowTTS(config).state_dict()
    assert set(tuned) == set(base)
    # three small steps away from the base model, nowhere near a freshly initialised one
    assert distance(tuned, base) < 0.05 * distance(fresh, base), (distance(tuned, base), distance(fresh, base))
    assert distance(tuned, base) > 0  # and it did train
