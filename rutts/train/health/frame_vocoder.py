"""Checks of a frame-level vocoder run (train_vocoder.py with a frame_vocoder preset): one optimizer, APNet's losses
(total, phase), their evaluation on the held-out clips, NaN/Inf."""
from __future__ import annotations

from collections.abc import Mapping

from rutts.train.health.findings import OK, WARN, Finding
from rutts.train.health.glowtts import check_nonfinite
from rutts.train.health.scalars import EMPTY, EVAL_LOSS, LOSS, LR, Series, as_arrays
from rutts.train.health.stats import trend_finding
from rutts.train.health.vocoder import check_eval_loss

PHASE_LOSS = "TrainIterStats/phase_loss"  # anti-wrapped phase errors: the part that makes it beat Griffin-Lim
EVAL_PHASE_LOSS = "EvalStats/avg_phase_loss"
FRAME_VOCODER_CURVES = (
    ("loss", "Loss (APNet: амплитуда, фаза, спектр, мел)", False, ((LOSS, "train"), (EVAL_LOSS, "eval"))),
    ("phase_loss", "Loss фазы", False, ((PHASE_LOSS, "train"), (EVAL_PHASE_LOSS, "eval"))),
    ("learning_rate", "Скорость обучения (lr)", True, ((LR, "lr"),)),
)


def is_frame_vocoder_run(scalars: Mapping[str, Series]) -> bool:
    return PHASE_LOSS in scalars


def check_frame_vocoder_scalars(scalars: Mapping[str, Series], window_steps: int | None = None) -> list[Finding]:
    series = {tag: as_arrays(points) for tag, points in scalars.items()}
    steps, loss = series.get(LOSS, EMPTY)
    if not len(steps):
        return [Finding(WARN, "summary", "в логах нет loss: обучение вокодера только началось")]
    if window_steps is None:
        window_steps = max(int(steps[-1] - steps[0]) // 4, 1)
    advice = "Если это не короткий всплеск, уменьшите lr"
    return [Finding(OK, "summary", f"кадровый вокодер: в логах шаги {steps[0]}–{steps[-1]}"),
            trend_finding(steps, loss, window_steps, "loss_trend", "loss", advice),
            trend_finding(*series.get(PHASE_LOSS, EMPTY), window_steps, "phase_trend", "loss фазы", advice),
            check_eval_loss(*series.get(EVAL_LOSS, EMPTY), "loss"),
            check_nonfinite(series)]
