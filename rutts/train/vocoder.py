"""Training a vocoder for a GlowTTS voice, on the same corpus, through the guarded trainer: Coqui's GAN (HiFi-GAN),
or a frame-level vocoder (frame_vocoder.py) when the config's model is "frame_vocoder".

- Config: vocoder_config.py (preset + overrides, audio from the TTS config).
- Data: vocoder_data.py (the corpus's split; GTA: the acoustic model's own mels, paired with the wavs by id through
  `feature_path`). Clips shorter than `seq_len` are zero-padded by Coqui's GANDataset (with silence frames on the
  mel side), so nothing is dropped.
- Fine-tuning: the weights of any Coqui vocoder checkpoint; the generator's architecture comes from the
  checkpoint's config so the weights fit.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from trainer import TrainerArgs

from rutts.run import RunError, RunFolder, restore_source, set_aside_unreadable_checkpoints
from rutts.run.checkpoints import load_state
from rutts.speech import mel_differences
from rutts.speech.vocoders import is_model_name, vocoder_files
from rutts.train.config import TrainingSetupError
from rutts.train.glowtts import configure_device
from rutts.train.frame_vocoder import FrameVocoderModel
from rutts.train.health import check_loss_trend, check_vocoder_history
from rutts.train.health.scalars import as_arrays
from rutts.train.stopping import Limits
from rutts.train.trainer import GuardedTrainer
from rutts.train.vocoder_config import design_name, is_frame_vocoder, read_run_config, restore_architecture
from rutts.train.vocoder_data import vocoder_samples

log = logging.getLogger(__name__)

# What the in-training health checks look at: the generator's and discriminator's losses, the mel loss.
VOCODER_HEALTH_KEYS = ("loss_0", "loss_1", "G_l1_spec_loss", "G_adv_loss", "G_mse_fake_loss", "D_mse_gan_loss",
                       "D_mse_gan_real_loss", "D_mse_gan_fake_loss", "nonfinite_steps", "nonfinite_steps-1")
FRAME_HEALTH_KEYS = ("loss",)


def load_pretrained(model, checkpoint: Path) -> str:
    """Weights of a Coqui vocoder checkpoint into `model` (step 0, fresh optimizers, as the trainer's restore_path).
    The generator must fit exactly; a discriminator that is missing or does not fit stays freshly initialized.
    Returns what was loaded, for the log."""
    try:
        state = load_state(checkpoint)
    except RunError as error:
        raise TrainingSetupError(str(error)) from None
    weights = state["model"]
    if any(key.startswith(("encoder.", "decoder.flows")) for key in weights):
        raise TrainingSetupError(f"{checkpoint} — чекпоинт GlowTTS, а не вокодера")
    if isinstance(model, FrameVocoderModel):
        try:
            model.load_state_dict(weights)
        except RuntimeError as error:
            raise TrainingSetupError(f"вокодер из {checkpoint} не подходит к этому (другая схема или размеры?): "
                                     f"{str(error).splitlines()[0][:200]}") from None
        return "сеть и её скользящее среднее"
    if any(key.startswith("model_g.") for key in weights):  # GAN(config).state_dict(): both networks
        generator = {k.removeprefix("model_g."): v for k, v in weights.items() if k.startswith("model_g.")}
        discriminator = {k.removeprefix("model_d."): v for k, v in weights.items() if k.startswith("model_d.")}
    else:  # older Coqui GAN checkpoints: the generator in "model", the discriminator in "model_disc"
        generator, discriminator = weights, state.get("model_disc") or {}
    try:
        model.model_g.load_state_dict(generator)
    except RuntimeError as error:
        raise TrainingSetupError(f"генератор из {checkpoint} не подходит к этому (размеры сети другие?): "
                                 f"{str(error).splitlines()[0][:200]}") from None
    loaded = "генератор"
    try:
        if discriminator:
            model.model_d.load_state_dict(discriminator)
            loaded += " и дискриминатор"
    except RuntimeError:
        log.warning("дискриминатор из %s не подходит: он учится с нуля", checkpoint)
    return loaded


# ---------------------------------------------------------------- the trainer


def gan_model(config):
    """Coqui's GAN, except that an evaluation before the discriminator starts training (steps_to_start_discriminator)
    leaves it out. Coqui's eval_step always runs it: with HiFi-GAN's 70.7 M-parameter discriminator on full clips,
    evaluating the demo corpus's 13 held-out clips on CPU took ~90 s, against ~50 s for the whole epoch of training
    between two evaluations. The mel loss, which picks best_model.pth, needs only the generator."""
    from TTS.vocoder.models.gan import GAN

    class VocoderGAN(GAN):
        def eval_step(self, batch, criterion, optimizer_idx=None):
            if self.train_disc:
                return super().eval_step(batch, criterion, optimizer_idx)
            with torch.inference_mode():
                if optimizer_idx == 0:  # the generator pass, kept for the generator's loss; no discriminator loss
                    self.train_step(batch, criterion, 0)
                    return {}, {"loss": torch.zeros(())}
                return self.train_step(batch, criterion, optimizer_idx)

    return VocoderGAN(config)


class VocoderTrainer(GuardedTrainer):
    """GuardedTrainer for a vocoder: its in-training health checks read the generator's and discriminator's losses
    (rutts.train.health vocoder checks), or a frame vocoder's total loss."""

    def train_step(self, batch, batch_n_steps, step, loader_start_time):
        outputs, loss_dict = super().train_step(batch, batch_n_steps, step, loader_start_time)
        keys = FRAME_HEALTH_KEYS if is_frame_vocoder(self.config) else VOCODER_HEALTH_KEYS
        for key, value in (loss_dict or {}).items():
            if key in keys:
                self.history.add(key, self.total_steps_done - 1, float(value))
        return outputs, loss_dict

    def _pick_target_avg_loss(self, keep_avg_target):
        # An evaluation interrupted by Ctrl-C/SIGTERM has averaged the discriminator's losses but not yet the mel
        # loss: the checkpoint saved then records no eval loss (the stock trainer would raise instead of saving).
        values = keep_avg_target.avg_values if keep_avg_target is not None else {}
        if values and f"avg_{self.config.target_loss}" not in values:
            return None
        return super()._pick_target_avg_loss(keep_avg_target)

    def _health_check(self):
        series = self.history.series()
        if is_frame_vocoder(self.config):  # NaN/Inf steps are the guard's own warnings
            findings = [check_loss_trend(*as_arrays(series["loss"]), window_steps=2000)] if "loss" in series else []
        else:
            findings = check_vocoder_history(series)
        for finding in findings:
            if finding.level != "ok":
                log.warning("проверка обучения: %s", finding.message)


def published_vocoder(restore_path: str | Path) -> Path:
    """A Coqui model name ("vocoder_models/en/ljspeech/hifigan_v2") → its checkpoint, downloaded once into Coqui's
    model folder (~/.local/share/tts/, or $TTS_HOME/tts/); anything else is taken as a path."""
    if not is_model_name(restore_path):
        return Path(restore_path)
    try:
        return vocoder_files(str(restore_path))[0]
    except RunError as error:
        raise TrainingSetupError(f"--restore-path: {error}") from None


def build_vocoder_trainer(config, *, continue_path=None, restore_path=None, tts_config=None, output_path=None,
                          limits: Limits | None = None) -> VocoderTrainer:
    """Data, model and trainer, ready for `.fit()`. `tts_config` with `continue_path`: refused if its audio differs
    from the run's."""
    if continue_path:
        config = read_run_config(continue_path)
        try:
            RunFolder(continue_path).checkpoint()
        except RunError:
            raise TrainingSetupError(f"В {continue_path} нет читаемых чекпойнтов: продолжать нечего") from None
        if tts_config is not None:
            differ = mel_differences(tts_config.audio, config.audio)
            if differ:
                raise TrainingSetupError(f"прогон {continue_path} обучен с другими настройками звука, чем в конфиге "
                                         f"TTS (TTS ≠ прогон): {', '.join(differ)}")
        try:
            set_aside_unreadable_checkpoints(Path(continue_path))
        except RunError as error:
            raise TrainingSetupError(str(error)) from None
    configure_device(config)
    if restore_path:
        try:
            restore_path = restore_source(published_vocoder(restore_path))
        except (FileNotFoundError, ValueError) as error:
            raise TrainingSetupError(str(error)) from None
        restore_architecture(config, restore_path)
    train, evaluation = vocoder_samples(config)
    try:
        model = FrameVocoderModel(config) if is_frame_vocoder(config) else gan_model(config)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RuntimeError) as error:
        params = "model_params" if is_frame_vocoder(config) else "generator_model_params / discriminator_model_params"
        raise TrainingSetupError(f"вокодер {design_name(config)} не строится с такими размерами сети ({params}): "
                                 f"{type(error).__name__}: {error}") from None
    if restore_path:
        log.info("дообучение: %s из %s", load_pretrained(model, restore_path), restore_path)
    args = TrainerArgs(continue_path=str(continue_path or ""))
    return VocoderTrainer(args, config, output_path or config.output_path, model=model, train_samples=train,
                          eval_samples=evaluation, parse_command_line_args=False, limits=limits)
