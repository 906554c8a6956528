"""Checkpoints of real tiny runs: best_model.pth written atomically, truncated files skipped on load, fine-tuning
from a run (--restore-path) and the front-end record a run carries."""
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import TINY_MODEL
from trainer.generic_utils import KeepAverage

from rutts.run import RECORD_NAME, best_checkpoint, is_readable, numbered, read_record, record_frontend, staged_best_model
from rutts.text import FrontEnd
from rutts.train.config import TrainingSetupError, load_config
from rutts.train.glowtts import build_trainer
from rutts.train.stopping import Limits

ROOT = Path(__file__).resolve().parent.parent


def tiny_config(corpus: Path, outputs: Path):
    config = load_config(ROOT / "config.json", "cpu")
    data = config.to_dict()
    data.update(TINY_MODEL)
    data["datasets"][0]["path"] = str(corpus)
    data["output_path"] = str(outputs)
    config.from_dict(data)
    return config


@pytest.fixture(scope="module")
def base_run(tiny_corpus, tmp_path_factory) -> Path:
    """A finished tiny run: checkpoints at steps 2, 4, 6, a best model, its config.json (read-only for tests)."""
    config = tiny_config(tiny_corpus, tmp_path_factory.mktemp("base_outputs"))
    config.save_step = 2
    config.save_n_checkpoints = 5
    trainer = build_trainer(config, limits=Limits(max_steps=6))
    trainer.fit()
    return trainer.output_path


@pytest.fixture
def run_copy(base_run, tmp_path) -> Path:
    return Path(shutil.copytree(base_run, tmp_path / "run"))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # what a kill in the middle of a write leaves


def corpus_copy(tiny_corpus: Path, tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "RUSLAN").symlink_to(tiny_corpus / "RUSLAN")
    for name in ("metadata_train.csv", "metadata_val.csv"):
        shutil.copy(tiny_corpus / name, corpus / name)
    return corpus


# --- reading: a truncated file is never the one used ---------------------------------------------------------
def test_truncated_best_model_falls_back_to_the_newest_readable_checkpoint(run_copy, caplog):
    assert best_checkpoint(run_copy) == run_copy / "best_model.pth"
    truncate(run_copy / "best_model.pth")
    assert not is_readable(run_copy / "best_model.pth")
    caplog.set_level(logging.WARNING, logger="rutts.run")
    (best_numbered,) = numbered(run_copy, "best_model")
    assert best_checkpoint(run_copy) == best_numbered
    assert "best_model.pth не читается" in caplog.text
    truncate(best_numbered)
    truncate(run_copy / "checkpoint_6.pth")
    assert best_checkpoint(run_copy) == run_copy / "checkpoint_4.pth"
    for path in run_copy.glob("*.pth"):
        truncate(path)
    assert best_checkpoint(run_copy) is None


def test_voice_loads_a_run_whose_best_model_is_truncated(run_copy, caplog):
    from rutts.speech import Voice

    truncate(run_copy / "best_model.pth")
    record_frontend(run_copy, None, stress=False)
    caplog.set_level(logging.WARNING)
    voice = Voice.load(run_copy)
    assert "best_model.pth не читается" in caplog.text
    assert voice.frontend.stress is False  # as the run's record says, not the default
    assert voice.synthesize("Делу время.").size > 0


