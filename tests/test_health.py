"""Health checks and view_tensorboard.py on synthetic event files, written with the tags Coqui's trainer uses."""
import math
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

import view_tensorboard
from rutts.train import health

ROOT = Path(__file__).resolve().parent.parent
STEPS_PER_EPOCH = 30


def synthetic_run(epochs=20, plot_step=3, scheduler="per_step", sawtooth=0.0, nan_steps=(), overfit=False,
                  batch_frames=True, seed=0):
    """Scalars of a GlowTTS run under the tags Coqui's trainer uses; `scheduler` is per_step, per_epoch or never
    (Noam warmup 8000 at lr 2e-4 when never stepped: 2.5e-8, the original user's run)."""
    rng = np.random.default_rng(seed)
    scalars = {}

    def add(tag, step, value):
        scalars.setdefault(tag, []).append((step, float(value)))

    base_lr, warmup = (2e-4, 8000) if scheduler == "never" else (1e-3, 150)
    for step in range(epochs * STEPS_PER_EPOCH):
        epoch, position = divmod(step, STEPS_PER_EPOCH)
        phase = position / STEPS_PER_EPOCH
        n = {"per_step": step + 1, "per_epoch": epoch + 1, "never": 1}[scheduler]
        lr = base_lr * warmup ** 0.5 * min(n ** -0.5, n * warmup ** -1.5)
        frames = 200 + 600 * phase if sawtooth else rng.uniform(200, 800)
        loss_dur = 0.15 + 2 * math.exp(-step / 100) + rng.normal(0, 0.02)
        loss = 0.4 + 3 * math.exp(-step / 120) + sawtooth * (phase - 0.5) + rng.normal(0, 0.04)
        if step in nan_steps:
            loss = math.nan
        if step % plot_step == 0:
            add(health.LR, step, lr)
            add(health.LOSS, step, loss)
            add(health.LOG_MLE, step, loss - loss_dur)
            add(health.LOSS_DUR, step, loss_dur)
            add(health.GRAD_NORM, step, 4 * math.exp(rng.normal(0, 0.3)))
            add(health.NONFINITE_STEPS, step, sum(s <= step for s in nan_steps))
            if batch_frames:
                add(health.BATCH_FRAMES, step, frames)
        if position == STEPS_PER_EPOCH - 1:
            end = step + 1
            add(health.EPOCH_TIME, end, 12.0)
            rise = 0.004 * max(0, end - epochs * STEPS_PER_EPOCH / 2) if overfit else 0.0
            add(health.EVAL_LOSS, end, 0.5 + 3 * math.exp(-step / 120) + rise)
            add(health.EVAL_LOSS_DUR, end, 0.2 + 2 * math.exp(-step / 100))
    return scalars


def write_events(run_dir: Path, scalars, walltime=None):
    """One event file, written by the same SummaryWriter Coqui's TensorboardLogger uses."""
    writer = SummaryWriter(str(run_dir))
    for tag, points in scalars.items():
        for step, value in points:
            writer.add_scalar(tag, value, step, walltime=walltime and walltime + step)
    writer.close()
    return run_dir


def levels(findings):
    return {f.key: f.level for f in findings}


def by_key(findings, key):
    return next(f for f in findings if f.key == key)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("outputs")
    kinds = {
        "healthy": {},
        "per_epoch": {"scheduler": "per_epoch"},
        "never_stepped": {"scheduler": "never"},
        "sawtooth": {"sawtooth": 0.8},
        "nan": {"nan_steps": (300, 301)},  # plot_step 3: only step 300 reaches the event file
        "overfit": {"overfit": True},
    }
    return {name: write_events(root / name, synthetic_run(**kwargs)) for name, kwargs in kinds.items()}


def test_event_files_carry_coqui_tags_and_nan(runs):
    scalars = health.read_scalars(runs["nan"])
    coqui_tags = {health.LR, health.LOSS, health.LOSS_DUR, health.GRAD_NORM, health.EPOCH_TIME, health.EVAL_LOSS}
    assert coqui_tags <= set(scalars)
    assert sum(math.isnan(v) for _, v in scalars[health.LOSS]) == 1
    assert len(scalars[health.EPOCH_TIME]) == 20


def test_healthy_run_has_no_warnings(runs):
    findings = health.check_scalars(health.read_scalars(runs["healthy"]))
    assert all(f.level == health.OK for f in findings), health.format_report(findings, "healthy")
    assert "разогрев по шагам" in by_key(findings, "lr").message
    assert "падает" in by_key(findings, "loss_trend").message
    assert "ДО обрезки" in by_key(findings, "grad_norm").message


def test_per_epoch_scheduler_is_flagged(runs):
    finding = by_key(health.check_scalars(health.read_scalars(runs["per_epoch"])), "lr")
    assert finding.level == health.ERROR
    assert "границах эпох" in finding.message and "scheduler_after_epoch=false" in finding.message


