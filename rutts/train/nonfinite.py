"""The NaN/Inf guard of the training loop (a mixin for Coqui's Trainer, see trainer.py).

A step whose loss or gradients are not finite is skipped (not applied), counted and logged as
`TrainIterStats/nonfinite_steps`; after several in a row fp16 is switched off (or, in fp32, the learning rate is
halved), the user is told, and the run's config.json keeps it for `--continue-path`."""
from __future__ import annotations

import logging

import torch

from rutts.run import update_run_config

log = logging.getLogger(__name__)

NONFINITE_STREAK_LIMIT = 3
LR_FIELDS = ("lr", "lr_gen", "lr_disc")  # config fields the optimizers take their lr from (GlowTTS, a GAN's G and D)


def params_finite(model: torch.nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def _grads_finite(model: torch.nn.Module) -> bool:
    return all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def _loss_finite(loss_dict: dict) -> bool:
    """The loss that is back-propagated ("loss", what the stock optimize() uses); without one, every tensor."""
    values = [loss_dict["loss"]] if "loss" in loss_dict else list(loss_dict.values())
    return all(torch.isfinite(v).all() for v in values if isinstance(v, torch.Tensor))


class NonFiniteGuard:
    """Overrides Trainer._compute_loss and _grad_clipping and hooks before_gradient_clipping."""

    nonfinite_total = 0
    nonfinite_streak = 0
    fp16_overflows = 0  # steps GradScaler skipped while lowering its scale (normal, not NaN)

    def _compute_loss(self, batch, criterion, optimizer_idx):
        outputs, loss_dict = super()._compute_loss(batch, criterion, optimizer_idx)
        if not loss_dict:  # GlowTTS's data-dependent initialisation steps return no loss, a GAN's idle D neither
            return outputs, loss_dict
        if not _loss_finite(loss_dict):
            self._count_nonfinite("loss")
            return outputs, {}  # the stock optimize() then skips backward and the optimizer step
        if optimizer_idx in (None, len(self.optimizer) - 1):  # once per step: the last optimizer always runs
            loss_dict["nonfinite_steps"] = float(self.nonfinite_total)
            if isinstance(batch, dict) and "mel_lengths" in batch:
                loss_dict["batch_frames"] = float(batch["mel_lengths"].float().mean())
        return outputs, loss_dict

    def _drop_nonfinite_gradients(self, trainer=None):
        self._get_model().before_gradient_clipping()
        if self.use_amp_scaler and self.scaler is not None:
            return  # fp16: GradScaler has just unscaled these gradients and skips the step itself if they are bad
        if _grads_finite(self.model):
            self.nonfinite_streak = 0
            return
        for param in self.model.parameters():
            param.grad = None  # optimizers skip parameters without a gradient: the step is not applied
        self._count_nonfinite("градиенты")

    def _grad_clipping(self, grad_clip, optimizer, scaler):
        # fp16 path only. Non-finite gradients here make GradScaler skip the step and halve its scale: that is
        # how it finds its scale (the first steps of an fp16 run overflow at 65536), so it is only counted.
        # Overflowing even at a scale below 1 means fp16 itself cannot hold the gradients: a real NaN/Inf step.
        scale = scaler.get_scale() if scaler is not None else 0.0
        grad_norm = super()._grad_clipping(grad_clip=grad_clip, optimizer=optimizer, scaler=scaler)
        if torch.isfinite(torch.as_tensor(grad_norm)).all():
            self.nonfinite_streak = 0
        elif scale >= 1:
            self.fp16_overflows += 1
            log.info("fp16: переполнение градиентов при масштабе %g, шаг пропущен, масштаб уменьшен", scale)
        else:
            self._count_nonfinite(f"градиенты fp16 (масштаб {scale:g})")
        return grad_norm

    def _count_nonfinite(self, what: str):
        self.nonfinite_total += 1
        self.nonfinite_streak += 1
        log.warning("шаг %d пропущен: %s не конечны (NaN/Inf), всего пропущено %d",
                    self.total_steps_done, what, self.nonfinite_total)
        self.dashboard_logger.add_scalar("TrainIterStats/nonfinite_steps", self.nonfinite_total, self.total_steps_done)
        if self.nonfinite_streak >= NONFINITE_STREAK_LIMIT:
            self.nonfinite_streak = 0
            self._back_off()

    def _back_off(self):
        """fp16 off, or in fp32 the learning rate halved; written into the run's config.json, so a continued run
        (--continue-path re-reads it) does not fall back into the same NaNs."""
        if self.config.mixed_precision:
            self.config.mixed_precision = False
            self.use_amp_scaler = False
            self.scaler = None
            log.warning("%d шага подряд с NaN/Inf: fp16 выключен, обучение продолжается в fp32", NONFINITE_STREAK_LIMIT)
        else:
            for optimizer, scheduler in zip(self.optimizer, self.scheduler):
                for group in optimizer.param_groups:
                    group["lr"] *= 0.5
                if scheduler is not None:
                    scheduler.base_lrs = [lr * 0.5 for lr in scheduler.base_lrs]
            for key in LR_FIELDS:
                if isinstance(getattr(self.config, key, None), int | float):
                    setattr(self.config, key, getattr(self.config, key) * 0.5)
            log.warning("%d шага подряд с NaN/Inf: скорость обучения снижена вдвое (lr=%g)", NONFINITE_STREAK_LIMIT,
                        self.optimizer[0].param_groups[0]["lr"])
        if self._is_main_process:
            lrs = {key: getattr(self.config, key) for key in LR_FIELDS if hasattr(self.config, key)}
            update_run_config(self.output_path, mixed_precision=self.config.mixed_precision, **lrs)
