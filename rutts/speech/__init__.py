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
from rutts.speech.settings import SynthesisConfig
from rutts.speech.subtitles import subtitles
from rutts.speech.timeline import Piece, SentenceTiming, Speech, Timeline
from rutts.speech.vocoders import GRIFFIN_LIM, CoquiVocoder, GriffinLim, load_vocoder, mel_differences
from rutts.speech.voice import Voice

__all__ = ["subtitles", "SynthesisConfig", "Piece", "SentenceTiming", "Speech",
           "Timeline", "GRIFFIN_LIM", "CoquiVocoder", "GriffinLim", "load_vocoder", "mel_differences", "Voice"]
