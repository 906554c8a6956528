"""Keep secrets such as the bot token out of the logs, whichever library logs them and wherever the log goes."""
from __future__ import annotations

import contextlib
import logging

HIDDEN = "<TOKEN>"

_secrets: set[str] = set()


def hide_in_logs(secret: str) -> None:
    """From now on every log record (message and traceback) shows HIDDEN instead of `secret`."""
    if not _secrets:
        logging.setLogRecordFactory(_redacting(logging.getLogRecordFactory()))
    _secrets.add(secret)


def redact(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, HIDDEN)
    return text


def _redacting(make_record):
    """A record factory rather than a handler filter: handlers added later (pytest's too) get clean records."""

    def make_redacted_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        with contextlib.suppress(Exception):  # a malformed message is logging's to report, not ours
            message = record.getMessage()
            if redact(message) != message:
                record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            trace = logging.Formatter().formatException(record.exc_info)
            if redact(trace) != trace:
                record.exc_text = redact(trace)  # formatters print exc_text rather than format exc_info again
        return record

    return make_redacted_record
