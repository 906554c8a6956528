"""Training health checks on the scalars a Coqui GlowTTS run logs: what a person would look for in TensorBoard.

The same checks read two sources:
- the run's TensorBoard event files (`read_scalars(run_dir)`, used by `view_tensorboard.py --report`);
- the history the training loop keeps in memory (`TrainingHistory`, checked every few hundred steps).
Each check returns a `Finding` (level ok/warn/error, a Russian message for the user, a key for code).

Scalar tags written by coqui-tts-trainer 0.4 for GlowTTS (read in trainer/trainer.py and TTS/tts/layers/losses.py):
`TrainIterStats/*` every `plot_step` steps, `TrainEpochStats/*` and `EvalStats/avg_*` once per epoch at the step
where the epoch ended. The logged grad norm is the total norm BEFORE clipping (`clip_grad_norm_` returns it); the
trainer logs 0 when it is not finite (fp16) or when it is not computed (fp32 with grad_clip = 0).
"""
from __future__ import annotations

import math
import textwrap
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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

OK, WARN, ERROR = "ok", "warn", "error"
LEVEL_LABELS = {OK: "OK", WARN: "ВНИМАНИЕ", ERROR: "ОШИБКА"}

TINY_LR = 1e-6  # below this nothing is learned; Noam with warmup 8000 starts at 2.5e-8
MIN_STUCK_STEPS = 100  # GlowTTS's first steps (data-dependent init) never step the scheduler
TREND_MIN_T = 3.0  # |slope| / its standard error for a trend to count as real
GRAD_SPIKE_FACTOR = 10.0  # a grad norm this many times the run's median is a spike
DURATION_DROP = 0.7  # loss_dur below 70 % of its start: durations are being learned
DURATION_MIN_STEPS = 2000  # before this many steps a flat loss_dur is not yet alarming
SAWTOOTH_MIN_R2 = 0.1  # share of loss variance explained by the position inside the epoch
HISTORY_HEAD = 256  # in-training checks: first points of each series kept for good
HISTORY_TAIL = 4096  # and the latest ones: ~6 epochs of RUSLAN at batch 32, ~100 of the demo corpus


class EventFilesError(ValueError):
    """No run folder or no TensorBoard event files in it; the message is for the user."""


@dataclass(frozen=True)
class Finding:
    level: str  # OK, WARN or ERROR
    key: str  # summary, lr, loss_trend, grad_norm, nonfinite, duration, sawtooth, overfit
    message: str  # Russian, for the user


Series = Sequence[tuple[int, float]]
_EMPTY = (np.empty(0, dtype=np.int64), np.empty(0))


# --- reading ---------------------------------------------------------------------------------------------
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


# --- the checks ------------------------------------------------------------------------------------------
def check_history(history: Mapping[str, Series], steps_per_epoch: int | None = None,
                  window_steps: int | None = None) -> list[Finding]:
    """Checks on the training loop's in-memory history: keys as in Coqui's loss dict ("loss", "current_lr", ...)
    or full tags ("EvalStats/avg_loss"); `steps_per_epoch` stands in for the epoch ends the event files carry."""
    scalars = {key if "/" in key else f"TrainIterStats/{key}": points for key, points in history.items()}
    return check_scalars(scalars, steps_per_epoch=steps_per_epoch, window_steps=window_steps)


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

    def check(self, steps_per_epoch: int | None = None) -> list[Finding]:
        return check_history(self.series(), steps_per_epoch=steps_per_epoch)


