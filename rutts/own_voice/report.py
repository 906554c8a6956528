"""What an import gives: the clips kept and set aside, and its report in Markdown (import_report.md)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rutts.own_voice.clips import Clip


@dataclass
class ImportResult:
    clips: list[Clip]
    missing: list[int]  # sentence numbers without any recording
    unused: list[tuple[str, str]]  # (file, why it was not used)
    speaking_rate: float  # her characters per second
    asr_note: str
    sentences: int
    written: bool = False  # False: nothing kept, and the earlier import in the folder was left as it was

    @property
    def kept(self) -> list[Clip]:
        return [c for c in self.clips if c.kept]

    def kept_seconds(self) -> float:
        return sum(c.measures["seconds"] for c in self.kept)

    def clip_rows(self) -> list[dict]:
        """Each clip as the report lists it: number, id, text, kept or set aside and why, its measures."""
        return [{"number": c.sentence.number, "id": c.sentence.utt_id, "text": c.sentence.text,
                 "status": "kept" if c.kept else "set_aside", "source": c.source, "reasons": c.reasons,
                 "warnings": c.warnings, **c.measures} for c in self.clips]


def number_ranges(numbers: Iterable[int]) -> str:
    """[1, 2, 3, 5, 7, 8] → "1–3, 5, 7–8"."""
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in spans)


def render_report(result: ImportResult) -> str:
    kept, aside = result.kept, [c for c in result.clips if not c.kept]
    lines = [
        "# Импорт записей", "",
        f"Сохранено {len(kept)} фраз ({result.kept_seconds() / 60:.1f} мин), отложено {len(aside)}, "
        f"нет записи {len(result.missing)} из {result.sentences}. Темп чтения: {result.speaking_rate:.1f} знака "
        f"в секунду. {result.asr_note[0].upper()}{result.asr_note[1:]}.", "",
    ]
    if aside:
        lines += ["## Отложены (в папке set_aside/, в обучение не идут)", "", "| № | фраза | откуда | почему |",
                  "|---|---|---|---|"]
        lines += [f"| {c.sentence.number} | {c.sentence.text} | {c.source} | {'; '.join(c.reasons)} |" for c in aside]
        lines.append("")
    if result.missing:
        lines += ["## Нет записи", "", f"Фразы {number_ranges(result.missing)}.", ""]
    if result.unused:
        lines += ["## Файлы не использованы", ""] + [f"- {name}: {why}" for name, why in result.unused] + [""]
    lines += ["## Сохранены", "", "| № | откуда | с | сигнал/шум, дБ | замечания |", "|---|---|---|---|---|"]
    lines += [f"| {c.sentence.number} | {c.source} | {c.measures['seconds']:.1f} | {c.measures['snr_db']:.0f} | "
              f"{'; '.join(c.warnings)} |" for c in kept]
    return "\n".join(lines) + "\n"
