"""`GuardedTrainer`: Coqui's Trainer with guards, for GlowTTS and for vocoders alike. What it adds to the stock one:
- a step whose loss or gradients are not finite is skipped, counted, and after several fp16 is switched off
  or the learning rate halved (nonfinite.py);
- a checkpoint with non-finite weights is never written; best_model.pth is replaced atomically;
- `max_steps` / `max_minutes` / early stopping (`early_stop` evaluations without a better eval loss) end the run
  with an evaluation, a best-model update and a checkpoint (stopping.py);
- Ctrl-C and SIGTERM (the stock trainer saves on SIGINT only) save a checkpoint and run the keyboard-interrupt
  callbacks before leaving; a run killed while writing a checkpoint continues from the last one that loads;
- a crash shows its own traceback and never deletes the run folder (the stock trainer tries to, which on
  Windows fails with WinError 32 and hides the real error); DDP processes are torn down either way;
- the health checks of `rutts.train.health` run on the logged values every `health_every` steps, at a bounded cost;
- a continued run compares its evaluations with the eval loss the run's best_model.pth was chosen by (the stock
  trainer takes the last checkpoint's, which a mid-epoch save leaves empty, and then crowns by train loss), and
  with run_eval a best model is never chosen by train loss;
- the corpus's front-end record (rutts.run) is copied into the run folder.
"""
from __future__ import annotations

import logging
import math
import signal
import time

import torch
from trainer import Trainer

from rutts.run import BEST, RunFolder, staged_best_model, update_run_config
from rutts.train.health import TrainingHistory
from rutts.train.nonfinite import NonFiniteGuard, params_finite
from rutts.train.stopping import Limits, StoppingRules, StopTraining

log = logging.getLogger(__name__)


