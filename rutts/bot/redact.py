"""Keep secrets such as the bot token out of everything the process writes about itself: log records (whichever
library logs them and wherever the log goes) and the tracebacks Python prints outside logging."""
from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading

HIDDEN = "<TOKEN>"

_secrets: set[str] = set()


def keep_secret(secret: str) -> None:
    """From now on `secret` shows as HIDDEN in every log record (message, exc_info, stack_info) and in what
    Python prints for uncaught exceptions: in the main thread, in other threads, and unraisable ones. asyncio
    reports the exceptions of callbacks and tasks through logging, so those are covered too."""
    if not _secrets:
        logging.setLogRecordFactory(_redacting(logging.getLogRecordFactory()))
        sys.excepthook = _printing_redacted(sys.excepthook)
        threading.excepthook = _printing_redacted(threading.excepthook)
        sys.unraisablehook = _printing_redacted(sys.unraisablehook)
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
                # Formatters print exc_text rather than format exc_info again; handlers that read exc_info
                # themselves would find the secret in the exception, so it goes.
                record.exc_text, record.exc_info = redact(trace), None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    return make_redacted_record


def _printing_redacted(hook):
    """The hook as it was (Python's default printer, or whatever was installed), its output redacted."""

    def redacted_hook(*args) -> None:
        printed = io.StringIO()
        with contextlib.redirect_stderr(printed):
            hook(*args)
        if sys.stderr is not None:  # None under pythonw on Windows
            sys.stderr.write(redact(printed.getvalue()))
            sys.stderr.flush()

    return redacted_hook