def test_scheduler_that_never_steps_is_flagged(runs):
    finding = by_key(health.check_scalars(health.read_scalars(runs["never_stepped"])), "lr")
    assert finding.level == health.ERROR
    assert "2.5e-08" in finding.message


def test_sawtooth_is_flagged_with_and_without_batch_lengths(runs):
    finding = by_key(health.check_scalars(health.read_scalars(runs["sawtooth"])), "sawtooth")
    assert finding.level == health.WARN
    assert "растёт к концу эпохи" in finding.message and "длина батча" in finding.message
    without_frames = synthetic_run(sawtooth=0.8, batch_frames=False)
    assert levels(health.check_scalars(without_frames))["sawtooth"] == health.WARN
    mild = synthetic_run(sawtooth=0.15, seed=3)
    assert levels(health.check_scalars(mild))["sawtooth"] == health.WARN


def test_nan_steps_are_flagged(runs):
    finding = by_key(health.check_scalars(health.read_scalars(runs["nan"])), "nonfinite")
    assert finding.level == health.ERROR
    assert "NaN/Inf 1, первое на шаге 300" in finding.message
    assert "пропустила шагов с NaN/Inf: 2" in finding.message
    # only our guard's counter: the steps were skipped and no NaN reached the logged loss, a warning
    guarded = synthetic_run(nan_steps=(301, 302))
    assert levels(health.check_scalars(guarded))["nonfinite"] == health.WARN


def test_fp16_scale_calibration_is_normal_but_a_collapsed_scale_is_not():
    def fp16_run(final_scale):
        scalars = synthetic_run()
        norms = scalars[health.GRAD_NORM]
        scalars[health.GRAD_NORM] = [(step, 0.0 if i < 2 else value) for i, (step, value) in enumerate(norms)]
        scalars[health.AMP_SCALE] = [(step, 65536.0 / 2 ** min(i, 2)) for i, (step, _) in enumerate(norms)]
        scalars[health.AMP_SCALE][-1] = (norms[-1][0], final_scale)
        return health.check_scalars(scalars)

    assert levels(fp16_run(16384.0))["nonfinite"] == health.OK
    collapsed = by_key(fp16_run(0.25), "nonfinite")
    assert collapsed.level == health.WARN and "amp_scaler" in collapsed.message
    fp32 = synthetic_run()
    fp32[health.GRAD_NORM][0] = (fp32[health.GRAD_NORM][0][0], 0.0)
    assert levels(health.check_scalars(fp32))["nonfinite"] == health.WARN


def test_eval_rising_while_train_falls_is_flagged(runs):
    finding = by_key(health.check_scalars(health.read_scalars(runs["overfit"])), "overfit")
    assert finding.level == health.WARN
    assert "переобучение" in finding.message and "best_model.pth" in finding.message


def test_grad_norm_spikes_and_stuck_duration_loss():
    scalars = synthetic_run()
    norms = scalars[health.GRAD_NORM]
    scalars[health.GRAD_NORM] = [(s, v * 50 if i % 5 == 0 and s > 450 else v) for i, (s, v) in enumerate(norms)]
    scalars[health.LOSS_DUR] = [(s, 2.0 + 0.01 * math.sin(s)) for s, _ in scalars[health.LOSS_DUR]]
    found = levels(health.check_scalars(scalars))
    assert found["grad_norm"] == health.WARN
    assert found["duration"] == health.OK  # 600 steps are too few to call a flat duration loss a failure
    long_run = {health.LOSS_DUR: [(s, 2.0 + 0.01 * math.sin(s)) for s in range(0, 3000, 10)]}
    assert levels(health.check_scalars(long_run))["duration"] == health.WARN
    one_spike = synthetic_run()
    one_spike[health.GRAD_NORM][-3] = (one_spike[health.GRAD_NORM][-3][0], 900.0)
    assert levels(health.check_scalars(one_spike))["grad_norm"] == health.OK


def test_in_memory_history_goes_through_the_same_checks():
    def history(**kwargs):  # what the training loop keeps: Coqui's loss-dict keys, every step, no epoch ends
        scalars = synthetic_run(plot_step=1, **kwargs)
        return {tag.split("/")[1]: points for tag, points in scalars.items() if tag.startswith("TrainIterStats/")}

    healthy = health.check_history(history(), steps_per_epoch=STEPS_PER_EPOCH)
    assert all(f.level == health.OK for f in healthy), health.format_report(healthy, "history")
    assert levels(health.check_history(history(scheduler="per_epoch"), steps_per_epoch=STEPS_PER_EPOCH))["lr"] == \
        health.ERROR
    assert levels(health.check_history(history(sawtooth=0.5), steps_per_epoch=STEPS_PER_EPOCH))["sawtooth"] == \
        health.WARN
    # the first health check can come before any data worth judging
    assert all(f.level == health.OK for f in health.check_history({"current_lr": [(0, 2.5e-8), (1, 2.5e-8)]}))


