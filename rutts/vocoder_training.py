"""Training a Coqui GAN vocoder (HiFi-GAN) on a corpus in our layout, through the same guarded trainer as GlowTTS.

- Config: `HifiganConfig` + `presets/vocoder/<preset>.json` + `--coqpit.field=value`. The audio section is copied
  from the TTS config (one source of truth): a preset or override that touches `audio`, a run continued with another
  TTS config, or a checkpoint to fine-tune from made for other mel settings is refused, naming the fields.
- Data: `<corpus>/RUSLAN/<id>.wav` of metadata_train.csv to train on, of metadata_val.csv to evaluate (the
  held-out audio the benchmark scores is never trained on). Clips shorter than `seq_len` are zero-padded by Coqui's
  GANDataset (with silence frames on the mel side), so nothing is dropped.
- GTA: the acoustic model's own mels for the same audio (`extract_gta_mels`: GlowTTS `inference_with_MAS`, as
  Coqui's extract_tts_spectrograms does), paired with the wavs by id through `feature_path`.
- Fine-tuning: the weights of any Coqui vocoder checkpoint; the generator's architecture comes from the
  checkpoint's config so the weights fit.
"""

import json
import logging
from pathlib import Path

import numpy as np
import torch

from rutts.training import (
    PRESETS_DIR,
    GuardedTrainer,
    Limits,
    TrainingSetupError,
    deep_merge,
    parse_overrides,
    read_json,
    configure_device,
    set_aside_unreadable_checkpoints,
)
from rutts.vocoder import (
    VoiceError,
    is_model_name,
    mel_differences,
    read_vocoder_config,
    vocoder_config_class,
    vocoder_files,
)

log = logging.getLogger(__name__)

VOCODER_PRESETS_DIR = PRESETS_DIR / "vocoder"
TARGET_LOSS = "G_l1_spec_loss"  # best_model.pth = lowest eval mel loss (Coqui's default, loss_0, is the D loss)
GTA_SOURCE = "source.json"  # in a GTA mel folder: which TTS checkpoint made the mels
ARCHITECTURE_KEYS = ("generator_model", "generator_model_params", "discriminator_model",
                     "discriminator_model_params")
# What the in-training health checks look at: the generator's and discriminator's losses, the mel loss.
VOCODER_HEALTH_KEYS = ("loss_0", "loss_1", "G_l1_spec_loss", "G_adv_loss", "G_mse_fake_loss", "D_mse_gan_loss",
                       "D_mse_gan_real_loss", "D_mse_gan_fake_loss", "nonfinite_steps", "nonfinite_steps-1")


def available_vocoder_presets() -> list[str]:
    return sorted(p.stem for p in VOCODER_PRESETS_DIR.glob("*.json"))


def read_tts_config(path: Path):
    """The GlowTTS config a vocoder takes its audio settings (and by default its corpus) from."""
    from rutts.training import load_config

    if Path(path).is_dir():
        path = Path(path) / "config.json"
    if not Path(path).is_file():
        raise TrainingSetupError(f"Нет конфига TTS {path}: укажите --tts-run outputs/<прогон> или --tts-config")
    try:
        return load_config(path)
    except TrainingSetupError as error:
        if "не конфиг GlowTTS" in str(error) and "generator_model" in read_json(Path(path)):
            raise TrainingSetupError(f"{path} — конфиг вокодера, а не TTS: --tts-run/--tts-config называют прогон "
                                     "или конфиг GlowTTS; продолжить прогон вокодера — --continue-path") from None
        raise


def _merge(config: dict, update: dict, where: str) -> dict:
    """A preset or overrides over the config dict: unknown fields refused, `audio` refused (it comes from the TTS
    config). Fields whose keys depend on another field are taken as given: discriminator_model_params (empty by
    default) and the lr schedulers' params, which replace the default ExponentialLR's."""
    if "audio" in update:
        raise TrainingSetupError(f"{where}: настройки звука вокодера берутся из конфига TTS (поле audio), чтобы "
                                 "мелы совпадали; меняйте их там, а не в настройках вокодера")
    update = dict(update)
    config["discriminator_model_params"].update(update.pop("discriminator_model_params", {}))
    for params in ("lr_scheduler_gen_params", "lr_scheduler_disc_params"):
        if params in update:
            if not isinstance(update[params], dict):
                raise TrainingSetupError(f"{where}: {params} — словарь параметров планировщика, а не "
                                         f"{update[params]!r}")
            config[params] = update.pop(params)
    return deep_merge(config, update, where)


