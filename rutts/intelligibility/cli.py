"""The command line of `python -m rutts.intelligibility`: Whisper CER of speech against its text (see the
package docstring)."""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from rutts.cli import ArgumentParser, guarded
from rutts.files import atomic_output
from rutts.intelligibility.meter import Meter, Row
from rutts.intelligibility.model import IntelligibilityError, require_extra
from rutts.intelligibility.sources import cut_lesson, read_pairs, synthesize_validation


def _write_json_atomic(path: Path, data: dict) -> None:
    try:
        with atomic_output(path) as temp:
            temp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    except OSError as exc:
        raise IntelligibilityError(f"не удаётся записать {path}: {exc}") from None


def _print_row(row: Row) -> None:
    print(
        f"{Path(row.wav).stem}  CER={row.cer:.3f} WER={row.wer:.3f}  {row.reference}  →  {row.hypothesis}",
        flush=True,
    )


def check_arguments(args) -> None:
    """Everything that can be told wrong before the model loads or anything is synthesized."""
    if args.model is not None and args.corpus is None:
        raise IntelligibilityError("--model требует --corpus (корпус с metadata_val.csv)")
    if args.model is None and args.lesson is None and args.meta is None:
        raise IntelligibilityError("нужен --meta (или --model и --corpus, или --lesson)")
    if args.model is None and args.lesson is None and not args.wavs.is_dir():
        raise IntelligibilityError(f"нет папки {args.wavs}")
    if args.threads < 1:
        raise IntelligibilityError("--threads должно быть не меньше 1")
    if args.limit is not None and args.limit < 1:
        raise IntelligibilityError("--limit должно быть не меньше 1")
    if args.json is not None and (args.json.is_dir() or not args.json.parent.is_dir()):
        raise IntelligibilityError(f"не получится записать {args.json}: это папка или нет папки для него")
    require_extra()


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m rutts.intelligibility",
        description="Разборчивость синтезированной речи: Whisper-base распознаёт wav-файлы офлайн, "
        "CER/WER считаются против текста из метаданных.",
    )
    parser.add_argument("--wavs", type=Path, required=True, help="папка с <id>.wav (с --model: куда их синтезировать)")
    parser.add_argument("--meta", type=Path, help="файл строк id|текст, например metadata_val.csv")
    parser.add_argument("--model", type=Path, help="папка прогона: сначала синтезировать ею проверочные фразы --corpus")
    parser.add_argument("--corpus", type=Path, help="корпус с metadata_val.csv (вместе с --model)")
    parser.add_argument("--limit", type=int, help="не больше стольких фраз (с --model)")
    parser.add_argument("--lesson", type=Path, help="урок от inference.py --course (lesson.wav + lesson.srt): "
                        "нарезать по субтитрам в --wavs и оценить каждое предложение")
    parser.add_argument("--json", type=Path, help="сохранить итог и строки по файлам в JSON")
    parser.add_argument("--lexicon", type=Path, help="словарь произношений (с --model: по умолчанию тот, с которым "
                        "модель обучена; с --lesson: lexicon.txt, если он есть)")
    parser.add_argument("--no-stress", action="store_true", help="с --model: без автоматических ударений "
                        "(по умолчанию как при обучении)")
    parser.add_argument("--threads", type=int, default=2, help="потоки CPU для Whisper (по умолчанию 2)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return guarded(lambda: run(args), refused=(IntelligibilityError,))


def run(args) -> int:
    check_arguments(args)
    if args.model is not None:
        from rutts.run import RunError
        from rutts.speech import Voice

        try:  # None: as the run's front-end record says
            voice = Voice.load(args.model, lexicon=args.lexicon, stress=False if args.no_stress else None)
        except RunError as exc:
            raise IntelligibilityError(str(exc)) from None
        pairs = synthesize_validation(voice, args.corpus, args.wavs, args.limit)
    elif args.lesson is not None:
        pairs = cut_lesson(args.lesson, args.wavs, args.lexicon)
    else:
        pairs = read_pairs(args.wavs, args.meta)
    report = Meter(threads=args.threads).score(pairs, on_row=_print_row)
    if args.json is not None:
        _write_json_atomic(args.json, report.to_dict())
    print(
        f"# {report.n} файлов, {report.audio_seconds:.1f} с речи, распознавание {report.seconds:.1f} с "
        f"({report.seconds / report.n:.2f} с на файл)"
    )
    looped = report.looped()
    if looped:
        rest = report.cer_without({Path(row.wav).name for row in looped})
        print(f"# Whisper зациклился ({len(looped)}: {', '.join(Path(row.wav).stem for row in looped)} — ошибок больше, "
              f"чем букв во фразе); CER без них: " + (f"{rest:.3f}" if rest is not None else "—"))
    print(f"CER={report.cer:.3f} WER={report.wer:.3f} N={report.n}")
    return 0
