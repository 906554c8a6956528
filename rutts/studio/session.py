"""One lesson open in the studio: its state, the edits a page may make, and the jobs it may start.

Lock order: the engine lock (the voice and its front end, one user at a time) before the state lock (the
manifest). Reading the state needs only the state lock, so the page stays responsive while a paragraph renders.
"""
from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

from rutts.files import UnreadableFile, read_utf8, write_text_atomic
from rutts.speech.lesson import EXTRA_FORMATS, write_lesson
from rutts.studio import state as stored
from rutts.studio.engine import Engine, lesson_pieces, stressed
from rutts.studio.state import Manifest, Paragraph, StudioError, conflict, sha
from rutts.studio.worker import Job, Worker
from rutts.text import CHARACTERS, PUNCTUATIONS, VOWELS, TextError, read_lexicon

SPEEDS = (0.5, 2.0)
PAUSES = (0.0, 5.0)
MAX_WORD_CHARS = 100


def studio_folder(lesson: Path) -> Path:
    return lesson.with_name(f"{lesson.stem}.studio")


def read_lesson(lesson: Path) -> str:
    try:
        return read_utf8(lesson, "Файл урока")
    except UnreadableFile as error:
        raise StudioError(str(error)) from None


def _number(value, low: float, high: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise StudioError(f"{what}: нужно число от {low} до {high}, получено {value!r}")
    return float(value)


def _text(value, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StudioError(f"{what}: нужен непустой текст")
    if len(value) > limit:
        raise StudioError(f"{what} длиннее {limit} символов", 413)
    return " ".join(value.split())  # one paragraph: line breaks inside it are spaces


class Session:
    def __init__(self, lesson: Path, engine: Engine, output: Path, meter=None, cer_threshold: float = 0.3):
        self.lesson = Path(lesson)
        self.engine = engine
        self.output = Path(output)
        self.meter = meter  # a callable (wav, text) → (cer, heard, meant), or None
        self.cer_threshold = cer_threshold
        self.lock = threading.Lock()
        self.engine_lock = threading.Lock()
        self.worker = Worker(refused=(TextError,))
        self.manifest, self.lesson_changed = Manifest.open(studio_folder(self.lesson), read_lesson(self.lesson))
        with self.engine_lock, self.lock:
            self._refresh_readings()

    # -- reading the state

    def _reading(self, p: Paragraph) -> str:
        return self.manifest.readings.get(self.engine.reading_key(p.text), "")

    def _refresh_readings(self) -> None:
        """Readings of every paragraph under the current lexicon (cached by front end and text); others dropped."""
        readings = {}
        for p in self.manifest.paragraphs:
            key = self.engine.reading_key(p.text)
            readings[key] = self.manifest.readings.get(key) or self.engine.reading(p.text)
        if readings != self.manifest.readings:
            self.manifest.readings = readings
            self.manifest.save()

    def _describe(self, index: int, p: Paragraph) -> dict:
        reading = self._reading(p)
        key = self.engine.key(reading, p)
        take = self.manifest.take(key)
        check = self.manifest.checks.get(key) if take else None
        if take:
            status = "flagged" if check and check["cer"] > self.cer_threshold else "rendered"
        else:
            status = "stale" if p.last_key else "new"
        takes = [{"seed": seed, "audio": f"files/takes/{k}.wav", "current": seed == p.seed}
                 for seed in p.seeds if self.manifest.take(k := self.engine.key(reading, p, seed))]
        return {"index": index, "text": p.text, "reading": reading, "status": status, "speed": p.speed,
                "pause": p.pause, "seed": p.seed, "takes": takes, "check": check,
                "audio": f"files/takes/{key}.wav" if take else None,
                "duration": take["duration"] if take else None}

    def state(self) -> dict:
        with self.lock:
            paragraphs = [self._describe(i, p) for i, p in enumerate(self.manifest.paragraphs)]
            version = self.manifest.version
        return {"version": version, "lesson": self.lesson.name, "output": str(self.output),
                "meter": self.meter is not None, "threshold": self.cer_threshold,
                "job": self.worker.status(), "paragraphs": paragraphs}

    # -- edits (each one: the version the page saw, else 409)

    def _edit(self, version, index, change) -> None:
        with self.engine_lock, self.lock:
            self.manifest.check_version(version)
            if index is not None:
                change(self.manifest.paragraph(index))
            else:
                change(None)
            self._refresh_readings()
            self.manifest.edited()

    def edit(self, version, index, text=None, speed=None, pause=None) -> None:
        if text is None and speed is None and pause is None:
            raise StudioError("нечего менять: нужен text, speed или pause")
        text = None if text is None else _text(text, "текст абзаца", stored.MAX_PARAGRAPH_CHARS)
        speed = None if speed is None else _number(speed, *SPEEDS, "скорость")
        pause = None if pause is None else _number(pause, *PAUSES, "пауза после абзаца")

        def change(p: Paragraph) -> None:
            if text is not None:
                p.text = text
            if speed is not None:
                p.speed = speed
            if pause is not None:
                p.pause = pause
        self._edit(version, index, change)

    def stress(self, version, index, offset) -> None:
        def change(p: Paragraph) -> None:
            try:
                p.text = stressed(p.text, offset)
            except ValueError:
                raise StudioError(f"в абзаце {index + 1} на месте {offset!r} нет гласной") from None
            if len(p.text) > stored.MAX_PARAGRAPH_CHARS:
                raise StudioError(f"текст абзаца длиннее {stored.MAX_PARAGRAPH_CHARS} символов", 413)
        self._edit(version, index, change)

    def choose(self, version, index, seed) -> None:
        def change(p: Paragraph) -> None:
            if seed not in p.seeds or isinstance(seed, bool):
                raise StudioError(f"у абзаца {index + 1} нет дубля {seed!r}")
            p.seed = seed
            p.last_key = self.engine.key(self._reading(p), p)
        self._edit(version, index, change)

    def add_word(self, version, word, reading) -> None:
        """'Always read this word as …': a line in the lesson's lexicon; paragraphs whose reading changes go stale."""
        word = _text(word, "слово", MAX_WORD_CHARS)
        reading = _text(reading, "чтение", MAX_WORD_CHARS * 2)
        if word.startswith("#"):
            raise StudioError("слово не может начинаться с «#»: такая строка словаря — комментарий")
        if set(reading.lower()) - set(CHARACTERS + PUNCTUATIONS) or not set(reading.lower()) & set(VOWELS):
            raise StudioError("чтение пишите русскими буквами, ударение — «+» перед гласной: «эс-кью-+эль»")
        path = self.engine.lexicon_path
        if self.worker.busy():
            raise conflict("идёт работа: словарь можно менять, когда она закончится")

        def change(_) -> None:
            old = read_utf8(path, "Файл словаря") if path.is_file() else ""
            new = old + ("" if not old or old.endswith("\n") else "\n") + f"{word}\t{reading}\n"
            trial = path.with_name(f".{path.name}.check")
            try:  # the line must parse as the kit reads lexicons (word, tab, reading) before it goes into her file
                trial.write_text(new, encoding="utf-8")
                if read_lexicon(trial).get(word) is None:
                    raise TextError(f"слово «{word}» так не записать")
            except TextError as error:
                raise StudioError(f"строка словаря не подходит: {error}") from None
            finally:
                trial.unlink(missing_ok=True)
            write_text_atomic(path, new)
            self.engine.reload_lexicon()
        self._edit(version, None, change)

    def save_lesson(self, version) -> Path | None:
        """The edited text back into the lesson file; the file as it was is kept as <lesson>.<time>.bak."""
        with self.lock:
            self.manifest.check_version(version)
            current = read_lesson(self.lesson)
            if sha(current) != self.manifest.lesson_sha:
                raise conflict(f"{self.lesson.name} изменён на диске другой программой: ничего не записано")
            text = "\n\n".join(p.text for p in self.manifest.paragraphs) + "\n"
            if text == current:
                return None
            backup = self.lesson.with_name(f"{self.lesson.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
            write_text_atomic(backup, current)
            write_text_atomic(self.lesson, text)
            self.manifest.lesson_sha = sha(text)
            self.manifest.edited()
            return backup

    # -- jobs

    def render(self, indices=None) -> Job:
        """Render the paragraphs without a take for their current key (all of them, or those listed)."""
        if indices is not None and not isinstance(indices, list):
            raise StudioError("indices: нужен список номеров абзацев")
        with self.lock:
            if indices is None:
                indices = range(len(self.manifest.paragraphs))
            for index in indices:
                self.manifest.paragraph(index)
            todo = [i for i in indices
                    if not self.manifest.take(self.engine.key(self._reading(self.manifest.paragraphs[i]),
                                                              self.manifest.paragraphs[i]))]
        return self.worker.start("render", len(todo), lambda job: self._render_all(job, todo))

    def another_take(self, version, index) -> Job:
        if self.worker.busy():
            raise conflict("уже идёт работа: дождитесь её конца или отмените")

        def change(p: Paragraph) -> None:
            p.seed = secrets.randbelow(2**31)
            p.seeds.append(p.seed)
        self._edit(version, index, change)
        return self.render([index])

    def _render_all(self, job: Job, todo: list[int]) -> str:
        for index in todo:
            if job.cancel.is_set():
                break
            job.current = index
            with self.engine_lock:
                with self.lock:
                    p = self.manifest.paragraph(index)
                    text, reading = p.text, self._reading(p)
                    syn, key = self.engine.synthesis(p), self.engine.key(reading, p)
                    done = self.manifest.take(key) is not None
                if not done:
                    record = self.engine.render(text, syn, self.manifest.take_path(key))
                    record.update(reading=reading, seed=syn.seed)
                    self.manifest.save_take(key, record)
                    job.rendered += 1
                with self.lock:
                    if self.engine.key(self._reading(p), p) == key:
                        p.last_key = key
                        self.manifest.save()
            if self.meter is not None and key not in self.manifest.checks:
                cer, heard, meant = self.meter(self.manifest.take_path(key), text)
                with self.lock:
                    self.manifest.checks[key] = {"cer": cer, "heard": heard, "meant": meant}
                    self.manifest.save()
            job.done += 1
        return f"озвучено абзацев: {job.rendered}"

    def export(self) -> Job:
        """What `inference.py --course` writes, from the chosen takes, plus OGG/Opus and MP3 of the whole."""
        with self.lock:
            takes, missing = [], []
            for number, p in enumerate(self.manifest.paragraphs, 1):
                key = self.engine.key(self._reading(p), p)
                record = self.manifest.take(key)
                if record is None:
                    missing.append(number)
                else:
                    takes.append((self.manifest.take_path(key), record, p.pause))
            texts = [p.text for p in self.manifest.paragraphs]
        if missing:
            raise conflict(f"не озвучены абзацы {', '.join(map(str, missing[:10]))}: сначала озвучьте их")
        name = self.lesson.stem
        rate = takes[0][1]["sample_rate"]

        def work(job: Job) -> str:
            def step(piece) -> None:
                job.done, job.current = piece.paragraph + 1, piece.paragraph
            timeline, _ = write_lesson(self.output, name, lesson_pieces(takes, texts), rate, EXTRA_FORMATS, step)
            seconds = timeline.samples / rate
            return f"записано в {self.output}: {name}.wav ({seconds:.1f} с), .srt, .ogg, .mp3 и абзацы"
        return self.worker.start("export", len(takes), work)
