"""What the kit's command lines share: one Russian line per error, the exit codes, argparse value types.

Exit codes: 0 done · 1 the work failed midway · 2 bad input or setup, nothing was done · 130 interrupted (Ctrl-C or
SIGTERM). This module and the command lines print; the rest of the package logs.
"""
from __future__ import annotations

import argparse
import errno
import re
import sys
from collections.abc import Callable
from pathlib import Path

_OS_REASONS = {
    errno.ENOENT: "такого пути нет",
    errno.ENOTDIR: "часть пути — файл, а не папка",
    errno.EEXIST: "это файл, а не папка",
    errno.EISDIR: "это папка, а не файл",
    errno.EACCES: "нет прав на запись",
    errno.EPERM: "нет прав на запись",
    errno.EROFS: "диск только для чтения",
    errno.ENOSPC: "нет места на диске",
}


def os_reason(error: OSError) -> str:
    return _OS_REASONS.get(error.errno, error.strerror or str(error))


def say_error(message: str) -> None:
    print(f"Ошибка: {message}", file=sys.stderr)


# argparse's own messages (Python 3.9-3.13), said in Russian; a type's ArgumentTypeError is Russian already.
_ARGPARSE_RU = [
    (r"the following arguments are required: (.+)", r"не хватает аргументов: \1"),
    (r"unrecognized arguments: (.+)", r"неизвестные аргументы: \1"),
    (r"one of the arguments (.+) is required", r"нужен один из аргументов: \1"),
    (r"ambiguous option: (\S+) could match (.+)", r"неоднозначный флаг \1: подходят \2"),
    (r"argument (\S+): invalid choice: (.+?) \(choose from (.+)\)", r"\1: нет варианта \2 (есть \3)"),
    (r"argument (\S+): invalid \S+ value: (.+)", r"\1: неверное значение \2"),
    (r"argument (\S+): expected one argument", r"\1: нужно значение"),
    (r"argument (\S+): expected at least one argument", r"\1: нужно хотя бы одно значение"),
    (r"argument (\S+): expected (.+) arguments?", r"\1: нужно значений: \2"),
    (r"argument (\S+): not allowed with argument (\S+)", r"\1 нельзя вместе с \2"),
    (r"argument (\S+): ignored explicit argument (.+)", r"\1: лишнее значение \2"),
    (r"argument (\S+): (.+)", r"\1: \2"),
]


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose mistakes are said as the kit says errors: one Russian line "Ошибка: …" on stderr, exit code 2
    (argparse itself prints its usage and an English line)."""

    def error(self, message: str):
        for pattern, russian in _ARGPARSE_RU:
            if re.fullmatch(pattern, message, re.DOTALL):
                message = re.sub(pattern, russian, message, flags=re.DOTALL)
                break
        say_error(f"{message} (справка: {self.prog} --help)".replace("\n", " "))
        sys.exit(2)


def guarded(work: Callable[[], int], refused: tuple[type[Exception], ...] = (), interrupted: str = "Прервано.") -> int:
    """`work()`'s exit code; an error of `refused` (bad input: nothing done) becomes one line and 2, an OSError
    (a disk or a folder failed the work) one line and 1, Ctrl-C the line `interrupted` and 130."""
    try:
        return work()
    except refused as error:
        say_error(str(error))
        return 2
    except OSError as error:
        say_error(f"{error.filename or ''}: {os_reason(error)}".lstrip(": "))
        return 1
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130


def fit_run(fit: Callable[[], None], run_dir: Path, resume: str) -> int | None:
    """A trainer's fit() as a command line runs it: None when it finished; 130 after Ctrl-C or SIGTERM (the trainer
    saved a checkpoint; `resume` is the command that continues); 1 after a crash (its traceback is in the log)."""
    try:
        fit()
    except KeyboardInterrupt:
        print(f"\nОбучение прервано, чекпойнт сохранён. Продолжить:\n  {resume}", file=sys.stderr)
        return 130
    except Exception as error:  # the traceback is already in the log and in <run>/trainer_0_log.txt
        print(f"Обучение упало: {error}. Папка прогона сохранена: {run_dir}", file=sys.stderr)
        return 1
    return None


def _number(value: str, check: Callable[[float], bool], need: str, kind: type = float):
    try:
        number = kind(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"нужно {need}, получено {value}") from None
    if not check(number):
        raise argparse.ArgumentTypeError(f"нужно {need}, получено {value}")
    return number


def positive(value: str) -> float:
    return _number(value, lambda n: n > 0, "число больше нуля")


def non_negative(value: str) -> float:
    return _number(value, lambda n: n >= 0, "неотрицательное число")


def positive_int(value: str) -> int:
    return _number(value, lambda n: n > 0, "целое число больше нуля", int)


def non_negative_int(value: str) -> int:
    return _number(value, lambda n: n >= 0, "целое неотрицательное число", int)
