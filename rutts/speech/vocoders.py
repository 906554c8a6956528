"""Mel spectrogram → sound: Griffin-Lim in torch, or a trained vocoder (a frame-level one of ours, or Coqui's).

Which one a voice gets (`load_vocoder`):
- an explicit vocoder: a run folder of train_vocoder.py (its best readable checkpoint and its config.json), a
  checkpoint (with its config, by default config.json beside it) or a Coqui model name ("vocoder_models/...");
- "griffin-lim": Griffin-Lim, whatever the TTS run names;
- nothing: the vocoder the TTS run names in its vocoder.json (train_vocoder.py --tts-run writes it when the vocoder
  beats Griffin-Lim on the held-out clips), else Griffin-Lim; a named vocoder that is gone or broken gives a
  warning and Griffin-Lim.
A vocoder made for other mel settings than the acoustic model's is refused, naming the fields that differ.
"""
import logging
from pathlib import Path

import numpy as np
import torch

from rutts.run import FRAME_VOCODER, RunError, RunFolder, linked_vocoder, read_vocoder_config
from rutts.run.checkpoints import load_state
from rutts.run.state import LINK_FILE
from rutts.speech.settings import SynthesisConfig

log = logging.getLogger(__name__)

# Mel settings a vocoder must share with the acoustic model to turn its mels into the right sound. Signal
# normalization may differ: the mels are renormalized for the vocoder, as Coqui's Synthesizer does.
MEL_KEYS = ("sample_rate", "fft_size", "hop_length", "win_length", "num_mels", "mel_fmin", "mel_fmax", "log_func",
            "spec_gain", "preemphasis")
GRIFFIN_LIM = "griffin-lim"  # `vocoder` value that forces the fallback
# A generator call on more padded mel frames than this is slower per second of sound on a CPU, not faster: HiFi-GAN
# V2 on 2 cores, 8 chunks of 800 frames in one call RTF 0.074, each alone 0.020; 8 of 100 frames together 0.020,
# each alone 0.033 (bench/bench_vocoder.py compares the two with the TTS run's own chunks).
FRAMES_PER_CALL = 800


def mel_differences(ours, theirs) -> list[str]:
    """'key ours ≠ theirs' for every mel setting that differs between two audio configs (dicts or Coqpit)."""
    return [f"{key} {ours.get(key)} ≠ {theirs.get(key)}" for key in MEL_KEYS if ours.get(key) != theirs.get(key)]


class GriffinLim:
    """Coqui's mel → waveform (AudioProcessor.inv_melspectrogram) on torch tensors, batched, with momentum."""

    def __init__(self, ap, device: torch.device):
        self.ap = ap
        self.sample_rate = ap.sample_rate
        self.inverse_mel = torch.linalg.pinv(torch.from_numpy(ap.mel_basis).double()).float().to(device)
        self.window = torch.hann_window(ap.win_length, device=device)

    def __call__(self, mels: torch.Tensor, frames: list[int], syn: SynthesisConfig) -> list[np.ndarray]:
        """mels [B, T, n_mels] as the model gives them, `frames` valid frames of each → one waveform each."""
        from torchaudio.functional import griffinlim
        from TTS.utils.audio.numpy_transforms import db_to_amp

        ap = self.ap
        batch, length, n_mels = mels.shape
        flat = mels.float().cpu().numpy().reshape(-1, n_mels).T  # denormalize is per mel channel: [C, B*T]
        amp = db_to_amp(x=ap.denormalize(flat), gain=ap.spec_gain, base=ap.base)
        amp = torch.from_numpy(amp.T.reshape(batch, length, n_mels)).to(self.window.device).transpose(1, 2)
        spec = (self.inverse_mel @ amp).clamp_min(1e-10).pow(syn.gl_power)
        valid = torch.arange(length, device=spec.device)[None, :] < torch.tensor(frames, device=spec.device)[:, None]
        spec = spec * valid[:, None, :]  # padding frames are silence, not the model's padding output
        waves = griffinlim(
            spec, self.window, ap.fft_size, ap.hop_length, ap.win_length, 1.0,
            syn.gl_iters, syn.gl_momentum, None, True,
        ).cpu().numpy()
        out = [wave[: n * ap.hop_length] for wave, n in zip(waves, frames)]
        if ap.preemphasis:
            out = [ap.apply_inv_preemphasis(wave) for wave in out]
        return [wave.astype(np.float32) for wave in out]


def is_model_name(vocoder: str | Path) -> bool:
    """A Coqui model name ("vocoder_models/...") that is not also a path here."""
    return not Path(vocoder).exists() and str(vocoder).startswith("vocoder_models/")


