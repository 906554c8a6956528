"""Training a frame-level vocoder (rutts.speech.frame_vocoder) with Coqui's Trainer, through the guarded trainer.

- Data: random segments of `seq_len` samples from the train clips, drawn in proportion to each clip's length and
  read from disk one segment at a time (RUSLAN's 31 hours would not fit in memory); their mel is computed on the
  fly in torch, equal to Coqui's. Evaluation runs on the whole held-out clips, silence-trimmed as the TTS sees them.
  With GTA mels (`feature_path`: the TTS model's own mels of the same clips, vocoder_data.py) the input mel is the
  model's, frame-aligned with the recording, and the target is still the recording: evaluation then measures how
  well the vocoder speaks from what the TTS makes, so best_model.pth is chosen for that.
- Losses: APNet's (frame_losses.py); best_model.pth = lowest eval total loss.
- An exponential moving average of the weights (decay `ema_decay`) is what evaluation, checkpoints' users and
  synthesis see: on the demo corpus it was worth more than any learning-rate change (bench/RESULTS.md).
- AdamW with a linear warm-up of `warmup_steps`, then the constant `lr`; no discriminator.
"""
from __future__ import annotations

import copy
import random

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import DataLoader, Dataset
from trainer import TrainerModel

from rutts.speech.frame_vocoder import build_frame_vocoder
from rutts.speech.stft import TorchMel
from rutts.train.frame_losses import APNetLoss


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 / AMX), where autocast pays."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


class Segments(Dataset):
    """`count` random segments of `length` samples per epoch; a clip shorter than that is zero-padded. The trainer
    builds a new loader each epoch: `seed` comes from torch's generator, so each epoch draws other segments."""

    def __init__(self, paths: list[str], length: int, count: int, seed: int):
        self.paths, self.length, self.count = paths, length, count
        self.frames = [sf.info(path).frames for path in paths]
        self.rng = random.Random(seed)

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        path, frames = self.rng.choices(list(zip(self.paths, self.frames)), weights=self.frames)[0]
        start = self.rng.randrange(max(frames - self.length, 0) + 1)
        audio, _ = sf.read(path, start=start, frames=self.length, dtype="float32", always_2d=True)
        audio = audio.mean(axis=1)
        return {"wav": torch.from_numpy(np.pad(audio, (0, self.length - len(audio))))}


class GtaSegments(Dataset):
    """`count` random segments of `length` samples per epoch with their slice of the model's mel: frame t of a GTA
    mel is centred at sample t·hop of the silence-trimmed clip (the recording it was aligned to), so a segment from
    sample f·hop has frames f … f + length/hop. Clips with fewer frames than a segment needs are not drawn
    (vocoder_data.vocoder_samples refuses a corpus with none)."""

    def __init__(self, pairs: list[tuple[str, str]], length: int, count: int, seed: int, ap):
        self.length, self.count, self.ap = length, count, ap
        self.frames = length // ap.hop_length + 1
        sizes = [(pair, np.load(pair[1], mmap_mode="r").shape[1]) for pair in pairs]
        self.pairs = [(pair, frames) for pair, frames in sizes if frames >= self.frames]
        self.rng = random.Random(seed)

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        (wav_path, mel_path), frames = self.rng.choices(self.pairs, weights=[f for _, f in self.pairs])[0]
        first = self.rng.randrange(frames - self.frames + 1)
        mel = np.load(mel_path, mmap_mode="r")[:, first: first + self.frames]
        start = first * self.ap.hop_length
        wav = self.ap.load_wav(wav_path).astype(np.float32)[start: start + self.length]
        return {"wav": torch.from_numpy(wav), "mel": torch.from_numpy(np.array(mel, dtype=np.float32))}


