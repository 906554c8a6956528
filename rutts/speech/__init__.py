"""Speech from a trained voice: a GlowTTS run, its front end and its vocoder, loaded once (`Voice.load`).

    voice.py      Voice: paragraphs → sentences → front end → chunks → GlowTTS → vocoder → pieces of speech
    loading.py    the checkpoint, its config, the front end and the vocoder a run names (asks rutts.run)
    vocoders.py   mel → sound: Griffin-Lim or a trained vocoder, checked against the model's mel settings
    joining.py    chunks and sentences joined with pauses, loudness normalized, sentence timings
    subtitles.py  sentence timings → SRT
    timeline.py   sentence timings and the pieces a voice streams
    settings.py   SynthesisConfig: every knob of one synthesis call

Below: rutts.run (what a run folder holds), rutts.text, rutts.audio. Above: the meter, training (GTA mels), the
bot, inference.py.
"""
import importlib

from rutts.speech.settings import SynthesisConfig
from rutts.speech.subtitles import subtitles
from rutts.speech.timeline import Piece, SentenceTiming, Speech, Timeline

# The vocoders and the voice (torch, Coqui) are loaded on first use, so that a command line can read
# SynthesisConfig's defaults and refuse bad arguments at once.
_MODULE_OF = {"GRIFFIN_LIM": "vocoders", "CoquiVocoder": "vocoders", "GriffinLim": "vocoders",
              "load_vocoder": "vocoders", "mel_differences": "vocoders", "Voice": "voice"}
__all__ = ["SynthesisConfig", "subtitles", "Piece", "SentenceTiming", "Speech", "Timeline", *_MODULE_OF]


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'rutts.speech' has no attribute {name!r}")
    return getattr(importlib.import_module(f"rutts.speech.{_MODULE_OF[name]}"), name)
