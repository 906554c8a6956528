"""Checks of a GlowTTS run on the scalars it logs: what a person would look for in TensorBoard (learning rate per
step, loss trend, NaN/Inf, gradient spikes, durations learned, a saw-tooth over epochs, overfitting)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rutts.train.health.findings import ERROR, OK, WARN, Finding
from rutts.train.health.scalars import (AMP_SCALE, BATCH_FRAMES, EMPTY, EPOCH_TIME, EVAL_LOSS, GRAD_NORM, LOG_MLE,
                                        LOSS, LOSS_DUR, LR, NONFINITE_STEPS, Series, as_arrays)
from rutts.train.health.stats import (beyond_chance, epoch_ends, epoch_phase, last_steps, minus_moving_mean,
                                      phase_bins, phase_r2, spearman, trend, trend_finding)

TINY_LR = 1e-6  # below this nothing is learned; Noam with warmup 8000 starts at 2.5e-8
MIN_STUCK_STEPS = 100  # GlowTTS's first steps (data-dependent init) never step the scheduler
GRAD_SPIKE_FACTOR = 10.0  # a grad norm this many times the run's median is a spike
DURATION_DROP = 0.7  # loss_dur below 70 % of its start: durations are being learned
DURATION_MIN_STEPS = 2000  # before this many steps a flat loss_dur is not yet alarming
SAWTOOTH_MIN_R2 = 0.1  # share of loss variance explained by the position inside the epoch


def check_history(history: Mapping[str, Series], steps_per_epoch: int | None = None,
                  window_steps: int | None = None) -> list[Finding]:
    """Checks on the training loop's in-memory history: keys as in Coqui's loss dict ("loss", "current_lr", ...)
    or full tags ("EvalStats/avg_loss"); `steps_per_epoch` stands in for the epoch ends the event files carry."""
    scalars = {key if "/" in key else f"TrainIterStats/{key}": points for key, points in history.items()}
    return check_scalars(scalars, steps_per_epoch=steps_per_epoch, window_steps=window_steps)


def check_scalars(scalars: Mapping[str, Series], steps_per_epoch: int | None = None,
                  window_steps: int | None = None) -> list[Finding]:
    """All checks, one finding each. `window_steps`: how far back the loss trend looks (default: last quarter)."""
    series = {tag: as_arrays(points) for tag, points in scalars.items()}

    def get(tag):
        return series.get(tag, EMPTY)

    train_steps = [s for tag, (s, _) in series.items() if tag.startswith("TrainIterStats/") and len(s)]
    if not train_steps:
        return [Finding(WARN, "summary", "в логах нет значений обучения (TrainIterStats/...): обучение только "
                                         "началось или это не прогон Coqui")]
    first_step = int(min(s[0] for s in train_steps))
    last_step = int(max(s[-1] for s in train_steps))
    ends = epoch_ends(get(EPOCH_TIME)[0], first_step, last_step, steps_per_epoch)
    if window_steps is None:
        window_steps = max((last_step - first_step) // 4, 1)
    return [
        _summary(first_step, last_step, len(get(EPOCH_TIME)[0]), len(get(EVAL_LOSS)[0])),
        check_learning_rate(*get(LR), ends),
        check_loss_trend(*get(LOSS), window_steps),
        check_nonfinite(series),
        check_grad_norm(*get(GRAD_NORM), window_steps),
        check_duration_loss(*get(LOSS_DUR)),
        check_sawtooth(*get(LOSS), ends, get(BATCH_FRAMES)),
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
    return trend_finding(steps, loss, window_steps, "loss_trend", "loss",
                         "Если это не короткий всплеск, скорость обучения велика или данные испорчены")


def check_nonfinite(series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Finding:
    """NaN/Inf in the logged losses, our guard's skip counter, grad norms the trainer zeroed, a falling fp16 scale."""
    errors, warnings = [], []  # a NaN that reached the logs is an error; skipped or fp16-handled steps are warnings
    for tag in (LOSS, LOG_MLE, LOSS_DUR, GRAD_NORM, EVAL_LOSS):
        steps, values = series.get(tag, EMPTY)
        bad = ~np.isfinite(values)
        if bad.any():
            errors.append(f"{tag.split('/')[-1]}: значений NaN/Inf {bad.sum()}, первое на шаге {steps[bad][0]}")
    skipped = series.get(NONFINITE_STEPS, EMPTY)[1]
    if len(skipped) and np.nanmax(skipped) > 0:
        warnings.append(f"защита пропустила шагов с NaN/Inf: {int(np.nanmax(skipped))} (они не применены)")
    norms = series.get(GRAD_NORM, EMPTY)[1]
    scale = series.get(AMP_SCALE, EMPTY)[1]
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
    recent = last_steps(steps, window_steps)
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
    phase = epoch_phase(steps, epoch_ends)
    if len(epoch_ends) < 2 or np.isfinite(phase).sum() < 12:
        return Finding(OK, "sawtooth", "пила по эпохам: данных пока мало (нужно несколько эпох)")
    period = float(np.median(np.diff(epoch_ends)))
    residual = minus_moving_mean(steps, loss, period)
    use = np.isfinite(phase) & np.isfinite(residual)
    n_points = int(use.sum())
    bins = phase_bins(n_points, len(epoch_ends) - 1)
    loss_r2 = phase_r2(phase[use], residual[use], bins)
    frame_steps, frame_values = frames
    common, in_loss, in_frames = np.intersect1d(steps[use], frame_steps, return_indices=True)
    notes, frames_ordered = [], False
    if len(common) >= 12:
        frames_r2 = phase_r2(phase[use][in_loss], frame_values[in_frames], bins)
        frames_ordered = beyond_chance(frames_r2, len(common), bins, 0.5)
        notes.append(f"loss и длина батча связаны: ρ={spearman(residual[use][in_loss], frame_values[in_frames]):.2f}")
        if frames_ordered:
            notes.append("длина батчей меняется по ходу каждой эпохи одинаково — батчи не перемешиваются")
    advice = ("Включите перемешивание с группировкой по длине (batch_group_size) и ограничьте "
              "max_audio_len/max_text_len")
    if beyond_chance(loss_r2, n_points, bins, SAWTOOTH_MIN_R2):
        rho_phase = spearman(phase[use], residual[use])
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
    eval_trend = trend(eval_steps[recent], eval_loss[recent], min_points=3)
    if eval_trend is None or eval_trend.direction != "rising":
        return Finding(OK, "overfit", f"eval loss не растёт; {best_text}")
    since = eval_steps[recent][0]
    train_trend = trend(train_steps[train_steps >= since], train_loss[train_steps >= since])
    rise = f"eval loss растёт с шага {since}: {eval_trend.start:.3f} → {eval_trend.end:.3f}"
    if train_trend is not None and train_trend.direction == "falling":
        return Finding(WARN, "overfit", f"переобучение: {rise}, а train loss падает. Берите {best_text}; "
                                        "дальше помогут больше данных, а не больше шагов")
    return Finding(WARN, "overfit", f"{rise}, train loss при этом не падает; {best_text}")
