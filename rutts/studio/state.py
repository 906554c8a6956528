"""What the studio keeps on disk for one lesson, in `<lesson>.studio/` beside it:

    manifest.json        the paragraphs (text as edited, speed, pause after, seed and the seeds tried), the
                         lesson file's hash when it was read, readings cached by front end, meter results, a version
    takes/<key>.wav      one rendered paragraph; <key> hashes its reading, the model, the vocoder, the settings and
    takes/<key>.json     the seed. The .json (sentence times) is written after the .wav: a take without it is none.

Every file is written atomically, so killing the server (SIGKILL included) loses at most the take being rendered.
The version grows with every edit a person makes; an edit sent with an older version is refused (two tabs).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rutts.files import write_text_atomic
from rutts.text import split_paragraphs

MANIFEST = "manifest.json"
TAKES = "takes"
FORMAT = 1
MAX_PARAGRAPH_CHARS = 4000  # one paragraph, as typed; the bot's limit for one message is of the same order
MAX_LESSON_CHARS = 300_000  # about a 5-hour lesson
MAX_PARAGRAPHS = 2000
DEFAULT_SEED = 1234


class StudioError(ValueError):
    """A refused request or a lesson that cannot be opened; the message is Russian, `status` the HTTP code."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def conflict(message: str) -> StudioError:
    return StudioError(message, 409)


@dataclass
class Paragraph:
    text: str
    speed: float = 1.0
    pause: float = 0.8  # seconds of silence after it in the exported lesson
    seed: int = DEFAULT_SEED
    seeds: list[int] = field(default_factory=lambda: [DEFAULT_SEED])  # takes tried, oldest first
    last_key: str = ""  # the key of the take last rendered or chosen: a different current key means stale


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def lesson_paragraphs(text: str) -> list[str]:
    """The lesson split as `inference.py --course` splits it; StudioError when it is empty or too long."""
    if len(text) > MAX_LESSON_CHARS:
        raise StudioError(f"урок длиннее {MAX_LESSON_CHARS} символов: разделите его на несколько", 413)
    paragraphs = split_paragraphs(text)
    if not paragraphs:
        raise StudioError("в уроке нет текста (после удаления разметки он пустой)")
    if len(paragraphs) > MAX_PARAGRAPHS:
        raise StudioError(f"в уроке больше {MAX_PARAGRAPHS} абзацев: разделите его на несколько", 413)
    long = [n for n, p in enumerate(paragraphs, 1) if len(p) > MAX_PARAGRAPH_CHARS]
    if long:
        raise StudioError(f"абзацы {', '.join(map(str, long[:5]))} длиннее {MAX_PARAGRAPH_CHARS} символов: "
                          "разбейте их пустой строкой", 413)
    return paragraphs


class Manifest:
    """The lesson's studio state; callers hold the studio's lock around reads and changes."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / MANIFEST
        self.takes = self.folder / TAKES
        self.version = 0
        self.lesson_sha = ""
        self.paragraphs: list[Paragraph] = []
        self.readings: dict[str, str] = {}  # sha(front end signature + text) → reading
        self.checks: dict[str, dict] = {}  # take key → {"cer", "heard", "meant"}

    @classmethod
    def open(cls, folder: Path, lesson_text: str) -> tuple[Manifest, bool]:
        """The state for this lesson text, and whether the lesson file changed since the studio last read it
        (then its paragraphs are read again; settings are kept for paragraphs whose text is unchanged)."""
        manifest = cls(folder)
        manifest.takes.mkdir(parents=True, exist_ok=True)
        if manifest.path.is_file():
            try:
                data = json.loads(manifest.path.read_text(encoding="utf-8"))
                manifest._load(data)
            except (ValueError, KeyError, TypeError) as error:
                raise StudioError(f"{manifest.path} повреждён ({error}): переименуйте папку {folder.name}, "
                                  "и студия начнёт заново (озвученные дубли останутся в ней)") from None
        changed = manifest.lesson_sha != sha(lesson_text)
        if changed:
            texts = lesson_paragraphs(lesson_text)
            earlier = {p.text: p for p in manifest.paragraphs}
            manifest.paragraphs = [earlier.get(text) or Paragraph(text) for text in texts]
            manifest.lesson_sha = sha(lesson_text)
            manifest.version += 1
            manifest.save()
        return manifest, changed

    def _load(self, data: dict) -> None:
        if data.get("format") != FORMAT:
            raise ValueError(f"неизвестный формат {data.get('format')!r}")
        self.version = int(data["version"])
        self.lesson_sha = str(data["lesson_sha"])
        self.paragraphs = [Paragraph(**p) for p in data["paragraphs"]]
        self.readings = dict(data["readings"])
        self.checks = dict(data["checks"])

    def save(self) -> None:
        data = {
            "format": FORMAT, "version": self.version, "lesson_sha": self.lesson_sha,
            "paragraphs": [asdict(p) for p in self.paragraphs],
            "readings": self.readings,
            "checks": self.checks,
        }
        write_text_atomic(self.path, json.dumps(data, ensure_ascii=False, indent=1))

    def paragraph(self, index) -> Paragraph:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.paragraphs):
            raise StudioError(f"нет абзаца с номером {index!r}")
        return self.paragraphs[index]

    def check_version(self, version) -> None:
        if version != self.version:
            raise conflict("урок изменён в другой вкладке или окне: страница обновлена, повторите правку")

    def edited(self) -> None:
        self.version += 1
        self.save()

    # -- takes

    def take_path(self, key: str) -> Path:
        return self.takes / f"{key}.wav"

    def take(self, key: str) -> dict | None:
        """The take's record (duration, sentence times), or None when it was never finished."""
        record = self.takes / f"{key}.json"
        if not record.is_file() or not self.take_path(key).is_file():
            return None
        try:
            return json.loads(record.read_text(encoding="utf-8"))
        except ValueError:
            return None

    def save_take(self, key: str, record: dict) -> None:
        write_text_atomic(self.takes / f"{key}.json", json.dumps(record, ensure_ascii=False))
