"""Frame-level vocoders: log mel [B, n_mels, T] → complex spectrum [B, n_fft/2+1, T] → inverse STFT.

They work at the frame rate (86 frames/s at 22 050 Hz, hop 256), not the sample rate as HiFi-GAN does, so a CPU
trains them in minutes. Two designs, chosen by `design` in a frame vocoder's config:
- "freev" (FreeV, arXiv 2406.08196): amplitude = log of the mel's pseudo-inverse, the same starting point as our
  Griffin-Lim, plus an optional small learned residual; phase = atan2 of two linear outputs of a ConvNeXt branch;
- "vocos" (Vocos, arXiv 2306.00814): a ConvNeXt backbone and Vocos's iSTFT head, centre-framed.
The ConvNeXt stacks and the head are the `vocos` package's own modules (no Lightning needed).

Frame t of the output spectrum is centred at sample t·hop, as Coqui's mel frame t is (rutts.speech.stft).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from rutts.speech.stft import Stft

LOG_FLOOR = 1e-5  # floor of the predicted and target log-amplitudes (APNet's)
MAX_AMPLITUDE = 100.0  # Vocos's safeguard: exp(log-amplitude) is clipped here


class FrameVocoder(nn.Module):
    """What both designs share: the mel's pseudo-inverse, the iSTFT and the amplitude clamp. `bf16` runs the
    ConvNeXt stacks under bfloat16 autocast (on CPUs with AVX-512 BF16 about 1.5× faster per training step)."""

    def __init__(self, mel_basis: np.ndarray, n_fft: int, hop_length: int, win_length: int):
        super().__init__()
        basis = torch.as_tensor(np.asarray(mel_basis), dtype=torch.float64)
        self.n_mels, self.n_bins = basis.shape
        if self.n_bins != n_fft // 2 + 1:
            raise ValueError(f"в мел-базисе {self.n_bins} частот, а fft_size {n_fft} даёт {n_fft // 2 + 1}")
        self.register_buffer("inverse_mel", torch.linalg.pinv(basis).float(), persistent=False)
        self.stft = Stft(n_fft, hop_length, win_length)
        self.bf16 = False

    def run_backbone(self, backbone: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """backbone(x [B, C, T]) → [B, T, dim] in float32 (bfloat16 inside only on a CPU)."""
        if not self.bf16 or x.device.type != "cpu":
            return backbone(x)
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            hidden = backbone(x)
        return hidden.float()

    def log_prior(self, mel: torch.Tensor) -> torch.Tensor:
        """log(pinv(mel_basis) @ exp(mel)) [B, n_bins, T]: the amplitude the mel alone implies."""
        return torch.log(torch.clamp(self.inverse_mel @ torch.exp(mel), min=LOG_FLOOR))

    def spectrum(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(log-amplitude, phase), each [B, n_bins, T]; the phase in any range."""
        raise NotImplementedError

    def forward(self, mel: torch.Tensor) -> dict[str, torch.Tensor]:
        log_amp, phase = self.spectrum(mel)
        log_amp = torch.clamp(log_amp, max=math.log(MAX_AMPLITUDE))
        return {"log_amp": log_amp, "phase": phase, "spec": torch.polar(torch.exp(log_amp), phase)}

    def synthesize(self, mel: torch.Tensor) -> torch.Tensor:
        """mel [B, n_mels, T] → wav [B, (T-1)·hop]."""
        return self.stft.inverse(self.forward(mel)["spec"])


class FreeVVocoder(FrameVocoder):
    """Amplitude: the log pseudo-inverse prior, plus a residual from a small ConvNeXt stack when `amp_layers` > 0
    (its output layer starts at zero, so training starts from the prior). Phase: a ConvNeXt branch on the mel →
    two linear maps R, I → atan2(I, R)."""

    def __init__(self, mel_basis, n_fft, hop_length, win_length, phase_dim: int = 256,
                 phase_intermediate_dim: int = 768, phase_layers: int = 6, amp_dim: int = 128,
                 amp_intermediate_dim: int = 384, amp_layers: int = 0):
        from vocos.models import VocosBackbone

        super().__init__(mel_basis, n_fft, hop_length, win_length)
        self.phase_backbone = VocosBackbone(self.n_mels, phase_dim, phase_intermediate_dim, phase_layers)
        self.phase_out = nn.Linear(phase_dim, 2 * self.n_bins)
        self.amp_backbone = self.amp_out = None
        if amp_layers > 0:
            self.amp_backbone = VocosBackbone(self.n_bins, amp_dim, amp_intermediate_dim, amp_layers)
            self.amp_out = nn.Linear(amp_dim, self.n_bins)
            nn.init.zeros_(self.amp_out.weight)
            nn.init.zeros_(self.amp_out.bias)

    def spectrum(self, mel):
        log_amp = self.log_prior(mel)
        if self.amp_backbone is not None:
            log_amp = log_amp + self.amp_out(self.run_backbone(self.amp_backbone, log_amp)).transpose(1, 2)
        real, imag = self.phase_out(self.run_backbone(self.phase_backbone, mel)).transpose(1, 2).chunk(2, dim=1)
        return log_amp, torch.atan2(imag, real)


class VocosVocoder(FrameVocoder):
    """Vocos: `VocosBackbone` on the mel and `ISTFTHead(padding="center")`, whose linear layer gives the
    log-amplitude and the phase."""

    def __init__(self, mel_basis, n_fft, hop_length, win_length, dim: int = 384, intermediate_dim: int = 1152,
                 num_layers: int = 8):
        from vocos.heads import ISTFTHead
        from vocos.models import VocosBackbone

        super().__init__(mel_basis, n_fft, hop_length, win_length)
        self.backbone = VocosBackbone(self.n_mels, dim, intermediate_dim, num_layers)
        self.head = ISTFTHead(dim, n_fft, hop_length, padding="center")

    def spectrum(self, mel):
        return self.head.out(self.run_backbone(self.backbone, mel)).transpose(1, 2).chunk(2, dim=1)


DESIGNS = {"freev": FreeVVocoder, "vocos": VocosVocoder}


def build_frame_vocoder(design: str, params: dict, ap) -> FrameVocoder:
    """The network of a frame vocoder config (`design`, `model_params`) for the mel of AudioProcessor `ap`;
    ValueError for an unknown design or parameters that do not build."""
    if design not in DESIGNS:
        raise ValueError(f"неизвестная схема вокодера {design!r}: есть {', '.join(sorted(DESIGNS))}")
    try:
        return DESIGNS[design](ap.mel_basis, ap.fft_size, ap.hop_length, ap.win_length, **params)
    except TypeError as error:
        raise ValueError(f"model_params не подходят к схеме {design}: {error}") from None
