"""The offline meter as the studio uses it: one rendered paragraph → (CER, what Whisper heard, what was meant).
Whisper loads on the first paragraph it checks, in the worker, not when the studio opens."""
from __future__ import annotations

import threading
from pathlib import Path

from rutts.intelligibility import require_extra


class ParagraphCheck:
    def __init__(self, threads: int = 1):
        require_extra()  # IntelligibilityError (Russian) when the extra is not installed
        self.threads = threads
        self._meter = None
        self._lock = threading.Lock()

    def __call__(self, wav: Path, text: str) -> tuple[float, str, str]:
        from rutts.intelligibility import Meter

        with self._lock:
            if self._meter is None:
                self._meter = Meter(threads=self.threads)
            row = self._meter.score([(wav, text)]).rows[0]
        return float(row.cer), row.transcript, row.reference