def vocoder_files(vocoder: str | Path, vocoder_config: str | Path | None = None) -> tuple[Path, Path]:
    """(checkpoint, config.json) of a vocoder run folder, a checkpoint or a Coqui model name."""
    path = Path(vocoder)
    if path.is_dir():
        config = Path(vocoder_config) if vocoder_config else RunFolder(path).config_path
        read_vocoder_config(config)  # a GlowTTS run is named as such before any checkpoint is looked at
        return RunFolder(path).checkpoint(), config  # best_model.pth (lowest eval mel loss), else the newest whole one
    if vocoder_config or not is_model_name(vocoder):
        if not path.exists():
            raise RunError(f"вокодер не найден: {path}")
        return path, Path(vocoder_config) if vocoder_config else RunFolder(path.parent).config_path
    from TTS.utils.manage import ModelManager

    try:
        checkpoint, config, _ = ModelManager().download_model(str(vocoder))
    except Exception as error:  # network, unknown name, ...: Coqui raises many types
        raise RunError(
            f"вокодер {vocoder} не скачивается моделями Coqui (нет интернета или нет такого имени?): "
            f"{type(error).__name__}: {str(error)[:160]}"
        ) from None
    return Path(checkpoint), Path(config)


class CoquiVocoder:
    """A Coqui vocoder: the acoustic model's mels renormalized for it, as Coqui's Synthesizer does."""

    def __init__(self, checkpoint: Path, config_path: Path, tts_ap, tts_audio, device: torch.device):
        from TTS.utils.audio import AudioProcessor
        from TTS.vocoder.models import setup_model

        self.config = read_vocoder_config(config_path)
        differ = mel_differences(tts_audio, self.config.audio)
        if differ:
            raise RunError(f"вокодер {checkpoint} сделан для других настроек мел-спектрограммы, чем модель "
                             f"(модель ≠ вокодер): {', '.join(differ)}")
        if not Path(checkpoint).is_file():
            raise RunError(f"чекпоинт вокодера не найден: {checkpoint}")
        try:
            self.model = setup_model(self.config)
            self.model.load_checkpoint(self.config, str(checkpoint), eval=True)
        except Exception as error:  # Coqui and torch raise many types for a wrong or foreign file
            hint = ("; это чекпоинт GlowTTS? вокодер — папка прогона train_vocoder.py"
                    if isinstance(error, RuntimeError) and "encoder." in str(error) else "")
            raise RunError(f"вокодер {checkpoint} не загружается: {type(error).__name__}: "
                             f"{str(error)[:200]}{hint}") from None
        self.model.to(device)
        self.device = device
        self.ap = AudioProcessor(self.config.audio)
        self.tts_ap = tts_ap
        self.sample_rate = self.ap.sample_rate
        self.checkpoint = Path(checkpoint)
        self.frames_per_call = FRAMES_PER_CALL

    @torch.inference_mode()
    def __call__(self, mels: torch.Tensor, frames: list[int], syn: SynthesisConfig) -> list[np.ndarray]:
        """The batch in generator calls of at most `frames_per_call` padded frames (chunks come sorted by length,
        so little is padded: each mel is extended with its own last frame, as Coqui pads). Coqui's generators pad
        the mel by `inference_padding` frames on each side (HiFi-GAN: 5, 58 ms at 22 kHz): the sound of those
        frames is cut off again, so the waveform lines up with the mel."""
        hop = self.ap.hop_length
        pad = getattr(getattr(self.model, "model_g", self.model), "inference_padding", 0) * hop
        waves = []
        for group in frame_groups(frames, self.frames_per_call):
            longest = max(max(frames[i] for i in group), 1)
            features = []
            for i in group:
                used = max(frames[i], 1)  # an empty chunk still needs a frame to pad from; its 0 samples are kept
                mel = mels[i, :used].float().cpu().numpy().T
                feature = torch.from_numpy(self.ap.normalize(self.tts_ap.denormalize(mel))).float()
                features.append(torch.nn.functional.pad(feature[None], (0, longest - used), mode="replicate")[0])
            out = self.model.inference(torch.stack(features).to(self.device)).float().cpu().numpy()
            waves += [out[k, 0, pad : pad + frames[i] * hop] for k, i in enumerate(group)]
        return waves


