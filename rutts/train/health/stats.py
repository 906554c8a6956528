"""Numbers behind the checks: the trend of a curve, and how much of a loss the position inside an epoch explains."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rutts.train.health.findings import OK, WARN, Finding

TREND_MIN_T = 3.0  # |slope| / its standard error for a trend to count as real


def epoch_ends(logged_ends: np.ndarray, first_step: int, last_step: int, steps_per_epoch: int | None) -> np.ndarray:
    """Epoch boundaries (first step of each epoch, the first one included)."""
    if len(logged_ends):
        ends = logged_ends[logged_ends > first_step]
        return np.concatenate([[first_step], ends]).astype(np.int64)
    if steps_per_epoch:
        return np.arange(first_step, last_step + 1, steps_per_epoch, dtype=np.int64)
    return np.empty(0, dtype=np.int64)


def epoch_phase(steps: np.ndarray, boundaries: np.ndarray) -> np.ndarray:
    """Position 0..1 inside the epoch for steps inside a complete epoch, NaN elsewhere."""
    phase = np.full(len(steps), np.nan)
    if len(boundaries) < 2:
        return phase
    epoch = np.searchsorted(boundaries, steps, side="right")
    inside = (epoch >= 1) & (epoch < len(boundaries))
    start, end = boundaries[epoch[inside] - 1], boundaries[epoch[inside]]
    phase[inside] = (steps[inside] - start) / (end - start)
    return phase


def minus_moving_mean(steps: np.ndarray, values: np.ndarray, period: float) -> np.ndarray:
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


def phase_bins(n_points: int, n_epochs: int) -> int:
    """Parts of the epoch to compare: no more than the points an epoch has, 2 to 8."""
    return int(min(8, max(2, round(n_points / max(n_epochs, 1)))))


def beyond_chance(r2: float, n_points: int, bins: int, floor: float) -> bool:
    """Noise alone gives R² of about (bins - 1) / (n - 1); 7 times that is reached by chance with p < 0.001."""
    return r2 >= max(floor, 7 * (bins - 1) / max(n_points - 1, 1))


def phase_r2(phase: np.ndarray, values: np.ndarray, bins: int) -> float:
    """Share of the variance of `values` explained by which part of the epoch they fall in."""
    if len(values) < 2 or np.var(values) == 0:
        return 0.0
    index = np.minimum((phase * bins + 1e-9).astype(int), bins - 1)  # 1e-9: 1/3 * 3 must land in bin 1
    means = np.array([values[index == b].mean() if (index == b).any() else 0.0 for b in range(bins)])
    counts = np.bincount(index, minlength=bins)
    between = np.sum(counts * (means - values.mean()) ** 2)
    return float(between / np.sum((values - values.mean()) ** 2))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    if np.std(ranks_a) == 0 or np.std(ranks_b) == 0:
        return 0.0
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


@dataclass(frozen=True)
class Trend:
    direction: str  # falling, flat, rising
    start: float  # fitted value at the first step
    end: float  # fitted value at the last step


def trend(steps: np.ndarray, values: np.ndarray, min_points: int = 5) -> Trend | None:
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
    return Trend(direction, float(slope * x[0] + intercept), float(slope * x[-1] + intercept))


def last_steps(steps: np.ndarray, window_steps: int) -> np.ndarray:
    """Mask of the points within `window_steps` of the last one (at least the last 5 points)."""
    recent = steps >= (steps[-1] - window_steps if len(steps) else 0)
    recent[-5:] = True
    return recent


def trend_finding(steps: np.ndarray, loss: np.ndarray, window_steps: int, code: str, what: str,
                  if_rising: str) -> Finding:
    """A loss curve's direction over its last `window_steps` steps; rising is a warning with `if_rising` advice."""
    recent = last_steps(steps, window_steps)
    found = trend(steps[recent], loss[recent]) if len(steps) else None
    if found is None:
        return Finding(OK, code, f"{what}: данных пока мало для тренда")
    span = f"на шагах {steps[recent][0]}–{steps[recent][-1]}"
    if found.direction == "rising":
        return Finding(WARN, code, f"{what} растёт {span}: {found.start:.3f} → {found.end:.3f}. {if_rising}")
    if found.direction == "falling":
        return Finding(OK, code, f"{what} падает {span}: {found.start:.3f} → {found.end:.3f}")
    return Finding(OK, code, f"{what} почти не меняется {span} (около {found.end:.3f}): плато")

