"""Loading a voice: a GlowTTS checkpoint with its config, the front end its training text was read with, and the
vocoder it speaks with."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from rutts.run import RunError, RunFolder, model_files, read_glowtts_config
from rutts.run.checkpoints import check_fits, load_state
from rutts.speech.vocoders import load_vocoder
from rutts.text import CHARACTERS, STRESS, FrontEnd, TextError

log = logging.getLogger(__name__)


def load_glowtts(checkpoint: Path, config_path: Path, device: torch.device):
    """Coqui's GlowTTS with the checkpoint's weights, ready for inference; RunError naming what does not fit."""
    from TTS.tts.models.glow_tts import GlowTTS

    glow_config = read_glowtts_config(config_path)
    vocab = (glow_config.characters.characters if glow_config.characters else None) or ""
    missing = "".join(sorted(set(CHARACTERS) - {STRESS} - set(vocab)))
    if missing and not glow_config.use_phonemes:
        raise RunError(
            f"модель обучена с другим набором символов: в алфавите {config_path} нет букв «{missing}», "
            "которые выдаёт русский фронтенд (rutts.text.CHARACTERS)"
        )
    state = load_state(checkpoint)
    glow = GlowTTS(glow_config)
    check_fits(state, glow, checkpoint, f"к конфигу {config_path}", "; возьмите config.json из папки его прогона")
    glow.load_state_dict(state["model"])
    glow.eval()
    glow.store_inverse()  # what GlowTTS.load_checkpoint(eval=True) does: precomputed inverse convolutions
    glow.to(device)
    log.info("loaded %s (step %s) with %s", checkpoint, state.get("step"), config_path)
    return glow


def load_parts(model, config=None, vocoder=None, vocoder_config=None, device: str = "cpu", lexicon=None,
               stress: bool | None = None) -> tuple:
    """(GlowTTS, FrontEnd, vocoder, device) of a voice; see `Voice.load`."""
    checkpoint, config_path = model_files(model, config)
    device = torch.device(device)
    glow = load_glowtts(checkpoint, config_path, device)
    vocoder_fn = load_vocoder(vocoder, vocoder_config, checkpoint.parent, glow.ap, glow.config.audio, device)
    vocab = glow.config.characters.characters if glow.config.characters else ""
    if stress is None and STRESS not in vocab and not glow.config.use_phonemes:
        stress = False  # an alphabet without "+" cannot have been trained with stress marks
    try:  # as the run's training text was processed (a phoneme model's "+" marks are dropped later)
        frontend: FrontEnd = RunFolder(checkpoint.parent).frontend(lexicon, stress)
    except TextError as error:
        raise RunError(str(error)) from None
    return glow, frontend, vocoder_fn, device
