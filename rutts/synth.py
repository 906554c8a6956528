"""Speech from a trained GlowTTS: load a voice once, then synthesize many texts.

    text → paragraphs (Markdown stripped) → sentences → rutts.text front end → chunks that fit the model
         → GlowTTS (batched) → mel → Griffin-Lim in torch, or a Coqui vocoder → trimmed, faded chunks
         → pauses between chunks, sentences and paragraphs → loudness-normalized audio + sentence timings

`Voice.stream` yields the audio piece by piece (a few sentences at a time) so a whole lesson never has to sit
in memory; `Voice.speak` joins the pieces for short texts, `Voice.synthesize` returns only the samples.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import torch

from rutts.audio import normalize_loudness, trim_silence
from rutts.run_frontend import frontend_for
from rutts.text import CHARACTERS, PUNCTUATIONS, STRESS, FrontEnd, TextError, split_sentences
from rutts.vocoder import VoiceError, load_vocoder

log = logging.getLogger(__name__)

CHUNK_PAUSE_S = 0.12  # between two chunks of one long sentence (cut at a comma or a space)
FADE_S = 0.005  # fade at every chunk edge: a join never starts or stops mid-wave, so no clicks
EDGE_KEEP_MS = 20  # silence kept at a chunk's edges; the pauses between chunks are added on purpose
BLOCK_CHARS = 600  # sentences synthesized (and loudness-normalized) together: ~40 s of speech


@dataclass
class SynthesisConfig:
    """Knobs of one synthesis call; `inference.py` has one flag per field."""

    length_scale: float = 1.0  # > 1 slower, < 1 faster (speed = 1 / length_scale)
    noise_scale: float = 0.667  # variability of the voice; 0 = the same reading every time
    sentence_silence: float = 0.3  # seconds after each sentence
    paragraph_silence: float = 0.8  # seconds between paragraphs
    gl_iters: int = 16  # fast Griffin-Lim (momentum): 16 iterations already match 60 plain ones in spectral error
    gl_momentum: float = 0.99
    # Exponent on the magnitudes before Griffin-Lim. Coqui's audio.power (1.5 in config.json) is the worst of 1.0-1.5
    # on every score we have; PESQ-wb and DNSMOS peak at 1.2 for a male and a female voice. Speaker similarity to the
    # real voice falls from 1.0 on (0.97, 0.95, 0.90, 0.71 at 1.0, 1.1, 1.2, 1.5): README, "Гриффин-Лим".
    gl_power: float = 1.2
    seed: int | None = 1234  # same text + same seed → the same samples; None → different every time
    loudness_lufs: float = -16.0
    peak_dbfs: float = -1.0  # true-peak ceiling
    max_chunk_chars: int = 200  # longer sentences are cut at commas, then spaces (capped by the model's max_text_len)
    batch_size: int = 8  # chunks per model/Griffin-Lim call


@dataclass(frozen=True)
class SentenceTiming:
    text: str  # the sentence as written (Markdown stripped), for subtitles
    start: float  # seconds from the start of the audio it belongs to
    end: float
    paragraph: int


@dataclass
class Piece:
    """A few consecutive sentences of one paragraph, ready to write after `pause_before` seconds of silence."""

    paragraph: int
    pause_before: float  # 0 for the first piece, else a sentence or a paragraph pause
    audio: np.ndarray  # float32 mono, loudness-normalized, starts and ends with speech
    sentences: list[SentenceTiming]  # times from the start of `audio`
    source_chars: int  # characters of input text this piece covers (for progress bars)


@dataclass
class Speech:
    audio: np.ndarray
    sample_rate: int
    sentences: list[SentenceTiming] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.audio) / self.sample_rate


class Timeline:
    """Pieces laid end to end: where each starts, and its sentences' times from the start of the whole."""

    def __init__(self, sample_rate: int):
        self.sample_rate = sample_rate
        self.samples = 0
        self.sentences: list[SentenceTiming] = []

    def place(self, piece: Piece) -> np.ndarray:
        """Account for the piece; returns the silence that goes before its audio."""
        silence = np.zeros(round(piece.pause_before * self.sample_rate), np.float32)
        offset = (self.samples + silence.size) / self.sample_rate
        self.sentences += [replace(s, start=s.start + offset, end=s.end + offset) for s in piece.sentences]
        self.samples += silence.size + piece.audio.size
        return silence


# ---------------------------------------------------------------- text