def vocoder_config(tts_config, preset: str | None = None, overrides: list[str] | None = None,
                   data: str | Path | None = None):
    """HifiganConfig: preset + overrides, audio from the TTS config, corpus = `data` or the TTS config's."""
    config = vocoder_config_class()()
    merged = config.to_dict()
    if preset:
        preset_path = VOCODER_PRESETS_DIR / f"{preset}.json" if not preset.endswith(".json") else Path(preset)
        if not preset_path.is_file():
            raise TrainingSetupError(f"Нет пресета вокодера «{preset}». Есть: {', '.join(available_vocoder_presets())}")
        merged = _merge(merged, read_json(preset_path), preset_path.name)
    if overrides:
        merged = _merge(merged, parse_overrides(overrides), "--coqpit")
    merged["audio"] = tts_config.audio.to_dict()
    merged["data_path"] = str(data or tts_config.datasets[0].path)
    merged["output_path"] = tts_config.output_path
    merged["target_loss"] = TARGET_LOSS
    try:
        config.from_dict(merged)
    except (TypeError, ValueError, KeyError) as error:
        raise TrainingSetupError(f"неверное значение в настройках вокодера: {error}") from None
    _fit_loss_to_audio(config)
    _check_schedulers(config)
    return config


def _check_schedulers(config) -> None:
    """Each lr scheduler built once on a dummy optimizer, so a wrong name or parameter stops here, not after the
    data and the model are loaded."""
    from trainer.trainer_utils import get_scheduler

    for name in ("lr_scheduler_gen", "lr_scheduler_disc"):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        try:
            get_scheduler(getattr(config, name), getattr(config, f"{name}_params"), optimizer)
        except (AttributeError, TypeError, ValueError) as error:
            raise TrainingSetupError(f"планировщик {name}={getattr(config, name)!r} с параметрами "
                                     f"{getattr(config, f'{name}_params')} не создаётся: {error}") from None


def _fit_loss_to_audio(config) -> None:
    """The mel loss sees the corpus's sample rate and frames (its mel keeps the full band: fmax None)."""
    audio = config.audio
    config.l1_spec_loss_params.update(sample_rate=audio.sample_rate, n_fft=audio.fft_size,
                                      hop_length=audio.hop_length, win_length=audio.win_length,
                                      n_mels=audio.num_mels)
    if config.seq_len % audio.hop_length:
        raise TrainingSetupError(f"seq_len {config.seq_len} должен делиться на hop_length {audio.hop_length}")


def read_run_config(run: Path):
    """The HifiganConfig of a vocoder run folder (to continue it)."""
    path = Path(run) / "config.json"
    if not path.is_file():
        raise TrainingSetupError(f"В {run} нет config.json: это не папка прогона")
    try:
        return read_vocoder_config(path)
    except VoiceError as error:
        raise TrainingSetupError(f"{error} (продолжить прогон GlowTTS — train_glowtts.py --continue-path)") from None


# ---------------------------------------------------------------- data


def _ids(corpus: Path, meta: str) -> list[str]:
    from rutts.dataset import read_metadata

    path = corpus / meta
    if not path.is_file():
        raise TrainingSetupError(f"Нет {path}: сначала запустите python check_sample_rate.py {corpus} — он пишет "
                                 "разбиение train/val")
    return [utt_id for utt_id, _ in read_metadata(path)]


def split_ids(corpus: Path) -> tuple[list[str], list[str]]:
    """(train ids, val ids) of the corpus's split, each with its wav; a clear error for what is missing."""
    from rutts.dataset import TRAIN_FILE, VAL_FILE, wav_path

    corpus = Path(corpus)
    if not corpus.is_dir():
        raise TrainingSetupError(f"Папка корпуса не найдена: {corpus}")
    if not any((corpus / "RUSLAN").glob("*.wav")):
        raise TrainingSetupError(f"В {corpus / 'RUSLAN'} нет ни одного wav: корпус в раскладке RUSLAN — "
                                 "<корпус>/RUSLAN/<id>.wav")
    train, val = _ids(corpus, TRAIN_FILE), _ids(corpus, VAL_FILE)
    missing = [wav_path(corpus, i) for i in train + val if not wav_path(corpus, i).is_file()]
    if missing:
        more = f" и ещё {len(missing) - 1}" if len(missing) > 1 else ""
        raise TrainingSetupError(f"Разбиение ссылается на отсутствующий файл: {missing[0]}{more}")
    if not train or not val:
        raise TrainingSetupError(f"В разбиении {corpus} пусто: train {len(train)}, val {len(val)} фраз")
    return train, val


def _check_sample_rate(corpus: Path, ids: list[str], sample_rate: int) -> None:
    import soundfile as sf

    from rutts.dataset import wav_path

    rates = {}
    for utt_id in ids:
        rates.setdefault(sf.info(str(wav_path(corpus, utt_id))).samplerate, utt_id)
    other = {rate: utt_id for rate, utt_id in rates.items() if rate != sample_rate}
    if other:
        rate, utt_id = next(iter(other.items()))
        raise TrainingSetupError(f"{utt_id}.wav — {rate} Гц, а в конфиге TTS sample_rate {sample_rate}: сначала "
                                 f"python resample_wavs.py (или возьмите корпус, на котором обучена модель)")


