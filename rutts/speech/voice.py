"""Speech from a trained GlowTTS: load a voice once, then synthesize many texts.

    text → paragraphs (Markdown stripped) → sentences → rutts.text front end → chunks that fit the model
         → GlowTTS (batched) → mel → Griffin-Lim in torch, or a Coqui vocoder → trimmed, faded chunks
         → pauses between chunks, sentences and paragraphs → loudness-normalized audio + sentence timings

`Voice.stream` yields the audio piece by piece (a few sentences at a time) so a whole lesson never has to sit
in memory; `Voice.speak` joins the pieces for short texts, `Voice.synthesize` returns only the samples.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from rutts.speech.joining import blocks, faded, join_sentences
from rutts.speech.loading import load_parts
from rutts.speech.settings import BLOCK_CHARS, SynthesisConfig
from rutts.speech.timeline import Piece, SentenceTiming, Speech, Timeline
from rutts.text import (CHARACTERS, PUNCTUATIONS, STRESS, FrontEnd, TextError, split_chunks, split_paragraphs,
                        split_sentences)

log = logging.getLogger(__name__)


class Voice:
    """A GlowTTS model with its front end and vocoder, loaded once."""

    def __init__(self, model, frontend: FrontEnd, vocoder, device: torch.device):
        self.model = model
        self.frontend = frontend
        self.vocoder = vocoder
        self.device = device
        self.sample_rate: int = vocoder.sample_rate
        # A phoneme model (use_phonemes) takes Russian letters and runs its phonemizer (espeak-ng) on them;
        # the phonemizer places stress itself and would read "+" aloud.
        self.phonemes = bool(model.config.use_phonemes)
        self.vocabulary = (set(CHARACTERS + PUNCTUATIONS) - {STRESS} if self.phonemes
                           else set(model.tokenizer.characters.vocab))
        self.max_text_len = model.config.max_text_len
        self.stage_seconds: Counter[str] = Counter()  # where synthesis time went: front end, model, vocoder, joining
        self._warned: set[str] = set()

    @classmethod
    def load(
        cls,
        model: str | Path,
        config: str | Path | None = None,
        vocoder: str | Path | None = None,
        vocoder_config: str | Path | None = None,
        device: str = "cpu",
        lexicon: str | Path | None = None,
        stress: bool | None = None,
    ) -> Voice:
        """`model` is a run folder (its best or latest checkpoint and its config.json) or a checkpoint file
        (with `config`, else config.json beside it). `vocoder`: a vocoder run folder of train_vocoder.py, a Coqui
        vocoder checkpoint (with `vocoder_config`) or a Coqui model name such as
        "vocoder_models/en/ljspeech/hifigan_v2"; "griffin-lim" forces Griffin-Lim; None: the vocoder the run
        names in its vocoder.json, else Griffin-Lim (rutts.speech.vocoders.load_vocoder). `lexicon` and `stress`
        as in training: the user's pronunciation file, automatic stress marks; None: as the run's frontend.json
        recorded them (a run without one: lexicon.txt, stress when the alphabet has "+"). RunError when the model
        or the vocoder cannot be used."""
        return cls(*load_parts(model, config, vocoder, vocoder_config, device, lexicon, stress))

    # -- text → token chunks

    def _chunks(self, processed: str, syn: SynthesisConfig) -> list[str]:
        limit = min(syn.max_chunk_chars, self.max_text_len or syn.max_chunk_chars)
        if self.phonemes:
            processed = processed.replace(STRESS, "")
        unknown = sorted({ch for ch in processed if ch not in self.vocabulary} - self._warned)
        if unknown:
            self._warned.update(unknown)
            log.warning("модель не знает символов %s: они пропущены", " ".join(map(repr, unknown)))
        kept = "".join(ch for ch in processed if ch in self.vocabulary)
        return [chunk for chunk in split_chunks(kept, limit) if chunk.strip(" ,.!?:;-")]

    # -- chunks → waveforms

    @torch.inference_mode()
    def _waves(self, chunks: list[str], syn: SynthesisConfig) -> list[np.ndarray]:
        """One trimmed, faded waveform per chunk; chunks of similar length share a batch."""
        ids = [self.model.tokenizer.text_to_ids(chunk) for chunk in chunks]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        waves: list[np.ndarray] = [np.zeros(0, np.float32)] * len(ids)
        self.model.length_scale = syn.length_scale
        self.model.inference_noise_scale = syn.noise_scale
        pad = self.model.tokenizer.pad_id or 0
        for start in range(0, len(order), syn.batch_size):
            batch = order[start : start + syn.batch_size]
            lengths = torch.tensor([len(ids[i]) for i in batch])
            x = torch.full((len(batch), int(lengths.max())), pad, dtype=torch.long)
            for row, i in enumerate(batch):
                x[row, : len(ids[i])] = torch.tensor(ids[i])
            with self._timed("model"):
                out = self.model.inference(x.to(self.device), aux_input={"x_lengths": lengths.to(self.device)})
                # alignments [B, T_mel, T_text]; the decoder drops a last frame that does not fill a squeeze group
                squeeze = self.model.num_squeeze
                frames = [n // squeeze * squeeze for n in out["alignments"].sum(-1).gt(0).sum(-1).tolist()]
            with self._timed("vocoder"):
                for i, wave in zip(batch, self.vocoder(out["model_outputs"], frames, syn)):
                    waves[i] = wave
        with self._timed("joining"):
            return [faded(wave, self.sample_rate) for wave in waves]

    def _block(self, sentences: list[str], paragraph: int, syn: SynthesisConfig) -> tuple[np.ndarray, list[SentenceTiming]]:
        """Sentences of one paragraph → joined, normalized audio and each sentence's start/end in it."""
        plans = []
        for sentence in sentences:
            try:
                with self._timed("front end"):
                    chunks = self._chunks(self.frontend.process(sentence), syn)
            except TextError as error:
                log.warning("пропущено предложение: %s", error)
                continue
            if chunks:
                plans.append((sentence, chunks))
        waves = iter(self._waves([c for _, chunks in plans for c in chunks], syn))
        with self._timed("joining"):
            return join_sentences([(sentence, [next(waves) for _ in chunks]) for sentence, chunks in plans],
                                  paragraph, self.sample_rate, syn)

    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[stage] += time.perf_counter() - started

    def stream(self, paragraphs: list[str], syn: SynthesisConfig | None = None) -> Iterator[Piece]:
        """Pieces of speech in order: a few sentences each, never spanning two paragraphs.

        Sentences with nothing speakable are skipped with a warning; raises TextError when nothing at all is.
        """
        syn = syn or SynthesisConfig()
        produced = False
        block_index = 0
        for paragraph_index, paragraph in enumerate(paragraphs):
            first_in_paragraph = True
            for block in blocks(split_sentences(paragraph), BLOCK_CHARS):
                with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                    if syn.seed is not None:
                        torch.manual_seed(syn.seed + block_index)
                    audio, timings = self._block(block, paragraph_index, syn)
                block_index += 1
                if not timings:
                    continue
                if not produced:
                    pause = 0.0
                elif first_in_paragraph:
                    pause = syn.paragraph_silence
                else:
                    pause = syn.sentence_silence
                produced = True
                first_in_paragraph = False
                yield Piece(paragraph_index, pause, audio, timings, sum(map(len, block)))
        if not produced:
            raise TextError("в тексте нечего произносить")

    def speak(self, text: str, syn: SynthesisConfig | None = None) -> Speech:
        """The whole text as one Speech with sentence timings (for texts that fit in memory)."""
        timeline = Timeline(self.sample_rate)
        parts: list[np.ndarray] = []
        for piece in self.stream(split_paragraphs(text), syn):
            parts += [timeline.place(piece), piece.audio]
        return Speech(np.concatenate(parts), self.sample_rate, timeline.sentences)

    def synthesize(self, text: str, syn: SynthesisConfig | None = None) -> np.ndarray:
        """float32 mono samples in [-1, 1] at `sample_rate`, loudness-normalized."""
        return self.speak(text, syn).audio