_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HTML = re.compile(r"<[^>\n]+>")
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3}|~~|`+)(\S(?:.*?\S)?)\1")
_SENTENCE_END = re.compile(r"[.!?…:;]$")


def _plain_line(line: str) -> str:
    line = _IMAGE.sub("", line)
    line = _LINK.sub(r"\1", line)
    line = _HTML.sub(" ", line)
    line = _EMPHASIS.sub(r"\2", line)
    line = re.sub(r"^\s*>\s?", "", line)  # block quote
    return line.strip()


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of plain text from plain text or Markdown.

    Blank lines and headings start paragraphs; a heading or a list item without final punctuation gets a full
    stop so it is read as a sentence of its own. Markdown markup, links' targets, images and code blocks are
    dropped. Paragraphs with nothing left are left out.
    """
    paragraphs: list[list[str]] = [[]]
    in_code = False
    for raw in text.splitlines():
        if _FENCE.match(raw):
            in_code = not in_code
            continue
        heading = _HEADING.match(raw)
        if in_code or (not heading and _RULE.match(raw)) or not raw.strip():
            if not in_code:
                paragraphs.append([])
            continue
        line = _plain_line(heading.group(1) if heading else _LIST_ITEM.sub("", raw))
        if line and (heading or _LIST_ITEM.match(raw)):  # a sentence of its own, even in lowercase
            line = line[0].upper() + line[1:] + ("" if _SENTENCE_END.search(line) else ".")
        if heading:
            paragraphs += [[line], []]
        elif line:
            paragraphs[-1].append(line)
    return [joined for lines in paragraphs if (joined := " ".join(lines).strip())]


def split_chunks(text: str, max_chars: int) -> list[str]:
    """Cut a processed sentence into pieces of at most `max_chars`: at clause punctuation first, then at spaces.

    Never inside a word: a single word longer than `max_chars` stays whole.
    """
    if len(text) <= max_chars:
        return [text]
    chunks: list[str] = []
    for clause in re.split(r"(?<=[,;:.!?])\s+", text):
        parts = [clause] if len(clause) <= max_chars else clause.split(" ")
        for part in parts:
            if chunks and len(chunks[-1]) + 1 + len(part) <= max_chars:
                chunks[-1] += " " + part
            else:
                chunks.append(part)
    return chunks


def subtitles(sentences: Iterable[SentenceTiming]) -> str:
    """SRT text: one cue per sentence."""
    import srt

    cues = [
        srt.Subtitle(index, timedelta(seconds=s.start), timedelta(seconds=s.end), s.text)
        for index, s in enumerate(sentences, 1)
    ]
    return srt.compose(cues)


# ---------------------------------------------------------------- loading


def _find_checkpoint(folder: Path) -> Path:
    """The run's best_model.pth, or (a warning says so) its newest checkpoint that is not truncated."""
    from rutts.checkpoints import best_checkpoint

    checkpoint = best_checkpoint(folder)
    if checkpoint is None:
        runs = sorted(p.name for p in folder.iterdir() if p.is_dir() and best_checkpoint(p))
        hint = f"; это папка запусков? укажите одну из них: {', '.join(runs[:3])}" if runs else ""
        raise VoiceError(f"в папке {folder} нет читаемого чекпоинта (best_model.pth или checkpoint_*.pth){hint}")
    return checkpoint


def model_files(model: str | Path, config: str | Path | None = None) -> tuple[Path, Path]:
    """(checkpoint, config.json) of a run folder or a checkpoint file; VoiceError naming what is missing."""
    model = Path(model)
    if not model.exists():
        raise VoiceError(f"модель не найдена: {model}")
    checkpoint = _find_checkpoint(model) if model.is_dir() else model
    config = Path(config) if config else checkpoint.parent / "config.json"
    if not config.is_file():
        raise VoiceError(f"не найден конфиг модели {config}: укажите его через --config")
    return checkpoint, config


def _read_glowtts_config(path: Path):
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise VoiceError(f"{path} не читается как JSON: {error}") from None
    if not isinstance(data, dict) or data.get("model") != "glow_tts":
        kind = data.get("model") if isinstance(data, dict) else type(data).__name__
        is_vocoder = isinstance(data, dict) and "generator_model" in data
        hint = ": это вокодер, его передают через --vocoder" if is_vocoder else ""
        raise VoiceError(f"{path} — не конфиг GlowTTS (model = {kind!r}){hint}")
    config = GlowTTSConfig()
    try:
        config.from_dict(data)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise VoiceError(f"{path}: конфиг GlowTTS с ошибкой: {error}") from None
    return config


def _load_state(checkpoint: Path) -> dict:
    from trainer.io import load_fsspec

    try:
        state = load_fsspec(checkpoint, map_location="cpu")
    except Exception as error:  # torch raises many types for a file that is not a checkpoint
        raise VoiceError(f"{checkpoint} не читается как чекпоинт PyTorch ({type(error).__name__})") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise VoiceError(f"{checkpoint}: в файле нет весов модели (ключ 'model')")
    return state


def _check_matches(state: dict, model, checkpoint: Path, config_path: Path) -> None:
    """Name the mismatch instead of PyTorch's wall of size errors."""
    from rutts.checkpoints import describe_mismatch

    problem = describe_mismatch(state, model)
    if problem:
        raise VoiceError(f"чекпоинт {checkpoint.name} не подходит к конфигу {config_path}: {problem}; "
                         "возьмите config.json из папки его прогона")


# ---------------------------------------------------------------- the voice


def _faded(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Leading/trailing silence cut, then a short fade in and out."""
    wave = trim_silence(wave, sample_rate, keep_ms=EDGE_KEEP_MS)
    fade = min(len(wave) // 2, int(FADE_S * sample_rate))
    if fade:
        ramp = np.sin(np.linspace(0, np.pi / 2, fade, dtype=np.float32)) ** 2
        wave = wave.copy()
        wave[:fade] *= ramp
        wave[-fade:] *= ramp[::-1]
    return wave


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
        names in its vocoder.json, else Griffin-Lim (rutts.vocoder.load_vocoder). `lexicon` and `stress` as in
        training: the user's pronunciation file, automatic stress marks; None: as the run's frontend.json recorded
        them (rutts.run_frontend.frontend_for; a run without one: ./lexicon.txt, stress when the alphabet has "+")."""
        from TTS.tts.models.glow_tts import GlowTTS

        checkpoint, config_path = model_files(model, config)
        glow_config = _read_glowtts_config(config_path)
        vocab = (glow_config.characters.characters if glow_config.characters else None) or ""
        missing = "".join(sorted(set(CHARACTERS) - {STRESS} - set(vocab)))
        if missing and not glow_config.use_phonemes:
            raise VoiceError(
                f"модель обучена с другим набором символов: в алфавите {config_path} нет букв «{missing}», "
                "которые выдаёт русский фронтенд (rutts.text.CHARACTERS)"
            )
        state = _load_state(checkpoint)
        device = torch.device(device)
        glow = GlowTTS(glow_config)
        _check_matches(state, glow, checkpoint, config_path)
        glow.load_state_dict(state["model"])
        glow.eval()
        glow.store_inverse()  # what GlowTTS.load_checkpoint(eval=True) does: precomputed inverse convolutions
        glow.to(device)
        log.info("loaded %s (step %s) with %s", checkpoint, state.get("step"), config_path)
        vocoder_fn = load_vocoder(vocoder, vocoder_config, checkpoint.parent, glow.ap, glow_config.audio, device)
        if stress is None and STRESS not in vocab and not glow_config.use_phonemes:
            stress = False  # an alphabet without "+" cannot have been trained with stress marks
        try:  # as the run's training text was processed (a phoneme model's "+" marks are dropped later)
            frontend = frontend_for(checkpoint.parent, lexicon, stress)
        except TextError as error:
            raise VoiceError(str(error)) from None
        return cls(glow, frontend, vocoder_fn, device)

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
            return [_faded(wave, self.sample_rate) for wave in waves]

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
        rate = self.sample_rate
        parts: list[np.ndarray] = []
        timings: list[SentenceTiming] = []
        position = 0
        for sentence, chunks in plans:
            sentence_waves = [w for w in (next(waves) for _ in chunks) if w.size]
            if not sentence_waves:
                continue
            if parts:
                parts.append(np.zeros(round(syn.sentence_silence * rate), np.float32))
                position += parts[-1].size
            start = position
            for k, wave in enumerate(sentence_waves):
                if k:
                    parts.append(np.zeros(round(CHUNK_PAUSE_S * rate), np.float32))
                    position += parts[-1].size
                parts.append(wave)
                position += wave.size
            timings.append(SentenceTiming(sentence, start / rate, position / rate, paragraph))
        if not parts:
            return np.zeros(0, np.float32), []
        with self._timed("joining"):
            audio = normalize_loudness(np.concatenate(parts), rate, syn.loudness_lufs, syn.peak_dbfs)
        return audio.astype(np.float32, copy=False), timings

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
            sentences = split_sentences(paragraph)
            first_in_paragraph = True
            while sentences:
                size = 0
                count = 0
                while count < len(sentences) and (count == 0 or size + len(sentences[count]) <= BLOCK_CHARS):
                    size += len(sentences[count])
                    count += 1
                block, sentences = sentences[:count], sentences[count:]
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
                yield Piece(paragraph_index, pause, audio, timings, size)
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
