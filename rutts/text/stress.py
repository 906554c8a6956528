"""Stress marks: the user's own ("+" before the vowel, or U+0301 after it), checked; the rest from silero-stress."""
from __future__ import annotations

import logging
import re
import unicodedata

from rutts.text.alphabet import STRESS, VOWELS

log = logging.getLogger(__name__)


def hand_stress(text: str) -> str:
    """U+0301 after a vowel → "+" before it, the notation used everywhere else."""
    text = unicodedata.normalize("NFD", text)
    text = re.sub(r"(\w)\u0301", r"+\1", text)
    return unicodedata.normalize("NFC", text.replace("\u0301", ""))


_MARKED_WORD = re.compile(r"[+а-яё]*(?:[а-яё]\+|\+[а-яё])[+а-яё]*", re.IGNORECASE)
_MISPLACED_MARK = re.compile(rf"\{STRESS}(?![{VOWELS}])", re.IGNORECASE)


def check_stress_marks(text: str, where: str = "") -> str:
    """Drop every "+" in a Russian word that stands before no vowel ("+слово", "сл+"; "сл+ово" is right), with a
    warning naming the word; a word left without marks is then stressed automatically."""

    def check(match: re.Match) -> str:
        word = match.group(0)
        kept = _MISPLACED_MARK.sub("", word)
        if kept != word:
            then = "остальные знаки в слове сохранены" if STRESS in kept else "ударение будет поставлено автоматически"
            log.warning("%sзнак ударения «+» в слове «%s» стоит не перед гласной: знак пропущен, %s",
                        f"{where}: " if where else "", word, then)
        return kept

    return _MARKED_WORD.sub(check, text)


class _Accentor:
    """silero-stress, loaded once (≈40 MB of weights inside its wheel, a few seconds)."""

    # silero-stress changes torch's global state (1 thread on import, gradients off when called): undo both,
    # or a model trained or run in the same process slows down or stops learning.
    def __init__(self):
        import torch

        self._torch = torch
        threads, grad_enabled = torch.get_num_threads(), torch.is_grad_enabled()
        from silero_stress import load_accentor

        self._accentor = load_accentor()
        torch.set_num_threads(threads)
        torch.set_grad_enabled(grad_enabled)

    def __call__(self, text: str) -> str:
        grad_enabled = self._torch.is_grad_enabled()
        try:
            return self._accentor(text)
        finally:
            self._torch.set_grad_enabled(grad_enabled)


_accentor: _Accentor | None = None


def restore_stress(text: str) -> str:
    """Stress and ё for words without a hand-written mark; none on one-vowel words (clitics stay unstressed)."""
    global _accentor
    if _accentor is None:
        _accentor = _Accentor()
    before = text.split()
    after = _accentor(text).split()
    if len(before) != len(after):  # the accentor never should change word count; keep the text if it did
        log.warning("расстановка ударений изменила число слов, текст оставлен без ударений: %r", text)
        return text
    words = []
    for original, stressed in zip(before, after):
        if STRESS in original:
            words.append(original)
        elif sum(stressed.lower().count(v) for v in VOWELS) <= 1:
            words.append(stressed.replace(STRESS, ""))
        else:
            words.append(stressed)
    return " ".join(words)

