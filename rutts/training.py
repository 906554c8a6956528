"""Training on top of Coqui's Trainer: config + presets, data checks, and a Trainer that guards the run.

What `GuardedTrainer` adds to the stock trainer:
- a step whose loss or gradients are not finite is skipped (not applied), counted and logged as
  `TrainIterStats/nonfinite_steps`; after several in a row fp16 is switched off (or, in fp32, the learning
  rate is halved), the user is told, and the run's config.json keeps it for `--continue-path`;
- a checkpoint with non-finite weights is never written; best_model.pth is replaced atomically;
- `max_steps` / `max_minutes` / early stopping (`early_stop` evaluations without a better eval loss) end the run
  with an evaluation, a best-model update and a checkpoint;
- Ctrl-C and SIGTERM (the stock trainer saves on SIGINT only) save a checkpoint and run the keyboard-interrupt
  callbacks before leaving; a run killed while writing a checkpoint continues from the last one that loads;
- a crash shows its own traceback and never deletes the run folder (the stock trainer tries to, which on
  Windows fails with WinError 32 and hides the real error); DDP processes are torn down either way;
- the health checks of `rutts.health` run on the logged values every `health_every` steps, at a bounded cost;
- the corpus's front-end record (rutts.run_frontend) is copied into the run folder.
"""
from __future__ import annotations

import json
import logging
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from trainer import Trainer, TrainerArgs
from trainer.generic_utils import KeepAverage

from rutts.audio import atomic_output
from rutts.checkpoints import best_checkpoint, check_restorable, numbered, restore_source, staged_best_model
from rutts.health import TrainingHistory
from rutts.run_frontend import pass_record_to_run, read_record
from rutts.text import TextError

log = logging.getLogger(__name__)

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
NONFINITE_STREAK_LIMIT = 3
EARLY_STOP_STATE = "early_stop.json"  # in the run folder: the early-stop count survives --continue-path
LR_FIELDS = ("lr", "lr_gen", "lr_disc")  # config fields the optimizers take their lr from (GlowTTS, a GAN's G and D)
# What the in-training health checks look at.
HEALTH_KEYS = ("loss", "log_mle", "loss_dur", "current_lr", "grad_norm", "amp_scaler", "nonfinite_steps",
               "batch_frames")


class TrainingSetupError(RuntimeError):
    """Something the user has to fix before training can start."""


class _StopTraining(Exception):
    """Raised inside the loop when a step or time limit is reached, or by early stopping (`evaluated`: right after
    an evaluation, so none is needed before saving)."""

    def __init__(self, reason: str, evaluated: bool = False):
        super().__init__(reason)
        self.evaluated = evaluated


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.json"))


def deep_merge(base: dict, update: dict, where: str) -> dict:
    for key, value in update.items():
        if isinstance(base, list) and key.isdigit() and int(key) < len(base):
            key = int(key)
        elif key not in base:
            raise TrainingSetupError(f"Неизвестные параметры: {where}: поля «{key}» нет в конфиге")
        if isinstance(value, dict) and isinstance(base[key], dict | list) and key != "encoder_params":
            deep_merge(base[key], value, f"{where}.{key}")
        else:
            base[key] = value
    return base


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainingSetupError(f"Файл не найден: {path}") from None
    except json.JSONDecodeError as error:
        raise TrainingSetupError(f"{path}: ошибка JSON в строке {error.lineno}: {error.msg}") from None


def load_config(config_path: str | Path, preset: str | None = None, overrides: list[str] | None = None):
    """config.json (Coqui's GlowTTSConfig format) + an optional preset + `--coqpit.field=value` overrides."""
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig

    config_path = Path(config_path)
    data = read_json(config_path)
    if data.get("model") != "glow_tts":
        raise TrainingSetupError(f"{config_path}: это не конфиг GlowTTS (model = {data.get('model')!r})")
    config = GlowTTSConfig()
    try:
        config.from_dict(data)
    except (TypeError, ValueError, KeyError) as error:
        raise TrainingSetupError(f"{config_path}: неверное значение в конфиге: {error}") from None
    if preset:
        preset_path = PRESETS_DIR / f"{preset}.json" if not preset.endswith(".json") else Path(preset)
        if not preset_path.exists():
            raise TrainingSetupError(f"Нет пресета «{preset}». Есть: {', '.join(available_presets())}")
        merged = deep_merge(config.to_dict(), read_json(preset_path), preset_path.name)
        config.from_dict(merged)
    if overrides:
        config.from_dict(deep_merge(config.to_dict(), parse_overrides(overrides), "--coqpit"))
    return config


