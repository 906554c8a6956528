"""One background job at a time (rendering, export), cancellable, its progress read by polling."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from rutts.studio.state import StudioError, conflict

log = logging.getLogger(__name__)


@dataclass
class Job:
    id: int
    kind: str  # "render" or "export"
    total: int
    done: int = 0
    rendered: int = 0  # paragraphs actually synthesized (a take found in the cache is not)
    current: int | None = None  # the paragraph being worked on
    state: str = "running"  # running, done, cancelled, failed
    message: str = ""
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "cancel"}


class Worker:
    def __init__(self, refused: tuple[type[Exception], ...] = ()):
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._refused = (StudioError, OSError, *refused)  # their messages are for the user
        self.job: Job | None = None
        self._ids = 0

    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, kind: str, total: int, work: Callable[[Job], str]) -> Job:
        """Run `work(job)` in the background; it returns the message shown when it is done."""
        with self._lock:
            if self.busy():
                raise conflict("уже идёт работа: дождитесь её конца или отмените")
            self._ids += 1
            self.job = Job(self._ids, kind, total)
            self._thread = threading.Thread(target=self._run, args=(self.job, work), daemon=True,
                                            name=f"studio-{kind}")
            self._thread.start()
            return self.job

    def _run(self, job: Job, work: Callable[[Job], str]) -> None:
        try:
            message = work(job)
            job.state, job.message = ("cancelled", "отменено") if job.cancel.is_set() else ("done", message)
        except self._refused as error:
            job.state, job.message = "failed", str(error)
        except Exception as error:  # a bug: the page says so, the terminal gets the traceback
            log.exception("studio job failed")
            job.state, job.message = "failed", f"внутренняя ошибка: {error}"
        finally:
            job.current = None

    def cancel(self) -> bool:
        if not self.busy():
            return False
        self.job.cancel.set()
        return True

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def status(self) -> dict | None:
        return self.job.as_dict() if self.job else None
