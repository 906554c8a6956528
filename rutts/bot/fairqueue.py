"""The bot's waiting line: fair, bounded, rate-limited, plus how a long text is cut into voice notes.

No Telegram code here, so the rules can be read and tested on their own.
"""
from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Generic, TypeVar

from rutts.text import split_sentences

Job = TypeVar("Job")


class LimitError(Exception):
    """A request that the limits turn away; the message is meant for the user (Russian)."""


class FairQueue(Generic[Job]):
    """Jobs in order per user and round-robin between users, so one long list cannot starve the others.

    Each job gets a round: a user's first waiting job goes into the current round, the next one into the
    following round, and so on. Jobs are served by (round, arrival).
    """

    def __init__(self, max_total: int, max_per_user: int):
        self.max_total = max_total
        self.max_per_user = max_per_user
        self._waiting: list[tuple[int, int, int, Job]] = []  # (round, arrival, user, job), sorted
        self._last_round: dict[int, int] = {}
        self._round = 0
        self._arrivals = itertools.count()
        self._in_progress: dict[int, int] = {}
        self._changed = asyncio.Event()
        self._closed = False

    def __len__(self) -> int:
        return len(self._waiting)

    def pending(self, user: int) -> int:
        """Jobs of this user that are waiting or being worked on."""
        return sum(1 for entry in self._waiting if entry[2] == user) + self._in_progress.get(user, 0)

    def put(self, user: int, job: Job) -> int:
        """Queue a job; returns how many jobs are ahead of it (the one in progress included)."""
        if self._closed:
            raise LimitError("Бот останавливается и новые тексты не принимает. Пришлите текст чуть позже.")
        if self.pending(user) >= self.max_per_user:
            raise LimitError(
                f"У вас уже {self.max_per_user} {_texts(self.max_per_user)} в работе. "
                "Дождитесь ответа и пришлите этот текст ещё раз."
            )
        if len(self._waiting) >= self.max_total:
            raise LimitError(
                f"Очередь заполнена ({self.max_total} {_texts(self.max_total)}). Попробуйте через пару минут."
            )
        round_ = max(self._round, self._last_round.get(user, -1) + 1)
        entry = (round_, next(self._arrivals), user, job)
        ahead = sum(1 for other in self._waiting if other[:2] < entry[:2]) + sum(self._in_progress.values())
        self._waiting.append(entry)
        self._waiting.sort(key=lambda e: e[:2])
        self._last_round[user] = round_
        self._changed.set()
        return ahead

    async def get(self) -> tuple[int, Job] | None:
        """The next (user, job); None once the queue is closed. Call `done(user)` when the job is finished."""
        while not self._waiting:
            if self._closed:
                return None
            self._changed.clear()
            await self._changed.wait()
        self._round, _, user, job = self._waiting.pop(0)
        self._in_progress[user] = self._in_progress.get(user, 0) + 1
        return user, job

    def done(self, user: int) -> None:
        self._in_progress[user] -= 1
        if not self._in_progress[user]:
            del self._in_progress[user]

    def close(self) -> list[Job]:
        """Refuse new jobs and hand back the waiting ones (so their owners can be told)."""
        self._closed = True
        dropped = [entry[3] for entry in self._waiting]
        self._waiting.clear()
        self._changed.set()
        return dropped


class RateLimiter:
    """At most `limit` accepted requests per user in any `window` seconds (a sliding window).

    A user with no request inside the window is forgotten, and at most `max_users` are remembered (the longest
    silent forgotten first), so strangers passing by never pile up in memory."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 max_users: int = 10_000):
        self.limit = limit
        self.window = window
        self.max_users = max_users
        self._clock = clock
        self._times: OrderedDict[int, deque[float]] = OrderedDict()  # the most recently active last

    def wait_time(self, user: int) -> float:
        """Seconds until this user may send again; 0 if now."""
        times = self._times.get(user)
        if not times:
            return 0.0
        now = self._clock()
        while times and times[0] <= now - self.window:
            times.popleft()
        return 0.0 if len(times) < self.limit else times[0] + self.window - now

    def record(self, user: int) -> None:
        now = self._clock()
        self._times.setdefault(user, deque()).append(now)
        self._times.move_to_end(user)
        while self._times:
            oldest, times = next(iter(self._times.items()))
            if times[-1] > now - self.window and len(self._times) <= self.max_users:
                break
            del self._times[oldest]

    def __len__(self) -> int:
        """Users remembered."""
        return len(self._times)


def split_voice_notes(text: str, max_chars: int) -> list[str]:
    """Whole sentences grouped into pieces of at most `max_chars`, in order; blank lines between paragraphs are
    kept (the synthesizer pauses longer there). An overlong sentence is cut at a comma, else at a space."""
    pieces: list[str] = []
    current = ""
    for paragraph in re.split(r"\n\s*\n", text):
        joiner = "\n\n"
        for sentence in split_sentences(paragraph):
            for part in _cut(sentence.strip(), max_chars):
                if current and len(current) + len(joiner) + len(part) > max_chars:
                    pieces.append(current)
                    current = part
                else:
                    current = f"{current}{joiner}{part}" if current else part
                joiner = " "
    if current:
        pieces.append(current)
    return pieces


def _cut(sentence: str, max_chars: int) -> list[str]:
    parts = []
    while len(sentence) > max_chars:
        head = sentence[: max_chars + 1]
        match = re.search(r"[,;:—–-]\s[^,;:—–-]*$", head) or re.search(r"\s\S*$", head)
        end = match.start() + 1 if match and match.start() > 0 else max_chars
        parts.append(sentence[:end].strip())
        sentence = sentence[end:].strip()
    return parts + ([sentence] if sentence else [])


def _texts(count: int) -> str:
    if count % 10 == 1 and count % 100 != 11:
        return "текст"
    if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        return "текста"
    return "текстов"
