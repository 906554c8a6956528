"""The meter: Whisper-base on CPU transcribes each clip, CER/WER against its text."""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rutts.intelligibility.model import IntelligibilityError, ensure_model, missing_extra
from rutts.intelligibility.transcripts import normalize

log = logging.getLogger(__name__)

ASR_SAMPLE_RATE = 16000


def load_audio_16k(path: Path) -> np.ndarray:
    """Any sample rate, any channel count, wav/flac/ogg → float32 mono at 16 kHz."""
    import soundfile as sf
    import soxr

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, OSError) as exc:
        raise IntelligibilityError(f"не удаётся прочитать звук {path}: {exc}") from None
    audio = audio.mean(axis=1)
    if not np.isfinite(audio).all():
        log.warning("%s: non-finite samples replaced by silence", path)
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    if rate != ASR_SAMPLE_RATE and audio.size:
        audio = soxr.resample(audio, rate, ASR_SAMPLE_RATE)
    return np.ascontiguousarray(audio, dtype=np.float32)


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Row:
    wav: str
    reference: str  # normalized
    hypothesis: str  # normalized
    transcript: str  # what Whisper wrote
    cer: float
    wer: float
    audio_seconds: float
    asr_seconds: float


@dataclass(frozen=True)
class Report:
    cer: float  # corpus level: total character edits / total reference characters
    wer: float
    n: int
    rows: list[Row]
    seconds: float  # wall time of reading + transcribing, model loading excluded
    audio_seconds: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def looped(self) -> list[Row]:
        """Rows with more errors than their reference has letters: only a transcript far longer than the
        reference does that, Whisper writing one word over and over ("четыре четыре ..."). One such row can
        outweigh all the others in the corpus CER."""
        return [row for row in self.rows if row.cer > 1]

    def cer_without(self, names: set[str]) -> float | None:
        """Corpus CER of the rows whose wav file name is not in `names` (None if none is left)."""
        kept = [row for row in self.rows if Path(row.wav).name not in names]
        return corpus_cer(kept) if kept else None


def corpus_cer(rows: Sequence[Row]) -> float:
    """Total character edits / total reference characters over `rows`."""
    import jiwer

    return jiwer.cer([row.reference for row in rows], [row.hypothesis for row in rows])


class Meter:
    """Whisper-base on CPU (int8, beam 5, temperature 0, language ru, VAD on), loaded once."""

    def __init__(self, threads: int = 2, model_dir: Path | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import jiwer  # noqa: F401
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise missing_extra(exc.name or "faster-whisper") from None
        folder = ensure_model(model_dir)
        self._model = WhisperModel(
            str(folder), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True
        )

    def transcribe(self, audio: np.ndarray) -> str:
        """Raw transcript of 16 kHz mono audio; empty when VAD finds no speech."""
        segments, _ = self._model.transcribe(
            audio,
            language="ru",
            beam_size=5,
            temperature=0.0,
            vad_filter=True,
            condition_on_previous_text=False,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()

    def score(
        self,
        pairs: Sequence[tuple[str | Path, str]],
        on_row: Callable[[Row], None] | None = None,
    ) -> Report:
        """Transcribes each wav and compares it with its text; `on_row` sees each row as it is done."""
        import jiwer

        if not pairs:
            raise IntelligibilityError("нет файлов для оценки")
        references = [normalize(text) for _, text in pairs]
        for (wav, text), ref in zip(pairs, references):
            if not ref:
                raise IntelligibilityError(f"у {wav} пустой текст после нормализации: {text!r}")
        rows = []
        started = time.perf_counter()
        for (wav, _), ref in zip(pairs, references):
            audio = load_audio_16k(Path(wav))
            tick = time.perf_counter()
            transcript = self.transcribe(audio)
            hyp = normalize(transcript)
            row = Row(
                wav=str(wav),
                reference=ref,
                hypothesis=hyp,
                transcript=transcript,
                cer=jiwer.cer(ref, hyp),
                wer=jiwer.wer(ref, hyp),
                audio_seconds=audio.size / ASR_SAMPLE_RATE,
                asr_seconds=time.perf_counter() - tick,
            )
            rows.append(row)
            if on_row is not None:
                on_row(row)
        return Report(
            cer=corpus_cer(rows),
            wer=jiwer.wer(references, [row.hypothesis for row in rows]),
            n=len(rows),
            rows=rows,
            seconds=time.perf_counter() - started,
            audio_seconds=sum(row.audio_seconds for row in rows),
        )
