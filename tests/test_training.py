"""Real Coqui Trainer on a tiny corpus, on CPU: checkpoints, resume, kill, NaN guard, limits, early stop, bad input."""
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from rutts.train.config import TrainingSetupError, load_config
from rutts.train.glowtts import build_trainer
from rutts.train.stopping import Limits

ROOT = Path(__file__).resolve().parent.parent


def run_dirs(config_path):
    out = Path(json.loads(Path(config_path).read_text())["output_path"])
    return sorted(p for p in out.iterdir() if p.is_dir()) if out.exists() else []


def train(config_path, *extra, timeout=300):
    """train_glowtts.py with this config; a continued run (--continue-path) takes its own."""
    config = [] if "--continue-path" in extra else ["--config", str(config_path)]
    cmd = [sys.executable, str(ROOT / "train_glowtts.py"), *config, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def newest_loadable_step(run) -> int:
    """The step a resumed run should start from: its newest checkpoint_N / best_model_N file that loads."""
    steps = []
    for path in run.glob("*_*.pth"):
        number = path.stem.rsplit("_", 1)[-1]
        try:
            torch.load(path, map_location="cpu", weights_only=False)
        except Exception:  # truncated by the kill
            continue
        if number.isdigit():
            steps.append(int(number))
    return max(steps)


def test_few_steps_write_checkpoint_and_events_then_resume(tiny_config_path):
    first = train(tiny_config_path, "--max-steps", "6")
    assert first.returncode == 0, first.stderr[-3000:]
    (run,) = run_dirs(tiny_config_path)
    assert list(run.glob("events.out.tfevents.*"))
    assert (run / "best_model.pth").is_file()
    steps = [torch.load(p, map_location="cpu", weights_only=False)["step"] for p in run.glob("checkpoint_*.pth")]
    assert max(steps) >= 5
    saved = torch.load(run / f"checkpoint_{max(steps)}.pth", map_location="cpu", weights_only=False)

    config = load_config(run / "config.json")
    trainer = build_trainer(config, continue_path=run, limits=Limits(max_steps=max(steps) + 3))
    assert trainer.total_steps_done == max(steps) + 1
    restored = trainer.optimizer[0].state_dict()["state"]
    saved_optimizer = saved["optimizer"][0] if isinstance(saved["optimizer"], list) else saved["optimizer"]
    assert saved_optimizer["state"]
    for key, value in saved_optimizer["state"].items():
        assert torch.equal(restored[key]["exp_avg"], value["exp_avg"])
    trainer.fit()
    assert trainer.total_steps_done >= max(steps) + 3
    assert run_dirs(tiny_config_path) == [run]  # resumed in place, no new run folder


def test_sigkill_mid_training_then_continue(tiny_config_path):
    cmd = [sys.executable, str(ROOT / "train_glowtts.py"), "--config", str(tiny_config_path), "--max-steps", "1000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 240
    while time.time() < deadline and not (run_dirs(tiny_config_path) and list(run_dirs(tiny_config_path)[0].glob("checkpoint_*.pth"))):
        time.sleep(0.5)
    time.sleep(1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (run,) = run_dirs(tiny_config_path)
    killed_at = newest_loadable_step(run)  # a kill in the middle of torch.save leaves that file truncated
    resumed = train(tiny_config_path, "--continue-path", str(run), "--max-steps", str(killed_at + 2))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Model restored from step {killed_at}" in (run / "trainer_0_log.txt").read_text()


def test_checkpoint_truncated_by_a_kill_is_set_aside_and_the_run_continues(tiny_config_path):
    first = train(tiny_config_path, "--max-steps", "5", "--coqpit.save_step=2")
    assert first.returncode == 0, first.stderr[-3000:]
    (run,) = run_dirs(tiny_config_path)
    newest = max(run.glob("checkpoint_*.pth"), key=lambda p: int(p.stem.split("_")[1]))
    newest.write_bytes(newest.read_bytes()[:1000])  # what SIGKILL in the middle of torch.save leaves
    expected = newest_loadable_step(run)
    resumed = train(tiny_config_path, "--continue-path", str(run), "--max-steps", "7")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"{newest.name} не читается" in resumed.stderr
    assert (run / f"unreadable-{newest.name}.bak").stat().st_size == 1000  # kept, not deleted
    assert f"Model restored from step {expected}" in (run / "trainer_0_log.txt").read_text()


def test_sigterm_saves_a_checkpoint(tiny_config_path):
    cmd = [sys.executable, str(ROOT / "train_glowtts.py"), "--config", str(tiny_config_path),
           "--coqpit.save_step=100000", "--max-steps", "100000"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 240
    while time.time() < deadline:
        runs = run_dirs(tiny_config_path)
        if runs and (runs[0] / "trainer_0_log.txt").exists() and "STEP:" in (runs[0] / "trainer_0_log.txt").read_text():
            break
        time.sleep(0.5)
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output[-3000:]
    (run,) = run_dirs(tiny_config_path)
    assert list(run.glob("checkpoint_*.pth")), output[-3000:]
    assert "--continue-path" in output


def test_nan_step_is_skipped_counted_and_never_saved(tiny_config_path):
    from TTS.tts.models.glow_tts import GlowTTS

    config = load_config(tiny_config_path)
    config.save_step = 2
    trainer = build_trainer(config, limits=Limits(max_steps=8))
    model = trainer.model
    original = model.train_step
    poisoned_steps = {4, 5}

    def poisoned(batch, criterion, optimizer_idx=None):
        outputs, losses = original(batch, criterion, optimizer_idx)
        if losses is not None and trainer.total_steps_done in poisoned_steps:
            losses["loss"] = losses["loss"] * float("nan")
        return outputs, losses

    model.train_step = poisoned
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.fit()
    assert trainer.nonfinite_total == len(poisoned_steps)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    for path in trainer.output_path.glob("*.pth"):
        weights = torch.load(path, map_location="cpu", weights_only=False)["model"]
        assert all(torch.isfinite(t).all() for t in weights.values() if t.is_floating_point())
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert isinstance(model, GlowTTS)


def test_inf_gradients_are_not_applied(tiny_config_path):
    config = load_config(tiny_config_path)
    trainer = build_trainer(config, limits=Limits(max_steps=4))
    params = list(trainer.model.parameters())
    params[0].grad = torch.full_like(params[0], float("inf"))
    trainer._drop_nonfinite_gradients()
    assert all(p.grad is None for p in params)
    assert trainer.nonfinite_total == 1


def test_fp16_overflow_lowers_the_scale_and_counts_as_nan_only_below_scale_one(tiny_config_path):
    # GradScaler runs on the CPU too, so the fp16 bookkeeping is exercised here the way CUDA runs it
    trainer = build_trainer(load_config(tiny_config_path), limits=Limits(max_steps=4))
    trainer.use_amp_scaler, trainer.scaler = True, torch.amp.GradScaler("cpu")
    overflowing_fp16_step(trainer)
    overflowing_fp16_step(trainer)
    assert trainer.fp16_overflows == 2 and trainer.nonfinite_total == 0
    assert trainer.scaler.get_scale() == 65536.0 / 4
    trainer.scaler.update(0.5)
    overflowing_fp16_step(trainer)
    assert trainer.nonfinite_total == 1


def test_broken_config_fails_before_training(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{"model": "glow_tts", "batch_size": 8,,}', encoding="utf-8")
    result = train(bad)
    assert result.returncode == 2
    assert "ошибка JSON в строке 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_config_field_is_refused(tiny_config_path):
    with pytest.raises(TrainingSetupError, match="Неизвестные параметры"):
        load_config(tiny_config_path, overrides=["--coqpit.batch_sise=8"])


def test_missing_wav_fails_before_training(tiny_config_path, tmp_path):
    data = json.loads(tiny_config_path.read_text())
    corpus = Path(data["datasets"][0]["path"])
    broken = tmp_path / "broken_corpus"
    broken.mkdir()
    (broken / "RUSLAN").symlink_to(corpus / "RUSLAN")
    for name in ("metadata_train.csv", "metadata_val.csv"):
        (broken / name).write_text((corpus / name).read_text(encoding="utf-8"), encoding="utf-8")
    with (broken / "metadata_train.csv").open("a", encoding="utf-8") as f:
        f.write("999999_RUSLAN|н+ет так+ого ф+айла.\n")
    result = train(tiny_config_path, "--data", str(broken))
    assert result.returncode == 2
    assert "999999_RUSLAN.wav" in result.stderr and "Traceback" not in result.stderr
    assert not run_dirs(tiny_config_path)



def test_a_wav_at_another_rate_fails_before_training(tiny_config_path, tmp_path):
    import shutil

    import soundfile as sf
    import soxr

    data = json.loads(tiny_config_path.read_text())
    corpus = Path(data["datasets"][0]["path"])
    other = tmp_path / "corpus_44k"
    shutil.copytree(corpus, other)
    utt_id = (other / "metadata_train.csv").read_text(encoding="utf-8").split("|", 1)[0]
    audio, rate = sf.read(other / "RUSLAN" / f"{utt_id}.wav")
    sf.write(other / "RUSLAN" / f"{utt_id}.wav", soxr.resample(audio, rate, 44100), 44100)
    result = train(tiny_config_path, "--data", str(other))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{utt_id}.wav — 44100 Гц" in result.stderr
    assert not run_dirs(tiny_config_path)

# --- the guard inside real training steps, the back-off and how a run ends -----------------------------------
def weights_before_each_step(trainer) -> dict[int, list[torch.Tensor]]:
    """Snapshots of the weights at the start of every training step, keyed by step."""
    model, snapshots = trainer.model, {}
    original = model.on_train_step_start

    def start(trainer_):
        original(trainer_)
        snapshots[trainer_.total_steps_done] = [p.detach().clone() for p in model.parameters()]

    model.on_train_step_start = start
    return snapshots


def test_nan_gradients_of_real_steps_are_not_applied_then_lr_is_halved_and_kept_for_resume(tiny_config_path, caplog):
    config = load_config(tiny_config_path)
    config.save_step = 100
    trainer = build_trainer(config, limits=Limits(max_steps=8, health_every=1))
    poisoned = {3, 4, 5}  # steps 0-1 are GlowTTS's data-dependent initialisation
    layer = dict(trainer.model.named_parameters())["decoder.flows.0.logs"]
    layer.register_hook(lambda grad: grad * float("nan") if trainer.total_steps_done in poisoned else grad)
    snapshots = weights_before_each_step(trainer)
    lr, base_lrs = config.lr, list(trainer.scheduler[0].base_lrs)
    caplog.set_level(logging.WARNING, logger="rutts.train")
    trainer.fit()

    assert trainer.nonfinite_total == len(poisoned)
    for step in poisoned:  # loss was finite, gradients not: nothing applied
        assert all(torch.equal(a, b) for a, b in zip(snapshots[step], snapshots[step + 1]))
    assert any(not torch.equal(a, b) for a, b in zip(snapshots[6], snapshots[7]))  # a clean step is applied
    assert trainer.config.lr == lr / 2 and trainer.scheduler[0].base_lrs == [x / 2 for x in base_lrs]
    assert "скорость обучения снижена вдвое" in caplog.text
    assert "проверка обучения: защита пропустила шагов с NaN/Inf: 3" in caplog.text  # the in-training check
    run = trainer.output_path
    assert json.loads((run / "config.json").read_text())["lr"] == lr / 2
    resumed = build_trainer(load_config(run / "config.json"), continue_path=run, limits=Limits(max_steps=9))
    assert resumed.config.lr == lr / 2


def overflowing_fp16_step(trainer):
    """One fp16 step whose gradients overflow, through the trainer's GradScaler (it runs on the CPU too)."""
    scaler = trainer.scaler  # the stock optimize() keeps using its own reference after a back-off
    scaler.scale(torch.ones(()))  # what backward() of a scaled loss does first
    for param in trainer.model.parameters():
        param.grad = torch.full_like(param, float("inf"))
    trainer._grad_clipping(grad_clip=5.0, optimizer=trainer.optimizer[0], scaler=scaler)
    scaler.step(trainer.optimizer[0])
    scaler.update()


def test_fp16_back_off_is_written_into_the_run_config_and_kept_on_resume(tiny_config_path):
    config = load_config(tiny_config_path)
    config.mixed_precision = True  # a GPU run's config.json
    trainer = build_trainer(config, limits=Limits(max_steps=4))
    run = trainer.output_path
    assert json.loads((run / "config.json").read_text())["mixed_precision"] is True
    trainer.use_amp_scaler, trainer.scaler = True, torch.amp.GradScaler("cpu", init_scale=0.5)
    trainer.save_checkpoint()
    for _ in range(3):  # overflowing even below scale 1: real NaN/Inf steps
        overflowing_fp16_step(trainer)
    assert trainer.nonfinite_total == 3 and trainer.config.mixed_precision is False and trainer.scaler is None
    assert json.loads((run / "config.json").read_text())["mixed_precision"] is False
    resumed = build_trainer(load_config(run / "config.json"), continue_path=run, limits=Limits(max_steps=4))
    assert resumed.config.mixed_precision is False


def test_a_gpu_run_continued_on_the_cpu_trains_in_fp32(tiny_config_path):
    config = load_config(tiny_config_path)
    config.mixed_precision = True  # a GPU run's config.json
    run = build_trainer(config, limits=Limits(max_steps=4))
    run.save_checkpoint()
    assert json.loads((run.output_path / "config.json").read_text())["mixed_precision"] is True
    resumed = build_trainer(load_config(run.output_path / "config.json"), continue_path=run.output_path,
                            limits=Limits(max_steps=4))
    assert resumed.config.mixed_precision is False
    assert json.loads((run.output_path / "config.json").read_text())["mixed_precision"] is False


def test_interrupt_saves_runs_the_interrupt_callbacks_and_tears_down_ddp(tiny_config_path, tmp_path):
    import torch.distributed as dist

    trainer = build_trainer(load_config(tiny_config_path), limits=Limits(max_steps=50))
    model, called = trainer.model, []
    model.on_keyboard_interrupt = lambda trainer_: called.append(trainer_.total_steps_done)
    original = model.on_train_step_start

    def start(trainer_):
        original(trainer_)
        if trainer_.total_steps_done == 3:
            raise KeyboardInterrupt

    model.on_train_step_start = start
    dist.init_process_group("gloo", store=dist.FileStore(str(tmp_path / "ddp_store"), 1), rank=0, world_size=1)
    try:
        with pytest.raises(KeyboardInterrupt):
            trainer.fit()
        assert called == [3]
        assert not dist.is_initialized()
        assert (trainer.output_path / "checkpoint_3.pth").is_file()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM to itself ends the process on Windows")
def test_sigterm_swallowed_where_it_landed_still_stops_the_run(tiny_config_path):
    """A KeyboardInterrupt raised inside a __del__ is only printed; the SIGTERM must still end the run."""
    trainer = build_trainer(load_config(tiny_config_path), limits=Limits(max_steps=50))
    model = trainer.model
    original = model.on_train_step_start

    def start(trainer_):
        original(trainer_)
        if trainer_.total_steps_done == 3:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.1)  # the handler runs here
            except KeyboardInterrupt:
                pass  # swallowed, as Python does in a destructor

    model.on_train_step_start = start
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert trainer.total_steps_done == 4
    assert (trainer.output_path / "checkpoint_4.pth").is_file()


def test_max_minutes_ends_the_run_with_a_checkpoint(tiny_config_path):
    config = load_config(tiny_config_path)
    config.save_step = 1000
    trainer = build_trainer(config, limits=Limits(max_steps=300, max_minutes=0.05))
    trainer.fit()
    assert trainer.stop_reason == "достигнут предел времени (0.05 мин)"
    assert 3 <= trainer.elapsed_seconds < 60 and trainer.total_steps_done < 300
    assert (trainer.output_path / f"checkpoint_{trainer.total_steps_done}.pth").is_file()


def test_early_stop_after_evaluations_without_a_better_eval_loss(tiny_config_path):
    config = load_config(tiny_config_path)
    config.lr = 0.0  # the weights stay as they are after the initialisation: the eval loss cannot improve
    trainer = build_trainer(config, limits=Limits(max_steps=60, early_stop=2))
    trainer.fit()
    evaluations = trainer.history.series()["EvalStats/avg_loss"]
    assert len(evaluations) == 3, evaluations
    assert trainer.stop_reason.startswith("ранняя остановка: eval loss не улучшился за 2 оценок")
    best = torch.load(trainer.output_path / "best_model.pth", map_location="cpu", weights_only=False)
    assert best["step"] == evaluations[0][0]  # the first evaluation stayed the best
    assert (trainer.output_path / f"checkpoint_{trainer.total_steps_done}.pth").is_file()


def test_early_stop_count_survives_a_continued_run(tiny_config_path):
    config = load_config(tiny_config_path)
    config.lr = 0.0
    first = build_trainer(config, limits=Limits(max_steps=60, early_stop=2))
    first.fit()
    assert first.stop_reason.startswith("ранняя остановка: eval loss не улучшился за 2 оценок")
    # Two evaluations without gain are behind it: with --early-stop 3 the next one ends the run.
    resumed = build_trainer(load_config(first.output_path / "config.json"), continue_path=first.output_path,
                            limits=Limits(max_steps=first.total_steps_done + 60, early_stop=3))
    resumed.fit()
    assert resumed.stop_reason.startswith("ранняя остановка: eval loss не улучшился за 3 оценок"), resumed.stop_reason
    assert len(resumed.history.series()["EvalStats/avg_loss"]) == 1
