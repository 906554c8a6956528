"""Files written whole or not at all, and text files read with one clear error.

`atomic_output` writes a temporary file beside the target and renames it into place, so a killed process never
leaves a half-written file under the target name, only a ``*.partial`` file.
"""
from __future__ import annotations

import os
import re
import shutil
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


_STAGING, _OLD = ".build.", ".old."


@contextmanager
def build_aside(out: str | Path, owned: Iterable[str]) -> Iterator[Path]:
    """Build a command's outputs aside, then put them in `out` in place of everything its earlier run wrote there.

    Yields an empty staging folder inside `out` (`out` is created if missing): write every output into it. When
    the block finishes, the entries of `out` whose names match a glob pattern of `owned` (all that any run of the
    command writes there, e.g. "RUSLAN", "metadata_*.csv", "lesson*.wav") or a staged name are removed, and the
    staged entries moved into `out`: no file of the earlier run stays beside the new ones, and an empty staging
    folder just removes the earlier outputs. Anything else in `out` is never touched. When the block raises (or
    Ctrl-C), the staging folder is removed and `out` is exactly as it was. Only renames at the end touch `out`.

        with build_aside(corpus, ("metadata_train.csv", "metadata_val.csv")) as stage:
            (stage / "metadata_train.csv").write_text(...)
    """
    out = Path(out)
    owned = tuple(owned)
    out.mkdir(parents=True, exist_ok=True)
    for leftover in (*out.glob(f"{_STAGING}*{TEMP_SUFFIX}"), *out.glob(f"{_OLD}*{TEMP_SUFFIX}")):
        shutil.rmtree(leftover, ignore_errors=True)  # a killed run's; its outputs never reached `out`
    stage = Path(tempfile.mkdtemp(prefix=_STAGING, suffix=TEMP_SUFFIX, dir=out))
    try:
        yield stage
        staged = [entry.name for entry in stage.iterdir()]
        old = Path(tempfile.mkdtemp(prefix=_OLD, suffix=TEMP_SUFFIX, dir=out))
        replaced = [entry.name for entry in out.iterdir() if entry.name in staged
                    or (entry not in (stage, old) and any(entry.match(pattern) for pattern in owned))]
        moved_in = []
        try:
            for name in replaced:
                os.replace(out / name, old / name)
            for name in staged:
                os.replace(stage / name, out / name)
                moved_in.append(name)
        except BaseException:  # e.g. Windows refuses to move a file another program holds open: undo
            for name in moved_in:
                os.replace(out / name, stage / name)
            for entry in old.iterdir():
                os.replace(entry, out / entry.name)
            old.rmdir()
            raise
        shutil.rmtree(old)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
