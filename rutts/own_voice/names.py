"""The sentence number in a recording's file name, as people and their programs name files.

The number is the one the script gave the sentence (script.md's "17.", the id 000017_RUSLAN), written first, after
at most a recorder's word ("Запись 17", "New Recording 017", "Voice 017"). What follows it may only mark another
take or a copy of the same sentence:

    017 (2), 017(1)                   Windows Explorer, Chrome, Firefox: a second file of the same name
    017 - Copy, 017 - Копия (2)       Windows Explorer's copy
    017 copy, 017 copy 2, 017 2       macOS Finder's copy ("Keep both")
    017-1                             Safari's download
    017_take2, 017 take 2, 017 дубль2, 017-2, 017_2, 017.2, 017a    her own takes

Anything else ("Урок 3 фраза 17", a date "2024-05-01 10-32-11") has no number: it is listed, never guessed.
"""
from __future__ import annotations

import re
import unicodedata

_RECORDER_WORDS = ("new recording", "recording", "record", "rec", "voice memo", "voice", "audio", "track", "sentence",
                   "phrase", "новая запись", "запись", "звукозапись", "аудио", "диктофон", "трек", "фраза",
                   "предложение")
_WORD = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in _RECORDER_WORDS)
_COPY = r"""(?:\s*[-–—]\s*(?:copy|копия)(?:\s*\(\d+\))?   # Windows: " - Copy", " - Copy (2)", " — копия"
             | \s*\(\d+\)                                # a download or a second file: " (1)", "(1)"
             | [\s_-]*(?:copy|копия)(?:\s+\d+)?)         # macOS: " copy", " copy 2"; "_copy"
"""
_TAKE = r"""(?:[\s_-]*(?:take|дубль|t)[\s_-]*\d+          # "_take2", " take 2", "-дубль2"
             | [\s_.-]\d{1,2}                            # "-2", "_2", ".2", macOS " 2"
             | (?<=\d)[a-zа-я])                          # "017a"
"""
_NAME = re.compile(rf"(?:(?:{_WORD})[\s_.-]*)?(?P<number>\d{{1,6}})(?:_ruslan)?{_COPY}*{_TAKE}?{_COPY}*",
                   re.IGNORECASE | re.VERBOSE)


def sentence_number(stem: str) -> int | None:
    """The sentence number of a file name without its extension; None when the name does not say it."""
    match = _NAME.fullmatch(unicodedata.normalize("NFC", stem).strip())
    return int(match["number"]) if match else None
