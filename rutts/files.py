"""Files written whole or not at all, and text files read with one clear error.

`atomic_output` writes a temporary file beside the target and renames it into place, so a killed process never
leaves a half-written file under the target name, only a ``*.partial`` file.
"""
from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_SUFFIX = ".partial"


class UnreadableFile(ValueError):
    """A text file that is missing, unreadable or not UTF-8; the message (Russian) names it and what to do."""


def read_utf8(path: str | Path, what: str) -> str:
    """The text of a UTF-8 file (a BOM is dropped); `what` names it in the error ("Файл словаря")."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UnreadableFile(f"{what} не найден: {path}") from None
    except UnicodeDecodeError:
        raise UnreadableFile(f"{what} {path} не в кодировке UTF-8: сохраните его как UTF-8") from None
    except OSError as error:
        raise UnreadableFile(f"{what} {path} не читается: {error.strerror}") from None


# What atomic_output's mkstemp names look like: ".<target>.<8 random characters>.partial".
_TEMP_NAME = re.compile(rf"\.(?P<target>.+)\.[a-z0-9_]{{8}}{re.escape(TEMP_SUFFIX)}")


def stale_temp_files(folder: str | Path, targets: Iterable[str]) -> list[Path]:
    """Temporary files atomic_output left in `folder` for these target names when its process was killed;
    other ``*.partial`` files (anyone else's) are not listed."""
    targets = set(targets)
    return sorted(
        path for path in Path(folder).glob(f".*{TEMP_SUFFIX}")
        if (match := _TEMP_NAME.fullmatch(path.name)) and match.group("target") in targets
    )


_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in path's folder; it replaces path only if the block finishes without error."""
    path = Path(path)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(handle)
    temp = Path(temp)
    try:
        yield temp
        os.chmod(temp, 0o666 & ~_UMASK)  # mkstemp makes the file private; give it the usual permissions
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> bool:
    """Write UTF-8 text (newlines as given) atomically; False if the file already holds it."""
    path = Path(path)
    data = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return False
    with atomic_output(path) as temp:
        temp.write_bytes(data)
    return True
