"""When a run stops, and what the loop watches meanwhile (a mixin for Coqui's Trainer, see trainer.py): the step
and time limits, early stopping on the eval loss (its count kept in the run folder, so it survives
--continue-path), the history of logged values for the in-training health checks."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from trainer.generic_utils import KeepAverage

from rutts.run import RunFolder
from rutts.run.state import write_early_stop
from rutts.train.health import check_history

log = logging.getLogger(__name__)

# What the in-training health checks look at.
HEALTH_KEYS = ("loss", "log_mle", "loss_dur", "current_lr", "grad_norm", "amp_scaler", "nonfinite_steps",
               "batch_frames")


class StopTraining(Exception):
    """Raised inside the loop when a step or time limit is reached, or by early stopping (`evaluated`: right after
    an evaluation, so none is needed before saving)."""

    def __init__(self, reason: str, evaluated: bool = False):
        super().__init__(reason)
        self.evaluated = evaluated



@dataclass
class Limits:
    max_steps: int | None = None
    max_minutes: float | None = None
    health_every: int = 200
    early_stop: int | None = None  # stop after this many evaluations without a better eval loss



class StoppingRules:
    """Overrides Trainer.train_step and eval_epoch."""

    _best_eval: float | None = None
    _evals_without_gain = 0
    _stopping = False
    _terminated = False  # SIGTERM came

    def train_step(self, batch, batch_n_steps, step, loader_start_time):
        outputs, loss_dict = super().train_step(batch, batch_n_steps, step, loader_start_time)
        step_done = self.total_steps_done - 1  # the stock train_step has counted this step already
        for key, value in (loss_dict or {}).items():
            if key in HEALTH_KEYS:
                self.history.add(key, step_done, float(value))  # grad_norm arrives as a 0-d tensor
        if self.limits.health_every and self.total_steps_done % self.limits.health_every == 0:
            self._health_check()
        if self._terminated:
            raise KeyboardInterrupt
        if self.limits.max_steps is not None and self.total_steps_done >= self.limits.max_steps:
            raise StopTraining(f"достигнут предел шагов ({self.limits.max_steps})")
        minutes = (time.monotonic() - self._started) / 60
        if self.limits.max_minutes is not None and minutes >= self.limits.max_minutes:
            raise StopTraining(f"достигнут предел времени ({self.limits.max_minutes:g} мин)")
        return outputs, loss_dict

    def eval_epoch(self):
        if self.config.run_eval:
            self.keep_avg_eval = KeepAverage()  # each evaluation on its own (run_eval_steps evaluates mid-epoch)
        super().eval_epoch()
        eval_loss = self._pick_target_avg_loss(self.keep_avg_eval)
        if eval_loss is None:
            return
        self.history.add("EvalStats/avg_loss", self.total_steps_done, float(eval_loss))
        early_stop = self._count_evaluation(float(eval_loss))
        self.save_best_model()  # best by eval right away, also after an evaluation in the middle of an epoch
        if early_stop and not self._stopping:
            raise StopTraining(early_stop, evaluated=True)

    def _count_evaluation(self, eval_loss: float) -> str | None:
        """Evaluations since the best eval loss; the reason to stop once there are `early_stop` of them."""
        if self._best_eval is None:
            self._best_eval, self._evals_without_gain = self._early_stop_state()
        if eval_loss < self._best_eval:
            self._best_eval, self._evals_without_gain = eval_loss, 0
        else:
            self._evals_without_gain += 1
        if self._is_main_process:
            write_early_stop(self.output_path, self._best_eval, self._evals_without_gain)
        if self.limits.early_stop and self._evals_without_gain >= self.limits.early_stop:
            return (f"ранняя остановка: eval loss не улучшился за {self._evals_without_gain} оценок "
                    f"(лучший {self._best_eval:.4f})")
        return None

    def _early_stop_state(self) -> tuple[float, int]:
        """Best eval loss and evaluations since it: what a continued run had, else a fresh start."""
        recorded = RunFolder(self.output_path).early_stop() if self.args.continue_path else None
        if recorded is not None:  # None: a run from before this record, or a damaged one
            return recorded
        restored = self.best_loss.get("eval_loss") if isinstance(self.best_loss, dict) else None
        return (restored if restored is not None else math.inf), 0

    def _health_check(self):
        steps_per_epoch = len(self.train_loader or []) or None
        for finding in check_history(self.history.series(), steps_per_epoch=steps_per_epoch):
            if finding.level != "ok":
                log.warning("проверка обучения: %s", finding.message)