class GuardedTrainer(NonFiniteGuard, StoppingRules, Trainer):
    """Coqui's Trainer with the guards listed at the top of this module. Nothing here is GlowTTS-only: a model with
    several optimizers (a GAN vocoder) gets the same guard."""

    def __init__(self, *args, limits: Limits | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.args.continue_path and not self.use_cuda and self.config.mixed_precision:
            # A GPU run continued on the CPU: Trainer reloads its config.json (fp16 on),
            # and on the CPU that would mean bfloat16 autocast: slower steps and other numbers.
            log.info("продолжение без GPU: mixed_precision выключен")
            self.config.mixed_precision = False
            if self._is_main_process:  # the run's config.json says what it trains with now
                update_run_config(self.output_path, mixed_precision=False)
        self.limits = limits or Limits()
        self.history = TrainingHistory()
        self.stop_reason = ""
        self.elapsed_seconds = 0.0
        self._started = time.monotonic()
        # The stock loop calls this hook right before clipping (fp32 path); it is where bad gradients are caught.
        self.callbacks.before_gradient_clipping = self._drop_nonfinite_gradients

    @property
    def _is_main_process(self) -> bool:
        return self.args.rank in (None, 0)

    # --- checkpoints are only written with finite weights; best_model.pth is replaced atomically -------------
    def save_checkpoint(self):
        if params_finite(self.model):
            super().save_checkpoint()
        else:
            log.error("веса содержат NaN/Inf: чекпойнт НЕ записан (шаг %d)", self.total_steps_done)

    def _restore_best_loss(self):
        """On --continue-path: the best eval loss is the one best_model.pth was chosen by (else early_stop.json's)."""
        super()._restore_best_loss()
        if not (self.continue_run and self.config.run_eval):
            return
        run = RunFolder(self.output_path)
        best = run.best_eval_loss()
        if best is None:
            recorded = run.early_stop()
            best = recorded[0] if recorded else None
        if best is None and (self.output_path / BEST).is_file():
            log.warning("продолжение: у best_model.pth не записан eval loss, его заменит первая оценка")
        self.best_loss = {"train_loss": math.inf, "eval_loss": math.inf if best is None else best}
        if best is not None:
            log.info("продолжение: лучшая модель прогона — eval loss %.4f", best)

    def save_best_model(self):
        if not self._is_main_process:
            return
        if self.config.run_eval and self._pick_target_avg_loss(self.keep_avg_eval) is None:
            return  # no evaluation behind it: a best model is chosen by eval loss only
        if not params_finite(self.model):
            log.error("веса содержат NaN/Inf: best_model НЕ обновлён (шаг %d)", self.total_steps_done)
            return
        keep_older = self.config.save_all_best and self.total_steps_done >= self.config.save_best_after
        with staged_best_model(self.output_path, keep_older) as staging:
            run_dir, self.output_path = self.output_path, staging  # the stock code writes into output_path
            try:
                super().save_best_model()
            finally:
                self.output_path = run_dir


    def continue_with_lr(self, lr: float) -> None:
        """A new learning rate for a continued run (its optimizer and scheduler come back from the checkpoint with
        the old one); the run's config.json keeps it for the next --continue-path."""
        for optimizer, scheduler in zip(self.optimizer, self.scheduler):
            bases = scheduler.base_lrs if scheduler is not None else [None] * len(optimizer.param_groups)
            for group, base in zip(optimizer.param_groups, bases):
                group["lr"] = group["lr"] * lr / base if base else lr  # where the schedule stands, at the new scale
                if "initial_lr" in group:
                    group["initial_lr"] = lr
            if scheduler is not None:
                scheduler.base_lrs = [lr] * len(scheduler.base_lrs)
        self.config.lr = lr
        if self._is_main_process:
            update_run_config(self.output_path, lr=lr)

    # --- how the run ends ---------------------------------------------------------------------------
    def _on_sigterm(self, signum, frame):
        # Raised where the main thread happens to be; if that is a __del__ (a data loader's iterator, say),
        # Python prints "Exception ignored" and goes on, so the next step raises it again.
        self._terminated = True
        raise KeyboardInterrupt

    def fit(self):
        """The stock fit() minus deleting the run folder: the real error is logged and re-raised, Ctrl-C/SIGTERM
        save a checkpoint and run the keyboard-interrupt callbacks, DDP processes are torn down."""
        previous = signal.signal(signal.SIGTERM, self._on_sigterm)
        self._started = time.monotonic()
        try:
            self._fit()
            self.stop_reason = "все эпохи пройдены"
        except StopTraining as reason:
            self.stop_reason = str(reason)
            self._stopping = True
            if self.config.run_eval and not reason.evaluated:
                self.eval_epoch()
            self.save_best_model()
            self.save_checkpoint()
        except KeyboardInterrupt:
            self.stop_reason = "прервано (Ctrl-C или SIGTERM)"
            if self.config.save_on_interrupt:
                log.warning("обучение прервано: сохраняю чекпойнт (шаг %d)...", self.total_steps_done)
                self.save_checkpoint()
                self.update_training_dashboard_logger()
            self.callbacks.on_keyboard_interrupt(self)
            raise
        except BaseException:
            # Log the real error first; the run folder (logs, checkpoints) is kept for diagnosis and resuming.
            log.exception("обучение упало на шаге %d; папка прогона сохранена: %s", self.total_steps_done,
                          self.output_path)
            raise
        finally:
            self.elapsed_seconds = time.monotonic() - self._started
            signal.signal(signal.SIGTERM, previous)
            if self._is_main_process:
                self.dashboard_logger.finish()
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()


def gpu_peak_memory() -> str | None:
    """What the run took of the GPU at most (the number to compare with a card's memory)."""
    if not torch.cuda.is_available():
        return None
    return (f"{torch.cuda.max_memory_allocated() / 2**30:.2f} ГБ под тензоры, "
            f"{torch.cuda.max_memory_reserved() / 2**30:.2f} ГБ вместе с кэшем PyTorch")


def summary(trainer: GuardedTrainer) -> str:
    """How a finished run went, for the user: why it stopped, steps, time, skipped NaN/Inf steps, GPU memory."""
    lines = [f"Готово ({trainer.stop_reason}), шагов: {trainer.total_steps_done} за "
             f"{trainer.elapsed_seconds / 60:.1f} мин, пропущено NaN/Inf: {trainer.nonfinite_total}"]
    if trainer.fp16_overflows:
        lines.append(f"fp16: шагов, пропущенных при подборе масштаба градиентов: {trainer.fp16_overflows} "
                     "(это нормально)")
    peak = gpu_peak_memory()
    if peak:
        lines.append(f"Пик памяти GPU: {peak}")
    return "\n".join(lines)
