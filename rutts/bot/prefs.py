"""Per-user bot settings (speech speed) in a small JSON file that survives restarts."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from rutts.files import atomic_output

log = logging.getLogger(__name__)

MIN_SPEED = 0.5
MAX_SPEED = 2.0


class UserPrefs:
    """{"<user id>": {"speed": 1.2}}; every change is written at once, atomically."""

    def __init__(self, path: str | Path, default_speed: float = 1.0):
        self.path = Path(path)
        self.default_speed = default_speed
        self._data: dict[str, dict] = {}
        if self.path.exists():
            try:
                self._data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                log.warning("cannot read %s (%s): starting with default settings", self.path, error)

    def speed(self, user: int) -> float:
        return float(self._data.get(str(user), {}).get("speed", self.default_speed))

    def set_speed(self, user: int, speed: float) -> None:
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise ValueError(f"speed {speed} outside [{MIN_SPEED}, {MAX_SPEED}]")
        self._data.setdefault(str(user), {})["speed"] = speed
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.path) as temp:
            temp.write_text(json.dumps(self._data, ensure_ascii=False, indent=1), encoding="utf-8")
