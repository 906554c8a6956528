"""A narrated lesson written into its folder: one WAV per paragraph (<name>_001.wav, ...), the whole lesson
(<name>.wav), its subtitles (<name>.srt) and, if asked, the whole lesson as OGG/Opus and MP3.

Used by `inference.py --course` and by the studio's export. Everything is built in a hidden folder inside the
output folder and moved into place only when the lesson is complete, so a failure or Ctrl-C leaves the earlier
lesson as it was; after the move, files of an earlier lesson of the same name that this one did not write
(<name>_004.wav of a longer version, say) are removed. Other files in the folder are never touched.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from rutts.audio import write_audio
from rutts.files import TEMP_SUFFIX
from rutts.speech.subtitles import subtitles
from rutts.speech.timeline import Piece, Timeline

EXTRA_FORMATS = (".ogg", ".mp3")  # what the studio adds to what --course writes


def lesson_files(folder: Path, name: str) -> list[Path]:
    """Files in `folder` that a lesson called `name` writes (of any earlier run)."""
    own = re.compile(rf"{re.escape(name)}(_\d{{3,}}\.wav|\.wav|\.srt|\.ogg|\.mp3)")
    return sorted(p for p in folder.iterdir() if p.is_file() and own.fullmatch(p.name))


def _wav(path: Path, rate: int):
    import soundfile as sf

    return sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16", format="WAV")


def _remove_leftovers(folder: Path, name: str) -> None:
    """Build folders of this lesson that a killed process left behind."""
    for path in folder.glob(f".{glob_escape(name)}.*{TEMP_SUFFIX}"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def write_lesson(folder: Path, name: str, pieces: Iterable[Piece], sample_rate: int,
                 extra_formats: tuple[str, ...] = (), on_piece=None) -> tuple[Timeline, int]:
    """Write the lesson from its pieces in order (a paragraph's pieces consecutive, `Piece.pause_before` the
    silence before each). Returns the timeline (sentence times in the whole lesson) and how many paragraph
    files were written. `on_piece(piece)` is called after each piece (progress bars)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder, name)
    build = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=TEMP_SUFFIX, dir=folder))
    try:
        timeline = Timeline(sample_rate)
        count = 0
        with _wav(build / f"{name}.wav", sample_rate) as lesson:
            part, current = None, None
            try:
                for piece in pieces:
                    silence = timeline.place(piece)
                    lesson.write(silence)
                    lesson.write(piece.audio)
                    if piece.paragraph != current:  # a paragraph's own file starts with its speech
                        if part is not None:
                            part.close()
                        current, count = piece.paragraph, count + 1
                        part = _wav(build / f"{name}_{piece.paragraph + 1:03d}.wav", sample_rate)
                    else:
                        part.write(silence)
                    part.write(piece.audio)
                    if on_piece is not None:
                        on_piece(piece)
            finally:
                if part is not None:
                    part.close()
        (build / f"{name}.srt").write_text(subtitles(timeline.sentences), encoding="utf-8")
        if extra_formats:
            import soundfile as sf

            audio, _ = sf.read(build / f"{name}.wav", dtype="float32")
            for suffix in extra_formats:
                write_audio(build / f"{name}{suffix}", audio, sample_rate)
        written = {path.name for path in build.iterdir()}
        for path in sorted(build.iterdir()):
            os.replace(path, folder / path.name)
        for path in lesson_files(folder, name):
            if path.name not in written:
                path.unlink()
        return timeline, count
    finally:
        shutil.rmtree(build, ignore_errors=True)