def parse_overrides(arguments: list[str]) -> dict:
    """`--coqpit.a.b=value` (or `--coqpit.a.b value`) → {"a": {"b": value}}; values are JSON where they parse."""
    result: dict = {}
    tokens = list(arguments)
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("--coqpit."):
            raise TrainingSetupError(f"Неизвестные параметры: {token}")
        key, sep, raw = token[len("--coqpit."):].partition("=")
        if not sep:
            if not tokens:
                raise TrainingSetupError(f"Нет значения для {token}")
            raw = tokens.pop(0)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        *parents, leaf = key.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return result


def load_samples(config) -> tuple[list[dict], list[dict]]:
    """Train/eval samples from the dataset entry; every wav they name must exist."""
    from TTS.tts.datasets import load_tts_samples

    if not config.datasets:
        raise TrainingSetupError("В конфиге нет ни одного датасета (поле datasets)")
    for dataset in config.datasets:
        root = Path(dataset.path)
        if not root.is_dir():
            raise TrainingSetupError(f"Папка корпуса не найдена: {root}")
        for meta in (dataset.meta_file_train, dataset.meta_file_val):
            if meta and not (root / meta).is_file():
                raise TrainingSetupError(
                    f"Нет {root / meta}: сначала запустите python check_sample_rate.py {root} — он пишет разбиение"
                )
    try:
        train, evaluation = load_tts_samples(config, eval_split=True, eval_split_size=config.eval_split_size)
    except (ValueError, IndexError, UnicodeDecodeError) as error:
        raise TrainingSetupError(f"Не удалось прочитать метаданные корпуса: {error}") from None
    missing = [s["audio_file"] for s in train + evaluation if not Path(s["audio_file"]).is_file()]
    if missing:
        more = f" и ещё {len(missing) - 1}" if len(missing) > 1 else ""
        raise TrainingSetupError(f"Метаданные ссылаются на отсутствующий файл: {missing[0]}{more}")
    if not train:
        raise TrainingSetupError("Обучающая выборка пуста")
    return train, evaluation


