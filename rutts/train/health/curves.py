"""The main curves of a run as PNG files (view_tensorboard.py --report)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from rutts.files import atomic_output
from rutts.train.health.scalars import (EPOCH_TIME, EVAL_LOG_MLE, EVAL_LOSS, EVAL_LOSS_DUR, GRAD_NORM, LOSS, LOSS_DUR,
                                        LR, Series, as_arrays)
from rutts.train.health.vocoder import (D_FAKE_LOSS, D_LOSS, D_REAL_LOSS, EVAL_MEL_LOSS, G_ADV_LOSS, G_LOSS,
                                        MEL_LOSS)

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
    epoch_ends = as_arrays(scalars.get(EPOCH_TIME, ()))[0]
    mark_epochs = 0 < len(epoch_ends) <= 60  # more lines than that hide the curve
    written = []
    for name, title, log_scale, tags in curves:
        plotted = [(label, *as_arrays(scalars[tag]), tag.startswith("EvalStats/"))
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
    with atomic_output(path) as temp:
        figure.savefig(temp, format="png")
    return path


VOCODER_CURVES = (
    ("mel_loss", "Mel loss генератора (L1 лог-мелов)", False, ((MEL_LOSS, "train"), (EVAL_MEL_LOSS, "eval"))),
    ("gan_losses", "Loss генератора и дискриминатора", True, ((G_LOSS, "генератор (loss_1)"),
                                                               (D_LOSS, "дискриминатор (loss_0)"))),
    ("discriminator", "Дискриминатор: loss на настоящем и синтезированном", False,
     ((D_REAL_LOSS, "настоящий"), (D_FAKE_LOSS, "синтезированный"), (G_ADV_LOSS, "adversarial генератора"))),
)