def test_in_training_history_is_bounded_and_still_sees_the_start_and_the_end_of_a_long_run():
    def long_history(**kwargs):  # 21 000 steps logged every step, as the training loop sees them
        scalars = synthetic_run(epochs=700, plot_step=1, **kwargs)
        history = health.TrainingHistory()
        for tag, points in scalars.items():
            if tag.startswith("TrainIterStats/"):
                for step, value in points:
                    history.add(tag.split("/")[1], step, value)
        return history

    history = long_history()
    series = history.series()
    bound = health.HISTORY_HEAD + health.HISTORY_TAIL
    assert all(len(points) == bound for points in series.values())  # not 21 000: a check costs the same later on
    assert series["loss"][0][0] == 0 and series["loss"][-1][0] == 700 * STEPS_PER_EPOCH - 1
    healthy = health.check_history(history.series(), steps_per_epoch=STEPS_PER_EPOCH)
    assert all(f.level == health.OK for f in healthy), health.format_report(healthy, "long history")
    assert "упал" in by_key(healthy, "duration").message  # judged against the start of the run, kept in the head

    rising = long_history()
    for step in range(20_000, 21_000):
        rising.add("loss", step + 1000, 0.4 + 0.002 * step - 40)  # the last 1000 steps climb from 0.4 to 2.4
    assert levels(health.check_history(rising.series(), steps_per_epoch=STEPS_PER_EPOCH))["loss_trend"] == health.WARN


def test_resumed_run_keeps_only_the_points_logged_after_the_restart(tmp_path):
    first = {health.LOSS: [(s, 5.0) for s in range(0, 100, 10)]}
    resumed = {health.LOSS: [(s, 1.0) for s in range(50, 80, 10)]}  # continued from the checkpoint at step 50
    write_events(tmp_path, first, walltime=1_000_000)
    write_events(tmp_path, resumed, walltime=2_000_000)
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 2
    loss = health.read_scalars(tmp_path)[health.LOSS]
    assert loss == [(0, 5.0), (10, 5.0), (20, 5.0), (30, 5.0), (40, 5.0), (50, 1.0), (60, 1.0), (70, 1.0)]


def test_curves_are_written_as_valid_png(runs, tmp_path):
    import matplotlib.image

    written = health.save_curves(health.read_scalars(runs["sawtooth"]), tmp_path / "curves")
    assert [p.name for p in written] == ["loss.png", "learning_rate.png", "grad_norm.png", "eval_loss.png",
                                         "duration_loss.png"]
    for png in written:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width, _ = matplotlib.image.imread(png).shape
        assert height > 200 and width > 400
    assert sorted(p.name for p in (tmp_path / "curves").iterdir()) == sorted(p.name for p in written)  # no temp files
    only_lr = health.save_curves({health.LR: [(0, 1e-4), (10, 2e-4)]}, tmp_path / "lr_only")
    assert [p.name for p in only_lr] == ["learning_rate.png"]


def test_report_exit_codes(runs, tmp_path, capsys):
    assert view_tensorboard.main([str(runs["healthy"]), "--report"]) == 0
    out = capsys.readouterr().out
    assert "Итог: всё в порядке." in out and (runs["healthy"] / "curves" / "loss.png").is_file()
    assert view_tensorboard.main([str(runs["per_epoch"]), "--report", "--last-steps", "100"]) == 1
    assert "[ОШИБКА]" in capsys.readouterr().out
    assert view_tensorboard.main([str(runs["sawtooth"]), "--report"]) == 0  # warnings only
    assert "[ВНИМАНИЕ]" in capsys.readouterr().out
    outputs = tmp_path / "outputs"
    for name in ("healthy", "nan"):
        shutil.copytree(runs[name], outputs / name)
    assert view_tensorboard.main([str(outputs), "--report"]) == 1  # every run in the folder; one has an error
    assert capsys.readouterr().out.count("Проверка обучения:") == 2
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "missing", tmp_path / "empty"):
        assert view_tensorboard.main([str(path), "--report"]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
        assert captured.err.startswith("Ошибка: ") and str(path) in captured.err


def test_cli_bad_folder_is_one_line_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "view_tensorboard.py"), str(tmp_path / "нет_такой")],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"Ошибка: папка не найдена: {tmp_path / 'нет_такой'}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_tensorboard_serves_the_runs_over_http(runs):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-u", str(ROOT / "view_tensorboard.py"), str(runs["healthy"].parent),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        first = lines.get(timeout=60)
        assert first.startswith(f"TensorBoard: http://127.0.0.1:{port}/")
        url = first.split()[1]
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200 and b"TensorBoard" in response.read()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the runs are loaded in the background
            with urllib.request.urlopen(url + "data/runs", timeout=10) as response:
                served = response.read().decode()
            if "healthy" in served and "sawtooth" in served:
                break
            time.sleep(0.5)
        assert "healthy" in served and "sawtooth" in served
        if os.name == "posix":
            process.send_signal(signal.SIGINT)  # what Ctrl+C sends
            assert process.wait(timeout=20) == 0
            assert lines.get(timeout=5).strip() == "TensorBoard остановлен."
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