def check_scalars(scalars: Mapping[str, Series], steps_per_epoch: int | None = None,
                  window_steps: int | None = None) -> list[Finding]:
    """All checks, one finding each. `window_steps`: how far back the loss trend looks (default: last quarter)."""
    series = {tag: _series(points) for tag, points in scalars.items()}

    def get(tag):
        return series.get(tag, _EMPTY)

    train_steps = [s for tag, (s, _) in series.items() if tag.startswith("TrainIterStats/") and len(s)]
    if not train_steps:
        return [Finding(WARN, "summary", "в логах нет значений обучения (TrainIterStats/...): обучение только "
                                         "началось или это не прогон Coqui")]
    first_step = int(min(s[0] for s in train_steps))
    last_step = int(max(s[-1] for s in train_steps))
    epoch_ends = _epoch_ends(get(EPOCH_TIME)[0], first_step, last_step, steps_per_epoch)
    if window_steps is None:
        window_steps = max((last_step - first_step) // 4, 1)
    return [
        _summary(first_step, last_step, len(get(EPOCH_TIME)[0]), len(get(EVAL_LOSS)[0])),
        check_learning_rate(*get(LR), epoch_ends),
        check_loss_trend(*get(LOSS), window_steps),
        check_nonfinite(series),
        check_grad_norm(*get(GRAD_NORM), window_steps),
        check_duration_loss(*get(LOSS_DUR)),
        check_sawtooth(*get(LOSS), epoch_ends, get(BATCH_FRAMES)),
        check_overfitting(*get(EVAL_LOSS), *get(LOSS)),
    ]


def _summary(first_step: int, last_step: int, epochs: int, evals: int) -> Finding:
    return Finding(OK, "summary", f"в логах шаги {first_step}–{last_step}, законченных эпох: {epochs}, "
                                  f"оценок на валидации (eval): {evals}")


def check_learning_rate(steps: np.ndarray, lr: np.ndarray, epoch_ends: np.ndarray) -> Finding:
    """The learning rate must change per step (Noam warmup); flags a scheduler stepped per epoch or never."""
    ok = np.isfinite(lr)
    steps, lr = steps[ok], lr[ok]
    if len(lr) < 3:
        return Finding(OK, "lr", "скорость обучения: данных пока мало")
    changed = ~np.isclose(lr[1:], lr[:-1], rtol=1e-6, atol=0.0)
    span = int(steps[-1] - steps[0])
    if not changed.any():
        if lr[-1] < TINY_LR and span >= MIN_STUCK_STEPS:
            return Finding(ERROR, "lr", f"скорость обучения стоит на {lr[-1]:.2g} на шагах {steps[0]}–{steps[-1]}: "
                                        "планировщик не шагает, модель почти не учится. Coqui по умолчанию шагает "
                                        "им раз в эпоху (scheduler_after_epoch=true), а trainer 0.4 с одним "
                                        "оптимизатором тогда не шагает вовсе. Нужно scheduler_after_epoch=false "
                                        "(разогрев Noam в шагах)")
        return Finding(OK, "lr", f"скорость обучения постоянная: {lr[-1]:.2g}")
    # A change between two logged steps is "at an epoch end" if an epoch ended between them.
    at_epoch_end = np.searchsorted(epoch_ends, steps[:-1], side="right") < np.searchsorted(
        epoch_ends, steps[1:], side="right")
    inside, at_end = changed & ~at_epoch_end, changed & at_epoch_end
    if (~at_epoch_end).sum() >= 3 and at_end.sum() > inside.sum() and inside.sum() <= 0.05 * (~at_epoch_end).sum():
        rising = (lr[1:][at_end] > lr[:-1][at_end]).mean() > 0.5
        if rising:
            return Finding(ERROR, "lr", f"скорость обучения растёт только на границах эпох ({lr[0]:.2g} → "
                                        f"{lr[-1]:.2g}): разогрев считается в эпохах, а не в шагах. При warmup в "
                                        "тысячи это тысячи эпох с почти нулевой скоростью. Нужно "
                                        "scheduler_after_epoch=false")
        return Finding(WARN, "lr", "скорость обучения меняется только на границах эпох (планировщик шагает раз в "
                                   "эпоху). Для Noam нужно scheduler_after_epoch=false")
    peak = int(np.argmax(lr))
    if lr[-1] < TINY_LR and span >= MIN_STUCK_STEPS:
        return Finding(WARN, "lr", f"скорость обучения всё ещё крошечная ({lr[-1]:.2g}) к шагу {steps[-1]}: "
                                   "слишком длинный разогрев (warmup_steps) или слишком малый lr")
    if lr[0] >= 0.5 * lr[peak]:
        return Finding(OK, "lr", f"скорость обучения меняется по шагам, сейчас {lr[-1]:.2g}")
    if peak == len(lr) - 1:
        return Finding(OK, "lr", f"скорость обучения растёт по шагам (идёт разогрев): {lr[0]:.2g} → {lr[-1]:.2g}")
    return Finding(OK, "lr", f"разогрев по шагам: {lr[0]:.2g} → пик {lr[peak]:.2g} на шаге {steps[peak]}, "
                             f"сейчас {lr[-1]:.2g}")


def check_loss_trend(steps: np.ndarray, loss: np.ndarray, window_steps: int) -> Finding:
    """Falling, flat or rising over the last `window_steps` steps."""
    return _trend_finding(steps, loss, window_steps, "loss_trend", "loss",
                          "Если это не короткий всплеск, скорость обучения велика или данные испорчены")


def _trend_finding(steps: np.ndarray, loss: np.ndarray, window_steps: int, code: str, what: str,
                   if_rising: str) -> Finding:
    """A loss curve's direction over its last `window_steps` steps; rising is a warning with `if_rising` advice."""
    recent = _last_steps(steps, window_steps)
    trend = _trend(steps[recent], loss[recent]) if len(steps) else None
    if trend is None:
        return Finding(OK, code, f"{what}: данных пока мало для тренда")
    span = f"на шагах {steps[recent][0]}–{steps[recent][-1]}"
    if trend.direction == "rising":
        return Finding(WARN, code, f"{what} растёт {span}: {trend.start:.3f} → {trend.end:.3f}. {if_rising}")
    if trend.direction == "falling":
        return Finding(OK, code, f"{what} падает {span}: {trend.start:.3f} → {trend.end:.3f}")
    return Finding(OK, code, f"{what} почти не меняется {span} (около {trend.end:.3f}): плато")


def check_nonfinite(series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Finding:
    """NaN/Inf in the logged losses, our guard's skip counter, grad norms the trainer zeroed, a falling fp16 scale."""
    errors, warnings = [], []  # a NaN that reached the logs is an error; skipped or fp16-handled steps are warnings
    for tag in (LOSS, LOG_MLE, LOSS_DUR, GRAD_NORM, EVAL_LOSS):
        steps, values = series.get(tag, _EMPTY)
        bad = ~np.isfinite(values)
        if bad.any():
            errors.append(f"{tag.split('/')[-1]}: значений NaN/Inf {bad.sum()}, первое на шаге {steps[bad][0]}")
    skipped = series.get(NONFINITE_STEPS, _EMPTY)[1]
    if len(skipped) and np.nanmax(skipped) > 0:
        warnings.append(f"защита пропустила шагов с NaN/Inf: {int(np.nanmax(skipped))} (они не применены)")
    norms = series.get(GRAD_NORM, _EMPTY)[1]
    scale = series.get(AMP_SCALE, _EMPTY)[1]
    # In an fp16 run a zero norm is a step GradScaler skipped while finding its scale: normal unless the scale
    # collapses (below). Elsewhere it is how the trainer writes a NaN/Inf norm.
    if not len(scale) and (norms > 0).any() and (norms == 0).any():
        warnings.append(f"записанных шагов с нормой градиента 0: {(norms == 0).sum()} — так trainer пишет "
                        "NaN/Inf-норму (шаг пропускается)")
    if len(scale) and scale[-1] < 1:
        warnings.append(f"масштаб fp16 (amp_scaler) упал до {scale[-1]:.2g}: градиенты постоянно переполняются")
    if not errors and not warnings:
        return Finding(OK, "nonfinite", "NaN/Inf нет")
    advice = " Если повторяется: выключите fp16 (mixed_precision=false) или уменьшите lr."
    return Finding(ERROR if errors else WARN, "nonfinite", "; ".join(errors + warnings) + "." + advice)


def check_grad_norm(steps: np.ndarray, norms: np.ndarray, window_steps: int) -> Finding:
    """Spikes of the pre-clip gradient norm."""
    measured = np.isfinite(norms) & (norms > 0)
    steps, norms = steps[measured], norms[measured]
    if len(norms) < 5:
        return Finding(OK, "grad_norm", "норма градиента: не записана или мало данных (trainer считает её при "
                                        "grad_clip > 0 или fp16)")
    median = float(np.median(norms))
    recent = _last_steps(steps, window_steps)
    spikes = norms[recent] > GRAD_SPIKE_FACTOR * median
    top = int(np.argmax(norms))
    text = (f"норма градиента: медиана {median:.3g}, максимум {norms[top]:.3g} на шаге {steps[top]}. Это норма ДО "
            "обрезки (grad_clip): большое число само по себе не значит, что обучение разошлось")
    if spikes.sum() >= max(3, 0.05 * recent.sum()):
        return Finding(WARN, "grad_norm", f"{text}. Но всплесков больше чем в {GRAD_SPIKE_FACTOR:g} раз выше "
                                          f"медианы за последние шаги: {spikes.sum()} из {recent.sum()}. Если "
                                          "при этом loss скачет вверх, уменьшите lr")
    return Finding(OK, "grad_norm", text)


def check_duration_loss(steps: np.ndarray, loss_dur: np.ndarray) -> Finding:
    """GlowTTS's duration loss falls once the text-to-audio alignment is found."""
    ok = np.isfinite(loss_dur)
    steps, loss_dur = steps[ok], loss_dur[ok]
    if len(loss_dur) < 10:
        return Finding(OK, "duration", "loss длительностей (loss_dur): данных пока мало")
    k = max(3, len(loss_dur) // 10)
    # The early level: the highest median of three in the first tenth (it may already be falling there).
    start = float(np.median(np.lib.stride_tricks.sliding_window_view(loss_dur[:k], 3), axis=1).max())
    end = float(np.median(loss_dur[-k:]))
    if end <= DURATION_DROP * start:
        return Finding(OK, "duration", f"loss длительностей упал {start:.3f} → {end:.3f}: модель учит длительности, "
                                       "выравнивание текста и звука находится")
    if steps[0] >= DURATION_MIN_STEPS:  # e.g. the in-memory history of a resumed run: its start is not here
        return Finding(OK, "duration", f"loss длительностей {start:.3f} → {end:.3f} с шага {steps[0]} (начала "
                                       "обучения в этих данных нет)")
    if steps[-1] - steps[0] < DURATION_MIN_STEPS:
        return Finding(OK, "duration", f"loss длительностей пока не упал ({start:.3f} → {end:.3f}), шагов ещё мало")
    return Finding(WARN, "duration", f"loss длительностей не падает на шагах {steps[0]}–{steps[-1]} "
                                     f"({start:.3f} → {end:.3f}): выравнивание текста и звука не находится. "
                                     "Проверьте, что тексты совпадают с аудио, алфавит config.json покрывает все "
                                     "символы и lr не застрял")


def check_sawtooth(steps: np.ndarray, loss: np.ndarray, epoch_ends: np.ndarray,
                   frames: tuple[np.ndarray, np.ndarray]) -> Finding:
    """The same loss pattern inside every epoch: batches come in the same length order (no shuffling)."""
    ok = np.isfinite(loss)
    steps, loss = steps[ok], loss[ok]
    phase = _epoch_phase(steps, epoch_ends)
    if len(epoch_ends) < 2 or np.isfinite(phase).sum() < 12:
        return Finding(OK, "sawtooth", "пила по эпохам: данных пока мало (нужно несколько эпох)")
    period = float(np.median(np.diff(epoch_ends)))
    residual = _minus_moving_mean(steps, loss, period)
    use = np.isfinite(phase) & np.isfinite(residual)
    n_points = int(use.sum())
    bins = _phase_bins(n_points, len(epoch_ends) - 1)
    loss_r2 = _phase_r2(phase[use], residual[use], bins)
    frame_steps, frame_values = frames
    common, in_loss, in_frames = np.intersect1d(steps[use], frame_steps, return_indices=True)
    notes, frames_ordered = [], False
    if len(common) >= 12:
        frames_r2 = _phase_r2(phase[use][in_loss], frame_values[in_frames], bins)
        frames_ordered = _beyond_chance(frames_r2, len(common), bins, 0.5)
        notes.append(f"loss и длина батча связаны: ρ={_spearman(residual[use][in_loss], frame_values[in_frames]):.2f}")
        if frames_ordered:
            notes.append("длина батчей меняется по ходу каждой эпохи одинаково — батчи не перемешиваются")
    advice = ("Включите перемешивание с группировкой по длине (batch_group_size) и ограничьте "
              "max_audio_len/max_text_len")
    if _beyond_chance(loss_r2, n_points, bins, SAWTOOTH_MIN_R2):
        rho_phase = _spearman(phase[use], residual[use])
        shape = ("растёт к концу эпохи" if rho_phase > 0.3 else "падает к концу эпохи" if rho_phase < -0.3
                 else "повторяет один и тот же рисунок")
        detail = "; ".join([f"положение в эпохе объясняет {loss_r2:.0%} разброса loss", *notes])
        return Finding(WARN, "sawtooth", f"пила: внутри каждой эпохи loss {shape} ({detail}). Так бывает, когда "
                                         f"батчи идут в одном порядке по длине. {advice}")
    if frames_ordered:
        return Finding(WARN, "sawtooth", f"длина батчей меняется по ходу каждой эпохи одинаково: батчи не "
                                         f"перемешиваются, пила в loss вероятна. {advice}")
    return Finding(OK, "sawtooth", f"пилы по эпохам нет (положение в эпохе объясняет {loss_r2:.0%} разброса loss)")


def check_overfitting(eval_steps: np.ndarray, eval_loss: np.ndarray, train_steps: np.ndarray,
                      train_loss: np.ndarray) -> Finding:
    """Eval loss rising while train loss falls."""
    ok = np.isfinite(eval_loss)
    eval_steps, eval_loss = eval_steps[ok], eval_loss[ok]
    if len(eval_loss) < 4:
        return Finding(OK, "overfit", "переобучение: оценок на валидации пока мало")
    best = int(np.argmin(eval_loss))
    best_text = f"лучший eval loss {eval_loss[best]:.3f} на шаге {eval_steps[best]} (best_model.pth)"
    recent = slice(len(eval_loss) - max(3, len(eval_loss) // 2), None)
    eval_trend = _trend(eval_steps[recent], eval_loss[recent], min_points=3)
    if eval_trend is None or eval_trend.direction != "rising":
        return Finding(OK, "overfit", f"eval loss не растёт; {best_text}")
    since = eval_steps[recent][0]
    train_trend = _trend(train_steps[train_steps >= since], train_loss[train_steps >= since])
    rise = f"eval loss растёт с шага {since}: {eval_trend.start:.3f} → {eval_trend.end:.3f}"
    if train_trend is not None and train_trend.direction == "falling":
        return Finding(WARN, "overfit", f"переобучение: {rise}, а train loss падает. Берите {best_text}; "
                                        "дальше помогут больше данных, а не больше шагов")
    return Finding(WARN, "overfit", f"{rise}, train loss при этом не падает; {best_text}")


# --- numeric helpers -----------------------------------------------------------------------------------
def _series(points: Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted by step; a step logged twice keeps its last value."""
    if not len(points):
        return _EMPTY
    steps = np.array([p[0] for p in points], dtype=np.int64)
    values = np.array([p[1] for p in points], dtype=float)
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    last_of_step = np.append(steps[1:] != steps[:-1], True)
    return steps[last_of_step], values[last_of_step]


def _epoch_ends(logged_ends: np.ndarray, first_step: int, last_step: int, steps_per_epoch: int | None) -> np.ndarray:
    """Epoch boundaries (first step of each epoch, the first one included)."""
    if len(logged_ends):
        ends = logged_ends[logged_ends > first_step]
        return np.concatenate([[first_step], ends]).astype(np.int64)
    if steps_per_epoch:
        return np.arange(first_step, last_step + 1, steps_per_epoch, dtype=np.int64)
    return np.empty(0, dtype=np.int64)


def _epoch_phase(steps: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """Position 0..1 inside the epoch for steps inside a complete epoch, NaN elsewhere."""
    phase = np.full(len(steps), np.nan)
    if len(boundaries) < 2:
        return phase
    epoch = np.searchsorted(boundaries, steps, side="right")
    inside = (epoch >= 1) & (epoch < len(boundaries))
    start, end = boundaries[epoch[inside] - 1], boundaries[epoch[inside]]
    phase[inside] = (steps[inside] - start) / (end - start)
    return phase


def _minus_moving_mean(steps: np.ndarray, values: np.ndarray, period: float) -> np.ndarray:
    """Values minus their mean over one period centred on each step (removes the trend, keeps the per-epoch
    pattern); NaN where the window would run past the data."""
    sums = np.concatenate([[0.0], np.cumsum(values)])
    lo = np.searchsorted(steps, steps - period / 2, side="left")
    hi = np.searchsorted(steps, steps + period / 2, side="left")
    counts = hi - lo
    residual = np.full(len(values), np.nan)
    full = (steps - period / 2 >= steps[0]) & (steps + period / 2 <= steps[-1]) & (counts > 0)
    residual[full] = values[full] - (sums[hi] - sums[lo])[full] / counts[full]
    return residual


def _phase_bins(n_points: int, n_epochs: int) -> int:
    """Parts of the epoch to compare: no more than the points an epoch has, 2 to 8."""
    return int(min(8, max(2, round(n_points / max(n_epochs, 1)))))


def _beyond_chance(r2: float, n_points: int, bins: int, floor: float) -> bool:
    """Noise alone gives R² of about (bins - 1) / (n - 1); 7 times that is reached by chance with p < 0.001."""
    return r2 >= max(floor, 7 * (bins - 1) / max(n_points - 1, 1))


def _phase_r2(phase: np.ndarray, values: np.ndarray, bins: int) -> float:
    """Share of the variance of `values` explained by which part of the epoch they fall in."""
    if len(values) < 2 or np.var(values) == 0:
        return 0.0
    index = np.minimum((phase * bins + 1e-9).astype(int), bins - 1)  # 1e-9: 1/3 * 3 must land in bin 1
    means = np.array([values[index == b].mean() if (index == b).any() else 0.0 for b in range(bins)])
    counts = np.bincount(index, minlength=bins)
    between = np.sum(counts * (means - values.mean()) ** 2)
    return float(between / np.sum((values - values.mean()) ** 2))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if np.std(ranks_a) == 0 or np.std(ranks_b) == 0:
        return 0.0
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


@dataclass(frozen=True)
class _Trend:
    direction: str  # falling, flat, rising
    start: float  # fitted value at the first step
    end: float  # fitted value at the last step


def _trend(steps: np.ndarray, values: np.ndarray, min_points: int = 5) -> _Trend | None:
    """Least-squares line; a direction counts if the slope is TREND_MIN_T standard errors from zero and the change
    is not lost in the scatter."""
    ok = np.isfinite(values)
    x, y = steps[ok].astype(float), values[ok]
    if len(y) < min_points or x[-1] == x[0]:
        return None
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    sigma = math.sqrt(float(np.sum(residual ** 2)) / (len(y) - 2)) if len(y) > 2 else 0.0
    spread = math.sqrt(float(np.sum((x - x.mean()) ** 2)))
    change = slope * (x[-1] - x[0])
    t = abs(slope) * spread / sigma if sigma > 0 else math.inf
    real = t >= TREND_MIN_T and abs(change) >= max(0.5 * sigma, 1e-3)
    direction = "flat" if not real else ("rising" if change > 0 else "falling")
    return _Trend(direction, float(slope * x[0] + intercept), float(slope * x[-1] + intercept))


def _last_steps(steps: np.ndarray, window_steps: int) -> np.ndarray:
    """Mask of the points within `window_steps` of the last one (at least the last 5 points)."""
    recent = steps >= (steps[-1] - window_steps if len(steps) else 0)
    recent[-5:] = True
    return recent


# --- output ----------------------------------------------------------------------------------------------
def format_report(findings: Sequence[Finding], title: str) -> str:
    """A plain-text report in Russian, one paragraph per finding, and a verdict."""
    lines = [f"Проверка обучения: {title}"]
    for finding in findings:
        label = f"[{LEVEL_LABELS[finding.level]}]"
        lines.append(textwrap.fill(finding.message, width=110, initial_indent=f"  {label:<11} ",
                                   subsequent_indent=" " * 14))
    errors = sum(f.level == ERROR for f in findings)
    warnings = sum(f.level == WARN for f in findings)
    verdict = "всё в порядке" if not errors and not warnings else f"ошибок: {errors}, предупреждений: {warnings}"
    lines.append(f"Итог: {verdict}.")
    return "\n".join(lines)


# name, title, y log scale, [(tag, label)]
CURVES = (
    ("loss", "Loss", False, ((LOSS, "train"), (EVAL_LOSS, "eval"))),
    ("learning_rate", "Скорость обучения (lr)", True, ((LR, "lr"),)),
    ("grad_norm", "Норма градиента (до обрезки grad_clip)", True, ((GRAD_NORM, "grad norm"),)),
    ("eval_loss", "Loss на валидации (eval)", False,
     ((EVAL_LOSS, "loss"), (EVAL_LOG_MLE, "log_mle"), (EVAL_LOSS_DUR, "loss_dur"))),
    ("duration_loss", "Loss длительностей (loss_dur)", False, ((LOSS_DUR, "train"), (EVAL_LOSS_DUR, "eval"))),
)


def save_curves(scalars: Mapping[str, Series], out_dir: Path, curves=CURVES) -> list[Path]:
    """Writes the main curves (`curves`: CURVES, or VOCODER_CURVES for a vocoder run) as PNG files into `out_dir`
    (created); returns the files written."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    epoch_ends = _series(scalars.get(EPOCH_TIME, ()))[0]
    mark_epochs = 0 < len(epoch_ends) <= 60  # more lines than that hide the curve
    written = []
    for name, title, log_scale, tags in curves:
        plotted = [(label, *_series(scalars[tag]), tag.startswith("EvalStats/"))
                   for tag, label in tags if scalars.get(tag)]
        if not plotted:
            continue
        figure = Figure(figsize=(10, 4.5), dpi=100)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        for label, steps, values, is_eval in plotted:
            if log_scale:
                values = np.where(values > 0, values, np.nan)
            axes.plot(steps, values, "o-" if is_eval else "-", label=label, linewidth=1.5 if is_eval else 0.8,
                      markersize=3)
        if mark_epochs and name in ("loss", "learning_rate"):
            for step in epoch_ends:
                axes.axvline(step, color="grey", alpha=0.25, linewidth=0.6)
            title += " (серые линии — концы эпох)"
        if log_scale:
            axes.set_yscale("log")
        axes.set_title(title)
        axes.set_xlabel("шаг")
        axes.grid(alpha=0.3)
        if len(plotted) > 1:
            axes.legend()
        figure.tight_layout()
        written.append(_save_atomically(figure, out_dir / f"{name}.png"))
    return written


def _save_atomically(figure, path: Path) -> Path:
    from rutts.audio import atomic_output

    with atomic_output(path) as temp:
        figure.savefig(temp, format="png")
    return path


# --- vocoder runs (train_vocoder.py: Coqui's GAN with two optimizers) -------------------------------------
# Optimizer 0 is the discriminator, 1 the generator (TTS/vocoder/models/gan.py); the trainer logs each one's loss as
# loss_<idx>. The GAN losses are least squares, averaged over the discriminators (TTS/vocoder/layers/losses.py):
# a discriminator that says 0.5 to everything scores 0.25 real + 0.25 fake; one that tells them apart perfectly, 0.
D_LOSS = "TrainIterStats/loss_0"
G_LOSS = "TrainIterStats/loss_1"
MEL_LOSS = "TrainIterStats/G_l1_spec_loss"  # L1 between log-mels of generated and real audio
G_ADV_LOSS = "TrainIterStats/G_mse_fake_loss"
D_REAL_LOSS = "TrainIterStats/D_mse_gan_real_loss"
D_FAKE_LOSS = "TrainIterStats/D_mse_gan_fake_loss"
EVAL_MEL_LOSS = "EvalStats/avg_G_l1_spec_loss"
VOCODER_NONFINITE = (NONFINITE_STEPS, f"{NONFINITE_STEPS}-1")
D_WINS_LOSS = 0.02  # real + fake loss below this: the discriminator separates everything, G's gradient vanishes
D_BLIND_LOSS = 0.5  # real + fake loss of a discriminator that answers the same to all
D_BLIND_SPREAD = 0.01  # ... and hardly moves


def is_vocoder_run(scalars: Mapping[str, Series]) -> bool:
    return MEL_LOSS in scalars or G_LOSS in scalars


def check_vocoder_history(history: Mapping[str, Series]) -> list[Finding]:
    """`check_vocoder_scalars` on the training loop's in-memory history (keys as in Coqui's loss dict)."""
    return check_vocoder_scalars({key if "/" in key else f"TrainIterStats/{key}": points
                                  for key, points in history.items()})


def check_vocoder_scalars(scalars: Mapping[str, Series], window_steps: int | None = None) -> list[Finding]:
    """Checks of a GAN vocoder run: mel loss trend (train and eval), the generator/discriminator balance, NaN/Inf."""
    series = {tag: _series(points) for tag, points in scalars.items()}

    def get(tag):
        return series.get(tag, _EMPTY)

    steps = get(G_LOSS)[0]
    if not len(steps):
        return [Finding(WARN, "summary", "в логах нет loss генератора (TrainIterStats/loss_1): обучение вокодера "
                                         "только началось")]
    if window_steps is None:
        window_steps = max(int(steps[-1] - steps[0]) // 4, 1)
    summary = Finding(OK, "summary", f"вокодер: в логах шаги {steps[0]}–{steps[-1]}, оценок на валидации (eval): "
                                     f"{len(get(EVAL_MEL_LOSS)[0])}")
    return [summary, check_mel_loss(*get(MEL_LOSS), window_steps), check_eval_mel_loss(*get(EVAL_MEL_LOSS)),
            check_gan_balance(get(D_REAL_LOSS), get(D_FAKE_LOSS), get(G_ADV_LOSS), window_steps),
            _check_vocoder_nonfinite(series)]


def check_mel_loss(steps: np.ndarray, loss: np.ndarray, window_steps: int) -> Finding:
    """The generator's mel loss: what makes the sound right; it should fall for a long time."""
    return _trend_finding(steps, loss, window_steps, "mel_loss", "mel loss генератора",
                          "Если это не всплеск после включения дискриминатора, уменьшите lr_gen")


def check_eval_mel_loss(steps: np.ndarray, loss: np.ndarray) -> Finding:
    ok = np.isfinite(loss)
    steps, loss = steps[ok], loss[ok]
    if not len(loss):
        return Finding(OK, "eval_mel_loss", "mel loss на валидации: оценок пока нет")
    best = int(np.argmin(loss))
    text = f"mel loss на валидации: {loss[0]:.3f} → {loss[-1]:.3f}, лучший {loss[best]:.3f} на шаге {steps[best]}"
    if len(loss) >= 4 and best < len(loss) - 3 and loss[-1] > 1.1 * loss[best]:
        return Finding(WARN, "eval_mel_loss", f"{text}: три последние оценки хуже лучшей; best_model.pth — "
                                              "лучший по этой оценке")
    return Finding(OK, "eval_mel_loss", text)


def check_gan_balance(real: tuple[np.ndarray, np.ndarray], fake: tuple[np.ndarray, np.ndarray],
                      adversarial: tuple[np.ndarray, np.ndarray], window_steps: int) -> Finding:
    """A collapsed discriminator: one that wins outright (the generator learns nothing from it) or one that answers
    the same to real and generated audio (it teaches nothing)."""
    (steps, real_loss), (fake_steps, fake_loss) = real, fake
    if len(real_loss) < 5 or len(fake_loss) != len(real_loss):
        return Finding(OK, "gan_balance", "дискриминатор ещё не учится (steps_to_start_discriminator) или данных "
                                          "мало: учится только mel loss генератора")
    recent = _last_steps(steps, window_steps)
    total = real_loss[recent] + fake_loss[recent]
    level, spread = float(np.median(total)), float(np.std(total))
    adv = adversarial[1][_last_steps(adversarial[0], window_steps)] if len(adversarial[1]) else np.array([np.nan])
    text = (f"дискриминатор: loss на настоящем {np.median(real_loss[recent]):.3f}, на синтезированном "
            f"{np.median(fake_loss[recent]):.3f}; adversarial loss генератора {np.nanmedian(adv):.3f}")
    if level < D_WINS_LOSS:
        return Finding(WARN, "gan_balance", f"{text}. Дискриминатор схлопнулся в победу: отличает всё, генератор не "
                                            "получает от него полезного градиента. Уменьшите lr_disc или продолжите "
                                            "с чекпойнта до этого места")
    if abs(level - D_BLIND_LOSS) < 0.05 and spread < D_BLIND_SPREAD:
        return Finding(WARN, "gan_balance", f"{text}. Дискриминатор схлопнулся: отвечает одно и то же на настоящий и "
                                            "синтезированный звук и ничему не учит генератор. Проверьте lr_disc "
                                            "и NaN-шаги")
    return Finding(OK, "gan_balance", f"{text}: равновесие есть")


def _check_vocoder_nonfinite(series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Finding:
    bad = []
    for tag in (D_LOSS, G_LOSS, MEL_LOSS, EVAL_MEL_LOSS):
        steps, values = series.get(tag, _EMPTY)
        if (~np.isfinite(values)).any():
            bad.append(f"{tag.split('/')[-1]}: значений NaN/Inf {(~np.isfinite(values)).sum()}, первое на шаге "
                       f"{steps[~np.isfinite(values)][0]}")
    skipped = max((np.nanmax(series[tag][1]) for tag in VOCODER_NONFINITE if len(series.get(tag, _EMPTY)[1])),
                  default=0)
    if bad:
        return Finding(ERROR, "nonfinite", "; ".join(bad) + ". Уменьшите lr_gen/lr_disc")
    if skipped > 0:
        return Finding(WARN, "nonfinite", f"защита пропустила шагов с NaN/Inf: {int(skipped)} (они не применены)")
    return Finding(OK, "nonfinite", "NaN/Inf нет")


VOCODER_CURVES = (
    ("mel_loss", "Mel loss генератора (L1 лог-мелов)", False, ((MEL_LOSS, "train"), (EVAL_MEL_LOSS, "eval"))),
    ("gan_losses", "Loss генератора и дискриминатора", True, ((G_LOSS, "генератор (loss_1)"),
                                                               (D_LOSS, "дискриминатор (loss_0)"))),
    ("discriminator", "Дискриминатор: loss на настоящем и синтезированном", False,
     ((D_REAL_LOSS, "настоящий"), (D_FAKE_LOSS, "синтезированный"), (G_ADV_LOSS, "adversarial генератора"))),
)