class Clips(Dataset):
    """Whole clips as the TTS sees them (Coqui's load_wav: silence-trimmed), cut to a whole number of hops; with a
    GTA mel (an item (wav, mel path)), cut to the mel's frames and given with it."""

    def __init__(self, items: list, ap):
        self.items, self.ap = items, ap

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        item = self.items[index]
        wav_path, mel_path = (item, None) if isinstance(item, str) else item
        wav = self.ap.load_wav(wav_path).astype(np.float32)
        hop = self.ap.hop_length
        if mel_path is None:
            return {"wav": torch.from_numpy(wav[: max(len(wav) // hop, 1) * hop])}
        mel = np.load(mel_path).astype(np.float32)
        return {"wav": torch.from_numpy(wav[: (mel.shape[1] - 1) * hop]), "mel": torch.from_numpy(mel)}


class FrameVocoderModel(TrainerModel):
    """The network being trained (`net`) and its moving average (`ema`), both saved in every checkpoint."""

    def __init__(self, config):
        from TTS.utils.audio import AudioProcessor

        super().__init__()
        self.config = config
        self.ap = AudioProcessor(config.audio)
        self.mel = TorchMel.from_ap(self.ap)
        self.net = build_frame_vocoder(config.design, config.model_params, self.ap)
        self.net.bf16 = cpu_has_bf16() if config.cpu_bf16 is None else config.cpu_bf16
        self.ema = copy.deepcopy(self.net).requires_grad_(False)

    def forward(self, mel):
        return self.net(mel)

    def input_mel(self, batch) -> torch.Tensor:
        """The model's (GTA) mel where the batch has one, else the recording's."""
        if "mel" in batch:
            return batch["mel"]
        with torch.no_grad():
            return self.mel(batch["wav"])

    def train_step(self, batch, criterion, optimizer_idx=None):
        output = self.net(self.input_mel(batch))
        loss, logged = criterion(output, batch["wav"])
        return {"spec": output["spec"].detach()}, {"loss": loss, **logged}

    @torch.inference_mode()
    def eval_step(self, batch, criterion, optimizer_idx=None):
        output = self.ema(self.input_mel(batch))
        loss, logged = criterion(output, batch["wav"])
        return {"spec": output["spec"]}, {"loss": loss, **logged}

    def on_train_step_end(self, trainer):
        step = trainer.total_steps_done
        decay = min(self.config.ema_decay, (1 + step) / (10 + step))  # a short memory at first, as timm's ModelEmaV2
        with torch.no_grad():
            for average, weight in zip(self.ema.parameters(), self.net.parameters()):
                average.lerp_(weight, 1 - decay)

    def train_log(self, batch, outputs, logger, steps):
        pass

    def eval_log(self, batch, outputs, logger, steps):
        """The last held-out clip as the moving average speaks it, to listen to in TensorBoard."""
        wav = self.ema.stft.inverse(outputs["spec"][:1].detach().cpu())[0].numpy()
        logger.eval_audios(steps, {"eval/audio": wav}, self.ap.sample_rate)

    def get_criterion(self):
        return APNetLoss(self.mel, **self.config.loss_params)

    def get_optimizer(self):
        return torch.optim.AdamW(self.net.parameters(), lr=self.config.lr, **self.config.optimizer_params)

    def get_lr(self):
        return self.config.lr

    def get_scheduler(self, optimizer):
        warmup = max(self.config.warmup_steps, 1)
        optimizer = optimizer[0] if isinstance(optimizer, list) else optimizer  # the trainer passes a list
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))

    def get_data_loader(self, config, *, is_eval=False, samples=None, verbose=True):
        if is_eval:
            return DataLoader(Clips(samples, self.ap), batch_size=1, num_workers=config.num_eval_loader_workers)
        length, seed = config.seq_len, int(torch.randint(2**31, ()))
        gta = not isinstance(samples[0], str)
        total = sum(sf.info(item[0] if gta else item).frames for item in samples)
        count = max(total // length, config.batch_size)
        segments = GtaSegments(samples, length, count, seed, self.ap) if gta else Segments(samples, length, count, seed)
        return DataLoader(segments, batch_size=config.batch_size, num_workers=config.num_loader_workers,
                          drop_last=True)