class FrameVocoderRunner:
    """A frame-level vocoder run of train_vocoder.py (rutts.speech.frame_vocoder), speaking with the moving average
    of its weights. `syn.vocoder_gl_iters` > 0 refines its output with that many Griffin-Lim iterations started from
    its own magnitude and phase."""

    def __init__(self, checkpoint: Path, config, tts_audio, device: torch.device):
        from TTS.utils.audio import AudioProcessor

        from rutts.speech.frame_vocoder import build_frame_vocoder

        differ = mel_differences(tts_audio, config.audio)
        if differ:
            raise RunError(f"вокодер {checkpoint} сделан для других настроек мел-спектрограммы, чем модель "
                           f"(модель ≠ вокодер): {', '.join(differ)}")
        self.ap = AudioProcessor(config.audio)
        try:
            self.net = build_frame_vocoder(config.design, config.model_params, self.ap)
            weights = load_state(checkpoint)["model"]
            self.net.load_state_dict({k.removeprefix("ema."): v for k, v in weights.items() if k.startswith("ema.")})
        except (ValueError, KeyError, RuntimeError) as error:
            raise RunError(f"вокодер {checkpoint} не загружается: {type(error).__name__}: "
                           f"{str(error).splitlines()[0][:200]}") from None
        self.net.eval().to(device)
        self.device = device
        self.sample_rate = self.ap.sample_rate
        self.checkpoint = Path(checkpoint)
        self.frames_per_call = FRAMES_PER_CALL

    @torch.inference_mode()
    def __call__(self, mels: torch.Tensor, frames: list[int], syn: SynthesisConfig) -> list[np.ndarray]:
        """Each mel padded with copies of its last frame (one more than the longest: the inverse STFT of T frames
        gives (T-1)·hop samples), then cut back to frames·hop samples."""
        hop = self.ap.hop_length
        waves = []
        for group in frame_groups(frames, self.frames_per_call):
            longest = max(max(frames[i] for i in group), 1) + 1
            batch = []
            for i in group:
                used = max(frames[i], 1)
                mel = mels[i, :used].float().to(self.device).T[None]
                batch.append(torch.nn.functional.pad(mel, (0, longest - used), mode="replicate")[0])
            spec = self.net(torch.stack(batch))["spec"]
            if syn.vocoder_gl_iters:
                spec = seeded_griffin_lim(spec, self.net.stft, syn.vocoder_gl_iters, syn.gl_momentum)
            out = self.net.stft.inverse(spec).float().cpu().numpy()
            waves += [out[k, : frames[i] * hop] for k, i in enumerate(group)]
        if not all(np.isfinite(wave).all() for wave in waves):
            raise RunError(f"вокодер {self.checkpoint} выдал NaN/Inf: звук не записан")
        return waves


def seeded_griffin_lim(spec: torch.Tensor, stft, iters: int, momentum: float) -> torch.Tensor:
    """Fast Griffin-Lim (torchaudio's momentum rule) on |spec|, started from the phase of `spec`."""
    magnitude = spec.abs()
    angles = spec / spec.abs().clamp_min(1e-16)
    previous = torch.zeros_like(angles)
    factor = momentum / (1 + momentum)
    for _ in range(iters):
        rebuilt = stft(stft.inverse(magnitude * angles))
        angles = rebuilt - factor * previous
        angles = angles / angles.abs().clamp_min(1e-16)
        previous = rebuilt
    return magnitude * angles


def make_vocoder(checkpoint: Path, config_path: Path, tts_ap, tts_audio, device: torch.device):
    """The runner for a trained vocoder: ours (model "frame_vocoder") or Coqui's."""
    config = read_vocoder_config(config_path)
    if config.model == FRAME_VOCODER:
        if not Path(checkpoint).is_file():
            raise RunError(f"чекпоинт вокодера не найден: {checkpoint}")
        return FrameVocoderRunner(checkpoint, config, tts_audio, device)
    return CoquiVocoder(checkpoint, config_path, tts_ap, tts_audio, device)


def frame_groups(frames: list[int], budget: int) -> list[list[int]]:
    """Indices of consecutive chunks, grouped so that each group padded to its longest stays within `budget`
    frames (a chunk longer than that goes alone)."""
    groups: list[list[int]] = []
    longest = 0
    for i, n in enumerate(frames):
        n = max(n, 1)
        if groups and (len(groups[-1]) + 1) * max(longest, n) <= budget:
            groups[-1].append(i)
            longest = max(longest, n)
        else:
            groups.append([i])
            longest = n
    return groups


def load_vocoder(vocoder: str | Path | None, vocoder_config: str | Path | None, tts_run: Path, tts_ap, tts_audio,
                 device: torch.device):
    """The mel → sound function of a voice (see the module docstring for what `vocoder` may be)."""
    if vocoder is not None and str(vocoder) == GRIFFIN_LIM:
        return GriffinLim(tts_ap, device)
    if vocoder:
        return make_vocoder(*vocoder_files(vocoder, vocoder_config), tts_ap, tts_audio, device)
    try:
        named = linked_vocoder(tts_run)
        if named is None:
            return GriffinLim(tts_ap, device)
        if not named.exists():
            raise RunError(f"папки {named} нет")
        voice_vocoder = make_vocoder(*vocoder_files(named), tts_ap, tts_audio, device)
    except RunError as error:
        log.warning("вокодер, названный в %s, не загружается (%s): звук через Griffin-Lim", tts_run / LINK_FILE,
                    error)
        return GriffinLim(tts_ap, device)
    log.info("vocoder named by %s: %s", tts_run / LINK_FILE, voice_vocoder.checkpoint)
    return voice_vocoder
