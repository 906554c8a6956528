"""What a health check says: a level, a key for code and a Russian message for the user; and the report of them."""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

OK, WARN, ERROR = "ok", "warn", "error"
LEVEL_LABELS = {OK: "OK", WARN: "ВНИМАНИЕ", ERROR: "ОШИБКА"}


@dataclass(frozen=True)
class Finding:
    level: str  # OK, WARN or ERROR
    key: str  # summary, lr, loss_trend, grad_norm, nonfinite, duration, sawtooth, overfit
    message: str  # Russian, for the user


def format_report(findings: Sequence[Finding], title: str) -> str:
    """A plain-text report in Russian, one paragraph per finding, and a verdict."""
    lines = [f"Проверка обучения: {title}"]
    for finding in findings:
        label = f"[{LEVEL_LABELS[finding.level]}]"
        lines.append(textwrap.fill(finding.message, width=110, initial_indent=f"  {label:<11} ",
                                   subsequent_indent=" " * 14))
    errors = sum(f.level == ERROR for f in findings)
    warnings = sum(f.level == WARN for f in findings)
    verdict = "всё в порядке" if not errors and not warnings else f"ошибок: {errors}, предупреждений: {warnings}"
    lines.append(f"Итог: {verdict}.")
    return "\n".join(lines)
