"""Coqui's mel spectrogram in torch, and the STFT pair a frame-level vocoder reconstructs with.

The acoustic model learns `AudioProcessor.melspectrogram` of the clips: natural-log magnitude mel (floor 1e-8),
centre framing (frame t centred at sample t·hop, reflect padding), periodic Hann window, no signal normalization.
`TorchMel` computes the same on torch tensors (tests compare it with Coqui's), so a vocoder learns from random
waveform segments with their mel computed on the fly, and its output spectrum is framed exactly like that mel: a
half-hop offset between the two would ruin every phase loss.
"""
from __future__ import annotations

import numpy as np
import torch

MEL_FLOOR = 1e-8  # Coqui 0.28 amp_to_db: log(max(1e-8, x))


class Stft(torch.nn.Module):
    """Centre-framed STFT / inverse STFT with the mel's window."""

    def __init__(self, n_fft: int, hop_length: int, win_length: int):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = n_fft, hop_length, win_length
        self.register_buffer("window", torch.hann_window(win_length), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """wav [B, N] → complex spectrum [B, n_fft/2+1, N//hop + 1]."""
        return torch.stft(wav, self.n_fft, self.hop_length, self.win_length, self.window, center=True,
                          pad_mode="reflect", return_complex=True)

    def inverse(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """complex [B, F, T] → wav [B, length] (by default (T-1)·hop samples)."""
        return torch.istft(spec, self.n_fft, self.hop_length, self.win_length, self.window, center=True,
                           length=length)


class TorchMel(torch.nn.Module):
    """wav [B, N] → log mel [B, n_mels, N//hop + 1], equal to Coqui's `ap.melspectrogram`."""

    def __init__(self, mel_basis: np.ndarray, n_fft: int, hop_length: int, win_length: int):
        super().__init__()
        self.stft = Stft(n_fft, hop_length, win_length)
        self.register_buffer("mel_basis", torch.as_tensor(mel_basis, dtype=torch.float32), persistent=False)

    @classmethod
    def from_ap(cls, ap) -> TorchMel:
        """The mel of a Coqui AudioProcessor; ValueError for settings this class does not reproduce."""
        if ap.signal_norm or ap.preemphasis or ap.spec_gain != 1 or ap.log_func != "np.log":
            raise ValueError("мел в torch повторяет только log_func np.log, spec_gain 1, preemphasis 0 и "
                             "signal_norm false (как в config.json набора)")
        return cls(ap.mel_basis, ap.fft_size, ap.hop_length, ap.win_length)

    def from_magnitude(self, magnitude: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.clamp(self.mel_basis @ magnitude, min=MEL_FLOOR))

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return self.from_magnitude(self.stft(wav).abs())