# --- writing: best_model.pth is replaced in one step --------------------------------------------------------
def test_a_failed_best_model_write_leaves_the_previous_one_whole(tiny_config_path, monkeypatch):
    from fsspec.implementations.local import LocalFileSystem

    trainer = build_trainer(load_config(tiny_config_path), limits=Limits(max_steps=3))
    trainer.fit()
    run = trainer.output_path
    before = torch.load(run / "best_model.pth", map_location="cpu", weights_only=False)["step"]

    def copy_half_then_fail(self, path1, path2, **kwargs):  # a full disk, or a kill, in the middle of the copy
        Path(path2).write_bytes(Path(path1).read_bytes()[:1000])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(LocalFileSystem, "cp_file", copy_half_then_fail)
    trainer.keep_avg_eval = KeepAverage()
    trainer.keep_avg_eval.update_values({"avg_loss": -100.0})  # a better eval loss: a new best model
    trainer.total_steps_done += 10
    with pytest.raises(OSError):
        trainer.save_best_model()
    assert is_readable(run / "best_model.pth")
    assert torch.load(run / "best_model.pth", map_location="cpu", weights_only=False)["step"] == before
    assert [p.name for p in numbered(run, "best_model")] == [f"best_model_{before}.pth"]

    monkeypatch.undo()
    trainer.save_best_model()  # the same save with a working disk
    assert torch.load(run / "best_model.pth", map_location="cpu", weights_only=False)["step"] == before + 10
    assert [p.name for p in numbered(run, "best_model")] == [f"best_model_{before + 10}.pth"]
    assert not any(p.name.startswith(".") for p in run.iterdir())  # no staging folder left behind


def test_staged_best_model_keeps_older_best_models_only_when_asked(tmp_path):
    for step in (5, 9):
        with staged_best_model(tmp_path, keep_older=True) as staging:
            torch.save({"step": step}, staging / f"best_model_{step}.pth")
            shutil.copy(staging / f"best_model_{step}.pth", staging / "best_model.pth")
    assert [p.name for p in numbered(tmp_path, "best_model")] == ["best_model_5.pth", "best_model_9.pth"]
    with staged_best_model(tmp_path, keep_older=False) as staging:
        torch.save({"step": 12}, staging / "best_model_12.pth")
        shutil.copy(staging / "best_model_12.pth", staging / "best_model.pth")
    assert [p.name for p in numbered(tmp_path, "best_model")] == ["best_model_12.pth"]
    assert torch.load(tmp_path / "best_model.pth")["step"] == 12


# --- fine-tuning: --restore-path -----------------------------------------------------------------------------
def actnorm(state_or_model) -> dict[str, torch.Tensor]:
    items = state_or_model.items() if isinstance(state_or_model, dict) else state_or_model.state_dict().items()
    return {k: v.clone() for k, v in items if k.startswith("decoder.flows.") and k.endswith((".logs", ".bias"))
            and v.dim() == 3}


def test_restore_from_a_run_folder_keeps_the_restored_actnorm_layers(base_run, tiny_config_path, tmp_path):
    # A base model "trained on other data": ActNorm statistics far from what this corpus would give.
    base = tmp_path / "base"
    base.mkdir()
    state = torch.load(base_run / "best_model.pth", map_location="cpu", weights_only=False)
    for key in actnorm(state["model"]):
        state["model"][key] = state["model"][key] + 0.75
    torch.save(state, base / "best_model.pth")
    shutil.copy(base_run / "config.json", base / "config.json")
    restored = actnorm(state["model"])

    config = load_config(tiny_config_path)
    assert config.data_dep_init_steps == 2
    trainer = build_trainer(config, restore_path=base, limits=Limits(max_steps=4))
    assert trainer.args.restore_path == str(base / "best_model.pth") and trainer.total_steps_done == 0
    trainer.fit()
    after = actnorm(trainer.model)
    assert restored.keys() == after.keys() and restored
    for key, value in restored.items():  # a few optimizer steps at a warm-up lr, no re-initialisation
        assert torch.allclose(after[key], value, atol=1e-2), key


def test_restore_refuses_another_alphabet_or_size(base_run, tiny_config_path):
    config = load_config(tiny_config_path)
    config.characters.characters = config.characters.characters.replace("ё", "")
    with pytest.raises(TrainingSetupError, match="другой алфавит: лишние «ё»"):
        build_trainer(config, restore_path=base_run)
    config = load_config(tiny_config_path)
    config.hidden_channels_enc = 48
    size = r"другие размеры сети: слой encoder.emb.weight \(\d+, 32\) в чекпойнте, \(\d+, 48\) по конфигу"
    with pytest.raises(TrainingSetupError, match=size + r"; возьмите конфиг базовой модели: --config .*config.json"):
        build_trainer(config, restore_path=base_run)
    outputs = Path(config.output_path)
    assert not outputs.exists() or not any(outputs.iterdir())  # refused before a run folder was made


