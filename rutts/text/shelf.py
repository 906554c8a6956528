"""Readings hidden from the later steps of the front end behind placeholders, so that ru-normalizr passes them
through instead of reading them a second time."""
from __future__ import annotations

import re

PLACEHOLDER = "[\U00102000-\U0010fffd]"  # one hidden reading, in a pattern


class Shelf:
    """Readings hidden from later steps, one private-use character each; ru-normalizr passes them through."""

    FIRST = 0x102000  # above U+1017FF, the last private-use range ru-normalizr reserves for itself
    PATTERN = re.compile("[\U00102000-\U0010fffd]")

    def __init__(self):
        self._readings: list[str] = []

    def put(self, reading: str) -> str:
        self._readings.append(reading)
        return chr(self.FIRST + len(self._readings) - 1)

    def restore(self, text: str) -> str:
        while self.PATTERN.search(text):  # a reading may hold an earlier placeholder ("до <версии …>")
            text = self.PATTERN.sub(lambda m: self._readings[ord(m.group()) - self.FIRST], text)
        return text
