"""Checks of a GAN vocoder run (train_vocoder.py: Coqui's GAN with two optimizers): the mel loss, the generator and
discriminator balance, NaN/Inf."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rutts.train.health.findings import ERROR, OK, WARN, Finding
from rutts.train.health.scalars import EMPTY, NONFINITE_STEPS, Series, as_arrays
from rutts.train.health.stats import last_steps, trend_finding

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
    series = {tag: as_arrays(points) for tag, points in scalars.items()}

    def get(tag):
        return series.get(tag, EMPTY)

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
    return trend_finding(steps, loss, window_steps, "mel_loss", "mel loss генератора",
                         "Если это не всплеск после включения дискриминатора, уменьшите lr_gen")


def check_eval_mel_loss(steps: np.ndarray, loss: np.ndarray) -> Finding:
    return check_eval_loss(steps, loss, "mel loss", "eval_mel_loss")


def check_eval_loss(steps: np.ndarray, loss: np.ndarray, what: str, code: str = "eval_loss") -> Finding:
    """The held-out loss best_model.pth is chosen by: warn when the last three evaluations are all worse."""
    ok = np.isfinite(loss)
    steps, loss = steps[ok], loss[ok]
    if not len(loss):
        return Finding(OK, code, f"{what} на валидации: оценок пока нет")
    best = int(np.argmin(loss))
    text = f"{what} на валидации: {loss[0]:.3f} → {loss[-1]:.3f}, лучший {loss[best]:.3f} на шаге {steps[best]}"
    if len(loss) >= 4 and best < len(loss) - 3 and loss[-1] > 1.1 * loss[best]:
        return Finding(WARN, code, f"{text}: три последние оценки хуже лучшей; best_model.pth — лучший по этой "
                                   "оценке")
    return Finding(OK, code, text)


def check_gan_balance(real: tuple[np.ndarray, np.ndarray], fake: tuple[np.ndarray, np.ndarray],
                      adversarial: tuple[np.ndarray, np.ndarray], window_steps: int) -> Finding:
    """A collapsed discriminator: one that wins outright (the generator learns nothing from it) or one that answers
    the same to real and generated audio (it teaches nothing)."""
    (steps, real_loss), (_, fake_loss) = real, fake
    if len(real_loss) < 5 or len(fake_loss) != len(real_loss):
        return Finding(OK, "gan_balance", "дискриминатор ещё не учится (steps_to_start_discriminator) или данных "
                                          "мало: учится только mel loss генератора")
    recent = last_steps(steps, window_steps)
    total = real_loss[recent] + fake_loss[recent]
    level, spread = float(np.median(total)), float(np.std(total))
    adv = adversarial[1][last_steps(adversarial[0], window_steps)] if len(adversarial[1]) else np.array([np.nan])
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
        steps, values = series.get(tag, EMPTY)
        if (~np.isfinite(values)).any():
            bad.append(f"{tag.split('/')[-1]}: значений NaN/Inf {(~np.isfinite(values)).sum()}, первое на шаге "
                       f"{steps[~np.isfinite(values)][0]}")
    skipped = max((np.nanmax(series[tag][1]) for tag in VOCODER_NONFINITE if len(series.get(tag, EMPTY)[1])),
                  default=0)
    if bad:
        return Finding(ERROR, "nonfinite", "; ".join(bad) + ". Уменьшите lr_gen/lr_disc")
    if skipped > 0:
        return Finding(WARN, "nonfinite", f"защита пропустила шагов с NaN/Inf: {int(skipped)} (они не применены)")
    return Finding(OK, "nonfinite", "NaN/Inf нет")