def test_restore_refuses_a_vocoder_checkpoint_in_one_line(tiny_config_path, tmp_path):
    from TTS.vocoder.configs import HifiganConfig

    vocoder = tmp_path / "hifigan.pth"
    torch.save({"config": HifiganConfig().to_dict(), "model": {"model_g.conv_pre.weight": torch.zeros(8, 80, 7)},
                "step": 1000}, vocoder)
    result = subprocess.run([sys.executable, str(ROOT / "train_glowtts.py"), "--config", str(tiny_config_path),
                             "--restore-path", str(vocoder)], capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "это чекпойнт модели 'hifigan', а не 'glow_tts'" in result.stderr
    assert "Traceback" not in result.stderr


def test_default_config_of_a_fine_tune_is_the_base_models(base_run):
    import train_glowtts

    args, _ = train_glowtts.parse_args(["--restore-path", str(base_run)])
    assert train_glowtts.config_path(args) == base_run / "config.json"
    args, _ = train_glowtts.parse_args(["--restore-path", str(base_run), "--config", "config.json"])
    assert train_glowtts.config_path(args) == Path("config.json")


# --- the front-end record travels from the corpus into the run -----------------------------------------------
def test_run_gets_the_corpus_record_also_when_continued(tiny_corpus, tmp_path, caplog):
    corpus = corpus_copy(tiny_corpus, tmp_path)
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("Excel → +эксель\n", encoding="utf-8")
    record_frontend(corpus, lexicon, stress=True)
    config = tiny_config(corpus, tmp_path / "outputs")
    trainer = build_trainer(config, limits=Limits(max_steps=3))
    run = trainer.output_path
    assert read_record(run) == read_record(corpus)
    assert FrontEnd(run / "frontend_lexicon.txt").lexicon.apply("Excel") == "+эксель"
    trainer.fit()

    record_frontend(corpus, None, stress=False)  # the corpus processed again, differently
    caplog.set_level(logging.WARNING, logger="rutts.run")
    build_trainer(load_config(run / "config.json"), continue_path=run, limits=Limits(max_steps=4))
    assert read_record(run)["stress"] is False and not (run / "frontend_lexicon.txt").exists()
    assert "теперь обработан иначе" in caplog.text


def test_old_corpus_without_record_is_named_and_its_cache_gives_the_settings(tiny_corpus, tmp_path, caplog):
    corpus = corpus_copy(tiny_corpus, tmp_path)
    signature = FrontEnd(None, stress=False).signature
    (corpus / "processed_text_cache.json").write_text(json.dumps({"signature": signature}), encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="rutts.run")
    run = build_trainer(tiny_config(corpus, tmp_path / "outputs"), limits=Limits(max_steps=2)).output_path
    assert f"перезапустите python check_sample_rate.py {corpus}" in caplog.text
    assert read_record(run)["signature"] == signature and read_record(run)["lexicon"] is None

    (corpus / "processed_text_cache.json").write_text(json.dumps({"signature": "v1-stress1-lexunknown"}),
                                                      encoding="utf-8")
    run = build_trainer(tiny_config(corpus, tmp_path / "outputs2"), limits=Limits(max_steps=2)).output_path
    assert not (run / RECORD_NAME).exists()  # a lexicon nobody can name: better no record than a wrong one


def test_damaged_corpus_record_stops_training_before_a_run_folder(tiny_corpus, tmp_path):
    corpus = corpus_copy(tiny_corpus, tmp_path)
    (corpus / RECORD_NAME).write_text("{", encoding="utf-8")
    with pytest.raises(TrainingSetupError, match="frontend.json повреждён"):
        build_trainer(tiny_config(corpus, tmp_path / "outputs"))
    assert not (tmp_path / "outputs").exists()