def _params_finite(model: torch.nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def _grads_finite(model: torch.nn.Module) -> bool:
    return all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def _loss_finite(loss_dict: dict) -> bool:
    """The loss that is back-propagated ("loss", what the stock optimize() uses); without one, every tensor."""
    values = [loss_dict["loss"]] if "loss" in loss_dict else list(loss_dict.values())
    return all(torch.isfinite(v).all() for v in values if isinstance(v, torch.Tensor))


def _update_run_config(run_dir: Path, **fields) -> None:
    """Change fields of the run's config.json, which the trainer re-reads when the run is continued."""
    path = Path(run_dir) / "config.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.update(fields)
    with atomic_output(path) as temp:
        temp.write_text(json.dumps(data, ensure_ascii=False, indent=4), encoding="utf-8")


@dataclass
class Limits:
    max_steps: int | None = None
    max_minutes: float | None = None
    health_every: int = 200
    early_stop: int | None = None  # stop after this many evaluations without a better eval loss


class GuardedTrainer(Trainer):
    """Coqui's Trainer with the guards listed at the top of this module. Nothing here is GlowTTS-only: a model with
    several optimizers (a GAN vocoder) gets the same guard."""

    def __init__(self, *args, limits: Limits | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.args.continue_path and not self.use_cuda and self.config.mixed_precision:
            # A GPU run continued on the CPU: Trainer reloads its config.json (fp16 on),
            # and on the CPU that would mean bfloat16 autocast: slower steps and other numbers.
            log.info("продолжение без GPU: mixed_precision выключен")
            self.config.mixed_precision = False
        self.limits = limits or Limits()
        self.nonfinite_total = 0
        self.nonfinite_streak = 0
        self.fp16_overflows = 0  # steps GradScaler skipped while lowering its scale (normal, not NaN)
        self.history = TrainingHistory()
        self.stop_reason = ""
        self.elapsed_seconds = 0.0
        self._started = time.monotonic()
        self._stopping = False
        self._terminated = False  # SIGTERM came
        self._best_eval: float | None = None
        self._evals_without_gain = 0
        # The stock loop calls this hook right before clipping (fp32 path); it is where bad gradients are caught.
        self.callbacks.before_gradient_clipping = self._drop_nonfinite_gradients

    @property
    def _is_main_process(self) -> bool:
        return self.args.rank in (None, 0)

    # --- the NaN/Inf guard -------------------------------------------------------------------------
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
            _update_run_config(self.output_path, mixed_precision=self.config.mixed_precision, **lrs)

    # --- checkpoints are only written with finite weights; best_model.pth is replaced atomically -------------
    def save_checkpoint(self):
        if _params_finite(self.model):
            super().save_checkpoint()
        else:
            log.error("веса содержат NaN/Inf: чекпойнт НЕ записан (шаг %d)", self.total_steps_done)

    def save_best_model(self):
        if not self._is_main_process:
            return
        if not _params_finite(self.model):
            log.error("веса содержат NaN/Inf: best_model НЕ обновлён (шаг %d)", self.total_steps_done)
            return
        keep_older = self.config.save_all_best and self.total_steps_done >= self.config.save_best_after
        with staged_best_model(self.output_path, keep_older) as staging:
            run_dir, self.output_path = self.output_path, staging  # the stock code writes into output_path
            try:
                super().save_best_model()
            finally:
                self.output_path = run_dir

    # --- history for the health checks, limits, early stop ---------------------------------------------
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
            raise _StopTraining(f"достигнут предел шагов ({self.limits.max_steps})")
        minutes = (time.monotonic() - self._started) / 60
        if self.limits.max_minutes is not None and minutes >= self.limits.max_minutes:
            raise _StopTraining(f"достигнут предел времени ({self.limits.max_minutes:g} мин)")
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
            raise _StopTraining(early_stop, evaluated=True)

    def _count_evaluation(self, eval_loss: float) -> str | None:
        """Evaluations since the best eval loss; the reason to stop once there are `early_stop` of them."""
        if self._best_eval is None:
            self._best_eval, self._evals_without_gain = self._early_stop_state()
        if eval_loss < self._best_eval:
            self._best_eval, self._evals_without_gain = eval_loss, 0
        else:
            self._evals_without_gain += 1
        if self._is_main_process:
            state = {"best_eval_loss": self._best_eval, "evaluations_without_gain": self._evals_without_gain}
            with atomic_output(Path(self.output_path) / EARLY_STOP_STATE) as temp:
                temp.write_text(json.dumps(state), encoding="utf-8")
        if self.limits.early_stop and self._evals_without_gain >= self.limits.early_stop:
            return (f"ранняя остановка: eval loss не улучшился за {self._evals_without_gain} оценок "
                    f"(лучший {self._best_eval:.4f})")
        return None

    def _early_stop_state(self) -> tuple[float, int]:
        """Best eval loss and evaluations since it: what a continued run had, else a fresh start."""
        if self.args.continue_path:
            try:
                state = json.loads((Path(self.output_path) / EARLY_STOP_STATE).read_text(encoding="utf-8"))
                return float(state["best_eval_loss"]), int(state["evaluations_without_gain"])
            except (OSError, ValueError, KeyError, TypeError):  # a run from before this file, or a damaged one
                pass
        restored = self.best_loss.get("eval_loss") if isinstance(self.best_loss, dict) else None
        return (restored if restored is not None else math.inf), 0

    def _health_check(self):
        for finding in self.history.check(steps_per_epoch=len(self.train_loader or []) or None):
            if finding.level != "ok":
                log.warning("проверка обучения: %s", finding.message)

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
        except _StopTraining as reason:
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


def set_aside_unreadable_checkpoints(run_dir: Path) -> None:
    """A run killed while writing a checkpoint leaves it truncated, and the trainer would resume from exactly
    that file. The newest unreadable checkpoint_N / best_model_N files are renamed to unreadable-*.bak (kept,
    out of reach of the trainer's checkpoint search and rotation), so the run continues from the newest one that
    loads."""
    from trainer.io import load_fsspec  # what the trainer itself resumes with

    for kind in ("checkpoint", "best_model"):
        for path in reversed(numbered(run_dir, kind)):
            try:
                load_fsspec(path, map_location="cpu")
                break
            except Exception as error:  # torch raises many types for a truncated file
                aside = path.with_name(f"unreadable-{path.name}.bak")
                path.replace(aside)
                log.warning("%s не читается (%s; прогон убили во время записи?): отложен как %s, продолжаю с "
                            "предыдущего", path.name, type(error).__name__, aside.name)
    if not any(run_dir.glob("*.pth")):
        raise TrainingSetupError(f"В {run_dir} не осталось читаемых чекпойнтов: продолжать не с чего")


def configure_device(config) -> str:
    """CUDA with fp16 when there is a GPU, otherwise CPU in fp32 (fp16 autocast does not help on CPU)."""
    if torch.cuda.is_available():
        return "cuda"
    if config.mixed_precision:
        config.mixed_precision = False
    return "cpu"


def _corpus_record(config) -> tuple[Path, dict | None]:
    """The training corpus (datasets[0], the one --data replaces) and its front-end record, checked before a run
    folder is created."""
    corpus = Path(config.datasets[0].path)
    try:
        return corpus, read_record(corpus)
    except TextError as error:
        raise TrainingSetupError(str(error)) from None


def build_trainer(config, *, continue_path=None, restore_path=None, output_path=None, limits=None, model=None,
                  trainer_args: dict | None = None) -> GuardedTrainer:
    """Samples, model and trainer, ready for `.fit()`. `restore_path` (a checkpoint or a run folder) starts a
    fine-tune: weights only, step 0, and no data-dependent re-initialisation of the restored flow layers."""
    from TTS.tts.models.glow_tts import GlowTTS

    if continue_path:
        run_config = Path(continue_path) / "config.json"
        if not run_config.is_file():
            raise TrainingSetupError(f"В {continue_path} нет config.json: это не папка прогона")
        if best_checkpoint(continue_path) is None:
            raise TrainingSetupError(f"В {continue_path} нет читаемых чекпойнтов: продолжать нечего")
        set_aside_unreadable_checkpoints(Path(continue_path))
        config = load_config(run_config)  # Trainer reloads it too; GuardedTrainer then turns fp16 off without a GPU
    if restore_path:
        try:
            restore_path = restore_source(restore_path)
        except (FileNotFoundError, ValueError) as error:
            raise TrainingSetupError(str(error)[:1].upper() + str(error)[1:]) from None
        if config.data_dep_init_steps:
            # GlowTTS would re-run its ActNorm initialisation on the new data and overwrite the restored layers.
            log.info("дообучение с %s: data_dep_init_steps %d → 0 (слои ActNorm остаются как в базовой модели)",
                     restore_path, config.data_dep_init_steps)
            config.data_dep_init_steps = 0
    if limits is not None and limits.early_stop and not config.run_eval:
        raise TrainingSetupError("ранней остановке (--early-stop) нужна оценка на валидации: run_eval=true")
    corpus, corpus_record = _corpus_record(config)
    train, evaluation = load_samples(config)
    if model is None:
        model = GlowTTS(config)
    if restore_path:
        try:
            check_restorable(restore_path, model)
        except ValueError as error:
            raise TrainingSetupError(str(error)) from None
    args = TrainerArgs(continue_path=str(continue_path or ""), restore_path=str(restore_path or ""),
                       **(trainer_args or {}))
    trainer = GuardedTrainer(args, config, output_path or config.output_path, model=model, train_samples=train,
                             eval_samples=evaluation, parse_command_line_args=False, limits=limits)
    if trainer._is_main_process:
        pass_record_to_run(corpus, corpus_record, trainer.output_path)
    return trainer
