"""Resume keeps the truth: a continued run compares its evaluations with the eval loss the best model was chosen by,
and --continue-path says which of the other flags it applies and refuses the rest."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rutts.run import RunFolder
from rutts.train.config import load_config
from rutts.train.glowtts import build_trainer
from rutts.train.stopping import Limits

ROOT = Path(__file__).resolve().parent.parent


def continue_run(*args, cwd: Path):
    """train_glowtts.py --continue-path ..., run from a folder without a config.json of its own."""
    cwd.mkdir(exist_ok=True)
    return subprocess.run([sys.executable, str(ROOT / "train_glowtts.py"), "--continue-path", *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def best_model(run: Path) -> dict:
    return torch.load(run / "best_model.pth", map_location="cpu", weights_only=False)


def evaluations(trainer) -> int:
    return len(trainer.history.series().get("EvalStats/avg_loss", []))


def train_then_spoil_then_interrupt(config_path, steps_into_epoch: int) -> Path:
    """A run whose last epoch went wrong (its durations thrown off, as by a loss spike: its evaluation is worse than
    the best), then Ctrl-C `steps_into_epoch` steps into the next epoch: its checkpoint holds no eval loss (and at
    0 steps no train loss either)."""
    config = load_config(config_path)
    config.save_step = 1000  # the only checkpoint is the one Ctrl-C writes
    trainer = build_trainer(config, limits=Limits(max_steps=500))
    original = trainer.model.on_train_step_start
    first_step = {}

    def start(trainer_):
        original(trainer_)
        done = evaluations(trainer_)
        first_step.setdefault(done, trainer_.total_steps_done)
        if done == 2 and trainer_.total_steps_done == first_step[2]:  # first step of the third epoch
            with torch.no_grad():  # durations predicted e^3 times too long
                trainer_.model.encoder.duration_predictor.proj.bias.add_(3.0)
        if done == 3 and trainer_.total_steps_done == first_step[3] + steps_into_epoch:
            raise KeyboardInterrupt

    trainer.model.on_train_step_start = start
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    evals = [loss for _, loss in trainer.history.series()["EvalStats/avg_loss"]]
    assert evals[2] > min(evals[:2]), evals  # the spoiled epoch did not become the best
    return trainer.output_path


@pytest.mark.parametrize("steps_into_epoch", [0, 1])
def test_a_resumed_run_never_replaces_the_best_model_with_a_worse_one(tiny_config_path, tmp_path, steps_into_epoch):
    run = train_then_spoil_then_interrupt(tiny_config_path, steps_into_epoch)
    (checkpoint,) = run.glob("checkpoint_*.pth")
    assert torch.load(checkpoint, map_location="cpu", weights_only=False)["model_loss"]["eval_loss"] is None
    before = best_model(run)
    step = int(checkpoint.stem.split("_")[1])
    best_eval, evals_without_gain = RunFolder(run).early_stop()

    resumed = continue_run(str(run), "--max-steps", str(step + 7), "--coqpit.lr=0.5", cwd=tmp_path / "elsewhere")

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Продолжаю {run} с --max-steps {step + 7}, --coqpit.lr=0.5" in resumed.stdout.splitlines()
    assert json.loads((run / "config.json").read_text())["lr"] == 0.5
    after = best_model(run)
    assert RunFolder(run).early_stop()[1] >= evals_without_gain + 2  # it evaluated, worse each time
    assert after["model_loss"]["eval_loss"] <= before["model_loss"]["eval_loss"] == best_eval
    assert after["step"] == before["step"]


def test_a_continued_run_takes_the_new_learning_rate_where_its_schedule_stands(tiny_config_path):
    first = build_trainer(load_config(tiny_config_path), limits=Limits(max_steps=5))
    first.fit()
    scheduled = first.optimizer[0].param_groups[0]["lr"]  # warm-up: a fraction of config.lr
    resumed = build_trainer(None, continue_path=first.output_path, lr=0.5, limits=Limits(max_steps=8))
    assert resumed.scheduler[0].base_lrs == [0.5]
    assert resumed.optimizer[0].param_groups[0]["lr"] == pytest.approx(scheduled * 0.5 / first.config.lr)
    assert resumed.config.lr == 0.5


def test_continue_path_refuses_flags_it_cannot_honour_in_one_line(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    result = continue_run(str(run), "--preset", "cpu", "--data", "data/x", "--coqpit.batch_size=2",
                          "--coqpit.lr=1e-4", "--restore-path", "outputs/base", "--max-steps", "10", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Ошибка: при --continue-path")
    for flag in ("--preset", "--data", "--coqpit.batch_size", "--restore-path"):
        assert flag in line
    assert "--coqpit.lr" not in line and "--max-steps" not in line
    assert list(run.iterdir()) == []