def vocoder_samples(config) -> tuple[list, list]:
    """Train and eval items for Coqui's GANDataset: wav paths, or (wav, GTA mel) pairs when feature_path is set."""
    from rutts.dataset import wav_path

    corpus = Path(config.data_path)
    train, val = split_ids(corpus)
    _check_sample_rate(corpus, train + val, config.audio.sample_rate)
    if not config.feature_path:
        return [str(wav_path(corpus, i)) for i in train], [str(wav_path(corpus, i)) for i in val]
    features = Path(config.feature_path)
    missing = [i for i in train + val if not (features / f"{i}.npy").is_file()]
    if missing:
        raise TrainingSetupError(f"В {features} нет мелов модели для {len(missing)} фраз (например {missing[0]}): "
                                 "извлеките их заново (--gta-from outputs/<прогон TTS>)")
    return ([(str(wav_path(corpus, i)), str(features / f"{i}.npy")) for i in train],
            [(str(wav_path(corpus, i)), str(features / f"{i}.npy")) for i in val])


# ---------------------------------------------------------------- GTA mels


def gta_mel(model, text: str, wav: np.ndarray) -> np.ndarray:
    """The mel GlowTTS makes for this text aligned to this recording [n_mels, frames]: the MAS path on the real mel,
    the aligned prior means decoded by the flow. Coqui's inference_with_MAS returns the means themselves (latent
    space, not a mel), so the decoder is run on them here."""
    from TTS.tts.utils.helpers import sequence_mask

    ids = torch.tensor([model.tokenizer.text_to_ids(text)], dtype=torch.long)
    mel = torch.from_numpy(model.ap.melspectrogram(wav).astype(np.float32)).T.unsqueeze(0)  # [1, T, C]
    with torch.inference_mode():
        out = model.inference_with_MAS(ids, torch.tensor([ids.shape[1]]), mel, torch.tensor([mel.shape[1]]))
        z = out["model_outputs"].transpose(1, 2)  # [1, C, T'], T' = T rounded down to the flow's squeeze
        mask = sequence_mask(torch.tensor([z.shape[2]]), z.shape[2]).unsqueeze(1).to(z.dtype)
        decoded, _ = model.decoder(z, mask, reverse=True)
    return decoded[0].numpy().astype(np.float32)


