"""The scalars a run logs, from its TensorBoard event files or from the training loop's memory, and the tags the
checks read. Scalar tags written by coqui-tts-trainer 0.4 (read in trainer/trainer.py and TTS/tts/layers/losses.py):
`TrainIterStats/*` every `plot_step` steps, `TrainEpochStats/*` and `EvalStats/avg_*` once per epoch at the step
where the epoch ended. The logged grad norm is the total norm BEFORE clipping (`clip_grad_norm_` returns it); the
trainer logs 0 when it is not finite (fp16) or when it is not computed (fp32 with grad_clip = 0)."""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LR = "TrainIterStats/current_lr"
LOSS = "TrainIterStats/loss"
LOG_MLE = "TrainIterStats/log_mle"
LOSS_DUR = "TrainIterStats/loss_dur"
GRAD_NORM = "TrainIterStats/grad_norm"
AMP_SCALE = "TrainIterStats/amp_scaler"
EPOCH_TIME = "TrainEpochStats/epoch_time"  # one point per epoch, at the first step of the next epoch
EVAL_LOSS = "EvalStats/avg_loss"
EVAL_LOG_MLE = "EvalStats/avg_log_mle"
EVAL_LOSS_DUR = "EvalStats/avg_loss_dur"
# Added by our training loop (rutts/training.py); absent from stock Coqui runs.
NONFINITE_STEPS = "TrainIterStats/nonfinite_steps"  # cumulative count of skipped NaN/Inf steps
BATCH_FRAMES = "TrainIterStats/batch_frames"  # mel frames per item of the step's batch

HISTORY_HEAD = 256  # in-training checks: first points of each series kept for good
HISTORY_TAIL = 4096  # and the latest ones: ~6 epochs of RUSLAN at batch 32, ~100 of the demo corpus


class EventFilesError(ValueError):
    """No run folder or no TensorBoard event files in it; the message is for the user."""


Series = Sequence[tuple[int, float]]
EMPTY = (np.empty(0, dtype=np.int64), np.empty(0))


def find_runs(path: Path) -> list[Path]:
    """Folders at or under `path` that hold TensorBoard event files."""
    path = Path(path)
    if not path.exists():
        raise EventFilesError(f"папка не найдена: {path}")
    if not path.is_dir():
        raise EventFilesError(f"это не папка: {path}")
    runs = sorted({f.parent for f in path.rglob("events.out.tfevents.*") if f.is_file()})
    if not runs:
        raise EventFilesError(f"в {path} нет файлов TensorBoard (events.out.tfevents.*): обучение сюда ещё не писало")
    return runs


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """All scalar series of one run folder (every event file in it), as tag -> [(step, value)]."""
    from tensorboard.backend.event_processing import event_accumulator as ea

    keep_one = {kind: 1 for kind in (ea.IMAGES, ea.AUDIO, ea.HISTOGRAMS, ea.COMPRESSED_HISTOGRAMS, ea.TENSORS)}
    accumulator = ea.EventAccumulator(str(run_dir), size_guidance={ea.SCALARS: 0, **keep_one},
                                      purge_orphaned_data=False)
    accumulator.Reload()
    return {tag: _without_orphans(accumulator.Scalars(tag)) for tag in accumulator.Tags()[ea.SCALARS]}


def _without_orphans(events) -> list[tuple[int, float]]:
    # A run continued from a checkpoint logs again from the checkpoint's step: the older points past it are stale.
    kept: list[tuple[int, float]] = []
    for event in sorted(events, key=lambda e: e.wall_time):
        while kept and kept[-1][0] >= event.step:
            kept.pop()
        kept.append((event.step, event.value))
    return kept


class TrainingHistory:
    """The training loop's logged values for the in-training checks, at a bounded cost: of each series the first
    `head` points (where the run started: the early loss_dur level, the first lr) and the latest `tail` points
    (trends, spikes, a few epochs for the saw-tooth check). Adding a point is O(1) and a check costs
    O(head + tail) however long the run is, so checking every few hundred steps stays linear in the length of the
    run (re-reading the whole history each time made it quadratic). `view_tensorboard.py --report` still reads
    every point, from the event files."""

    def __init__(self, head: int = HISTORY_HEAD, tail: int = HISTORY_TAIL):
        self.head, self.tail = head, tail
        self._first: dict[str, list[tuple[int, float]]] = {}
        self._latest: dict[str, deque[tuple[int, float]]] = {}

    def add(self, key: str, step: int, value: float) -> None:
        first = self._first.setdefault(key, [])
        if len(first) < self.head:
            first.append((step, value))
        else:
            self._latest.setdefault(key, deque(maxlen=self.tail)).append((step, value))

    def series(self) -> dict[str, list[tuple[int, float]]]:
        return {key: first + list(self._latest.get(key, ())) for key, first in self._first.items()}


def as_arrays(points: Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by step; a step logged twice keeps its last value."""
    if not len(points):
        return EMPTY
    steps = np.array([p[0] for p in points], dtype=np.int64)
    values = np.array([p[1] for p in points], dtype=float)
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    last_of_step = np.append(steps[1:] != steps[:-1], True)
    return steps[last_of_step], values[last_of_step]