def extract_gta_mels(tts_run: Path, corpus: Path) -> Path:
    """The TTS model's mels for every train and val clip of the corpus, in <tts run>/gta_mels/<id>.npy; mels made
    earlier by the same checkpoint are kept."""
    from rutts.audio import atomic_output
    from rutts.dataset import TRAIN_FILE, VAL_FILE, read_metadata, wav_path
    from rutts.synth import Voice, VoiceError, model_files
    from rutts.vocoder import GRIFFIN_LIM

    try:
        checkpoint, _ = model_files(tts_run)
        model = Voice.load(tts_run, vocoder=GRIFFIN_LIM).model
    except VoiceError as error:
        raise TrainingSetupError(f"--gta-from: {error}") from None
    out = Path(tts_run) / "gta_mels"
    split_ids(corpus)  # clear errors first
    stat = checkpoint.stat()  # best_model.pth is replaced by each better model: same name and size, new mtime
    source = {"checkpoint": checkpoint.name, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
              "corpus": str(Path(corpus).resolve())}
    stale = not (out / GTA_SOURCE).is_file() or json.loads((out / GTA_SOURCE).read_text(encoding="utf-8")) != source
    out.mkdir(parents=True, exist_ok=True)
    if stale:  # the source is written first: an extraction cut short is continued, not redone
        for old in out.glob("*.npy"):
            old.unlink()
        with atomic_output(out / GTA_SOURCE) as temp:
            temp.write_text(json.dumps(source, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = read_metadata(Path(corpus) / TRAIN_FILE) + read_metadata(Path(corpus) / VAL_FILE)
    todo = [(utt_id, text) for utt_id, text in lines if not (out / f"{utt_id}.npy").is_file()]
    log.info("GTA mels: %d of %d clips to extract with %s", len(todo), len(lines), checkpoint)
    for number, (utt_id, text) in enumerate(todo, 1):
        mel = gta_mel(model, text, model.ap.load_wav(str(wav_path(corpus, utt_id))))
        with atomic_output(out / f"{utt_id}.npy") as temp, open(temp, "wb") as handle:
            np.save(handle, mel)
        if number % 100 == 0:
            log.info("GTA mels: %d / %d", number, len(todo))
    return out


# ---------------------------------------------------------------- fine-tuning


def restore_architecture(config, checkpoint: Path) -> None:
    """Take the generator/discriminator shape from the config beside a checkpoint to fine-tune from; refuse one
    made for other mel settings."""
    beside = Path(checkpoint).parent / "config.json"
    if not beside.is_file():
        log.warning("рядом с %s нет config.json: размеры генератора берутся из пресета", checkpoint)
        return
    try:
        theirs = read_vocoder_config(beside)
    except VoiceError as error:
        raise TrainingSetupError(f"--restore-path: {error}") from None
    differ = mel_differences(config.audio, theirs.audio)
    if differ:
        raise TrainingSetupError(f"--restore-path: вокодер {checkpoint} обучен с другими настройками "
                                 f"мел-спектрограммы (TTS ≠ вокодер): {', '.join(differ)}")
    for key in ARCHITECTURE_KEYS:
        if key in theirs:
            setattr(config, key, theirs[key])


def load_pretrained(model, checkpoint: Path) -> str:
    """Weights of a Coqui vocoder checkpoint into `model` (step 0, fresh optimizers, as the trainer's restore_path).
    The generator must fit exactly; a discriminator that is missing or does not fit stays freshly initialized.
    Returns what was loaded, for the log."""
    from trainer.io import load_fsspec

    try:
        state = load_fsspec(str(checkpoint), map_location="cpu")
    except Exception as error:  # torch raises many types for a file that is not a checkpoint
        raise TrainingSetupError(f"{checkpoint} не читается как чекпоинт PyTorch ({type(error).__name__})") from None
    weights = state.get("model") if isinstance(state, dict) else None
    if not isinstance(weights, dict):
        raise TrainingSetupError(f"{checkpoint}: в файле нет весов модели (ключ 'model')")
    if any(key.startswith(("encoder.", "decoder.flows")) for key in weights):
        raise TrainingSetupError(f"{checkpoint} — чекпоинт GlowTTS, а не вокодера")
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
    """GuardedTrainer for a GAN vocoder: its in-training health checks read the generator's and discriminator's
    losses (rutts.health vocoder checks)."""

    def train_step(self, batch, batch_n_steps, step, loader_start_time):
        outputs, loss_dict = super().train_step(batch, batch_n_steps, step, loader_start_time)
        for key, value in (loss_dict or {}).items():
            if key in VOCODER_HEALTH_KEYS:
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
        from rutts.health import check_vocoder_history

        for finding in check_vocoder_history(self.history.series()):
            if finding.level != "ok":
                log.warning("проверка обучения: %s", finding.message)


def published_vocoder(restore_path: str | Path) -> Path:
    """A Coqui model name ("vocoder_models/en/ljspeech/hifigan_v2") → its checkpoint, downloaded once into Coqui's
    model folder (~/.local/share/tts/, or $TTS_HOME/tts/); anything else is taken as a path."""
    if not is_model_name(restore_path):
        return Path(restore_path)
    try:
        return vocoder_files(str(restore_path))[0]
    except VoiceError as error:
        raise TrainingSetupError(f"--restore-path: {error}") from None


def build_vocoder_trainer(config, *, continue_path=None, restore_path=None, tts_config=None, output_path=None,
                          limits: Limits | None = None) -> VocoderTrainer:
    """Data, model and trainer, ready for `.fit()`. `tts_config` with `continue_path`: refused if its audio differs
    from the run's."""
    from trainer import TrainerArgs

    from rutts.checkpoints import best_checkpoint, restore_source

    if continue_path:
        config = read_run_config(continue_path)
        if best_checkpoint(continue_path) is None:
            raise TrainingSetupError(f"В {continue_path} нет читаемых чекпойнтов: продолжать нечего")
        if tts_config is not None:
            differ = mel_differences(tts_config.audio, config.audio)
            if differ:
                raise TrainingSetupError(f"прогон {continue_path} обучен с другими настройками звука, чем в конфиге "
                                         f"TTS (TTS ≠ прогон): {', '.join(differ)}")
        set_aside_unreadable_checkpoints(Path(continue_path))
    configure_device(config)
    if restore_path:
        try:
            restore_path = restore_source(published_vocoder(restore_path))
        except (FileNotFoundError, ValueError) as error:
            raise TrainingSetupError(str(error)) from None
        restore_architecture(config, restore_path)
    train, evaluation = vocoder_samples(config)
    try:
        model = gan_model(config)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, RuntimeError) as error:
        raise TrainingSetupError(f"вокодер не строится с такими размерами сети (generator_model_params / "
                                 f"discriminator_model_params): {type(error).__name__}: {error}") from None
    if restore_path:
        log.info("дообучение: %s из %s", load_pretrained(model, restore_path), restore_path)
    args = TrainerArgs(continue_path=str(continue_path or ""))
    return VocoderTrainer(args, config, output_path or config.output_path, model=model, train_samples=train,
                          eval_samples=evaluation, parse_command_line_args=False, limits=limits)
