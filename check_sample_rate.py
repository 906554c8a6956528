"""Audit a corpus in RUSLAN layout before training and write its train/validation split.

    python check_sample_rate.py data/RUSLAN_22k            # full audit + split
    python check_sample_rate.py data/demo_22k --preset cpu # the length limits training with --preset cpu applies
    python check_sample_rate.py                            # the corpus of config.json (datasets[0].path)
    python check_sample_rate.py data/RUSLAN_22k --quick    # headers and text only, no decoding
    python check_sample_rate.py data/RUSLAN_22k --json report.json

Checks: every metadata id has <root>/RUSLAN/<id>.wav and every wav a line; sample rate, mono, 16-bit PCM;
wavs cut short (the header promises more sound than the file holds); text through the front end (rutts.text)
and its characters against the config's alphabet; durations and text lengths against min/max_audio_len and
min/max_text_len of the config as training reads it (rutts.train.config.load_config, with --preset); clipping,
near-silence, long leading/trailing silence.
Writes <root>/metadata_train.csv and <root>/metadata_val.csv (id|processed text) from the utterances without
errors, <root>/processed_text_cache.json, and <root>/frontend.json: the lexicon and stress settings the text
was processed with, which training copies into its run and synthesis then follows (rutts.run).
The progress bars are drawn only on a terminal. Exit code: 0 ok (warnings allowed), 1 errors in the data,
2 the corpus or config cannot be read.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from rutts.cli import ArgumentParser, guarded
from rutts.audit import ERRORS, Audit, AuditLimits, audit_corpus
from rutts.dataset import (AUDIT_FILES, CACHE_FILE, RECORD_NAME, TRAIN_FILE, VAL_FILE, VAL_FRACTION, DatasetError, Split,
                           find_metadata, write_split)
from rutts.files import write_text_atomic
from rutts.files import build_aside
from rutts.text import FrontEnd, TextError, default_lexicon

EXAMPLES = 5

TITLES = {
    "missing_wav": "нет wav-файла",
    "empty_wav": "пустой wav (0 байт)",
    "corrupt_wav": "wav не читается",
    "truncated_wav": "wav обрезан",
    "not_wav": "не WAV",
    "no_audio": "в wav нет звука",
    "sample_rate": "не та частота",
    "channels": "не моно",
    "subtype": "не 16-bit PCM",
    "empty_text": "пустой текст",
    "text_error": "текст непроизносим",
    "unencodable": "символы вне алфавита",
    "orphan_wav": "wav без строки в разметке",
    "too_short": "короче min_audio_len",
    "too_long": "длиннее max_audio_len",
    "text_too_short": "текст короче min_text_len",
    "text_too_long": "текст длиннее max_text_len",
    "clipping": "перегруз (клиппинг)",
    "quiet": "почти тишина",
    "long_silence": "долгая тишина по краям",
}


def hints(limits: AuditLimits, config_path: Path, root: Path) -> dict[str, str]:
    def skipped(key: str) -> str:
        if key in limits.audit_defaults:
            return f"в {config_path.name} нет {key}: обучение их возьмёт, но такие фразы лучше проверить"
        return "обучение пропустит эти фразы"

    resample = (f"пересэмплируйте в {limits.sample_rate} Гц, моно, 16 бит: python resample_wavs.py {root} "
                f"(запишет {root}_22k; проверяйте потом его)")
    return {
        "missing_wav": "файл должен лежать в <корпус>/RUSLAN/<id>.wav",
        "sample_rate": f"{resample}; частота задана в {config_path.name}: audio.sample_rate",
        "channels": resample,
        "subtype": resample,
        "empty_wav": "перезапишите или удалите файл и его строку в разметке",
        "corrupt_wav": "перезапишите или удалите файл и его строку в разметке",
        "truncated_wav": "в файле меньше звука, чем обещает его заголовок (копирование или распаковка прервались): "
                         "скопируйте его заново",
        "unencodable": f"поправьте текст или словарь (--lexicon), или добавьте символы в {config_path.name}",
        "too_short": skipped("min_audio_len"),
        "too_long": skipped("max_audio_len"),
        "text_too_short": "обучение пропустит эти фразы",
        "text_too_long": "обучение пропустит эти фразы; разбейте их на части или поднимите max_text_len",
        "long_silence": "обучение обрезает тишину (do_trim_silence), но лучше подрезать запись",
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(
        description="Проверить корпус в раскладке RUSLAN перед обучением и записать разбиение train/val."
    )
    parser.add_argument("root", nargs="?", type=Path, help="папка корпуса (по умолчанию datasets[0].path из конфига)")
    parser.add_argument("--config", type=Path, default=Path("config.json"), help="config.json модели (по умолчанию %(default)s)")
    parser.add_argument("--preset", help="пресет, с которым будете обучать (cpu, gpu8gb): его пределы длины фраз")
    parser.add_argument("--metadata", type=Path, help="файл разметки id|текст (по умолчанию единственный metadata_*.csv)")
    parser.add_argument("--json", nargs="?", const="-", metavar="ФАЙЛ", help="отчёт в JSON: в файл или («-») на stdout")
    parser.add_argument("--no-stress", action="store_true", help="без автоматических ударений")
    parser.add_argument("--lexicon", type=Path, help="свой словарь произношений (по умолчанию lexicon.txt, если он есть)")
    parser.add_argument("--val-fraction", type=float, default=VAL_FRACTION, help="доля проверочной выборки (%(default)s)")
    parser.add_argument("--quick", action="store_true", help="только заголовки и текст, без декодирования звука")
    args = parser.parse_args(argv)
    if not 0 < args.val_fraction < 0.5:
        parser.error("--val-fraction должна быть между 0 и 0.5")
    return args


def load_training_config(path: Path, preset: str | None) -> dict:
    """The config exactly as training will read it: Coqui's defaults, then config.json, then the preset."""
    from rutts.train.config import TrainingSetupError, load_config  # Coqui: seconds, so not for --help

    try:
        return load_config(path, preset).to_dict()
    except TrainingSetupError as error:
        raise DatasetError(str(error)) from None


def config_dataset(config: dict) -> tuple[Path | None, str, str]:
    """datasets[0]: its root (relative to the working folder, as training reads it) and the split file names."""
    entry = (config.get("datasets") or [{}])[0]
    root = Path(entry["path"]) if entry.get("path") else None
    return root, entry.get("meta_file_train") or TRAIN_FILE, entry.get("meta_file_val") or VAL_FILE


def progress(iterable, stage: str, total: int):
    labels = {"headers": "заголовки", "text": "текст (части)", "signal": "звук"}
    # only on a terminal: in a log file every redraw would be a line of its own
    return tqdm(iterable, desc=labels[stage], total=total, unit="", disable=not sys.stderr.isatty(), leave=False)


def issue_table(issues: list[dict], hint_by_code: dict[str, str]) -> list[str]:
    by_code: dict[str, list[dict]] = defaultdict(list)
    for issue in issues:
        by_code[issue["code"]].append(issue)
    lines = []
    for code in sorted(by_code, key=list(TITLES).index):
        group = by_code[code]
        lines.append(f"  {'ОШИБКА' if code in ERRORS else 'предупр.':<8}  {TITLES[code]:<26} {len(group):>6}")
        for issue in group[:EXAMPLES]:
            lines.append(f"      {issue['id']}" + (f": {issue['detail']}" if issue["detail"] else ""))
        if len(group) > EXAMPLES:
            lines.append(f"      … и ещё {len(group) - EXAMPLES} (весь список: --json)")
        if code in hint_by_code:
            lines.append(f"      -> {hint_by_code[code]}")
    return lines


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} ч" if seconds >= 3600 else f"{seconds / 60:.1f} мин"


def build_report(audit: Audit, limits: AuditLimits, split: Split | None, elapsed: float) -> dict:
    """Everything the audit found, as JSON-ready data; the screen report is drawn from it."""
    def seconds(ids) -> float:
        return sum(audit.seconds.get(utt_id, 0.0) for utt_id in ids)

    unencodable: dict[str, list[str]] = defaultdict(list)
    for utt_id, text in audit.processed.items():
        for char in sorted(set(text) - limits.alphabet):
            unencodable[char].append(utt_id)
    return {
        "metadata_lines": len(audit.rows),
        "distinct_texts": len({text for _, text in audit.rows if text}),
        "texts_processed_now": audit.text_fresh,
        "wav_files": audit.wav_count,
        "seconds": seconds(audit.seconds),
        "errors": len(audit.errors),
        "utterances_with_errors": len({issue.utt_id for issue in audit.errors}),
        "warnings": len(audit.warnings),
        "issues": [
            {"id": i.utt_id, "code": i.code, "severity": "error" if i.is_error else "warning",
             "title": TITLES[i.code], "detail": i.detail}
            for i in audit.issues
        ],
        "unencodable_chars": dict(sorted(unencodable.items())),
        "split": None if split is None else {
            "train": str(split.train_path), "val": str(split.val_path),
            "train_count": len(split.train_ids), "val_count": len(split.val_ids),
            "train_seconds": seconds(split.train_ids), "val_seconds": seconds(split.val_ids),
            "val_ids": split.val_ids,
        },
        "timings_s": {**audit.timings, "total": elapsed},
    }


def requirements(limits: AuditLimits, args: argparse.Namespace) -> str:
    """The limits the audit applied and where they come from."""
    source = args.config.name + (f" + пресет {args.preset}" if args.preset else "")
    rate = limits.sample_rate
    text = (f"текст {limits.min_text_chars}–{limits.max_text_chars:.0f} симв." if math.isfinite(limits.max_text_chars)
            else f"текст от {limits.min_text_chars} симв.")
    line = (f"Требования ({source}, как при обучении): {rate} Гц, моно, 16-bit PCM; "
            f"звук {limits.min_samples / rate:.1f}–{limits.max_samples / rate:.1f} с, {text}")
    if limits.audit_defaults:
        line += f" ({', '.join(limits.audit_defaults)} нет в конфиге: это предел только проверки)"
    return line


def render(report: dict, limits: AuditLimits, args: argparse.Namespace, config_root: Path | None) -> str:
    root = report["root"]
    lines = [
        f"Корпус {root}: разметка {Path(report['metadata']).name} ({report['metadata_lines']} строк), "
        f"wav-файлов {report['wav_files']}, звука {hours(report['seconds'])}",
        requirements(limits, args),
        f"Текст: ударения {'выкл.' if args.no_stress else 'авто'}, словарь {args.lexicon or 'встроенный'}; "
        f"через фронтенд прошло {report['texts_processed_now']} из {report['distinct_texts']} разных текстов, "
        f"остальные из кэша {CACHE_FILE}",
    ]
    if report["issues"]:
        lines.append("")
        lines += issue_table(report["issues"], hints(limits, args.config, Path(root)))
    if report["unencodable_chars"]:
        lines.append("Символы вне алфавита модели:")
        for char, ids in report["unencodable_chars"].items():
            lines.append(f"  «{char}» (U+{ord(char):04X}): {len(ids)} фраз, напр. {', '.join(ids[:EXAMPLES])}")
    lines.append("")
    lines.append(
        f"Итог: ошибок {report['errors']} (фраз с ошибками {report['utterances_with_errors']}), "
        f"предупреждений {report['warnings']}" + ("; звук не декодировался (--quick)" if args.quick else "")
    )
    stages = {"headers_s": "заголовки", "text_s": "текст", "signal_s": "звук"}
    timing = ", ".join(f"{stages[name]} {value:.1f} с" for name, value in report["timings_s"].items() if name in stages)
    lines.append(f"Время: {report['timings_s']['total']:.1f} с ({timing})")
    split = report["split"]
    if split is None:
        lines.append("Разбиение не записано (прежнее, если было, удалено): меньше двух фраз без ошибок. "
                     "Исправьте ошибки и запустите проверку снова.")
        return "\n".join(lines)
    left_out = f", без {report['utterances_with_errors']} фраз с ошибками" if report["errors"] else ""
    lines.append(
        f"Разбиение: обучение {split['train_count']} ({hours(split['train_seconds'])}), "
        f"проверка {split['val_count']} ({hours(split['val_seconds'])}){left_out}"
    )
    lines += [f"  {split['train']}", f"  {split['val']}"]
    if report["errors"]:
        lines.append("Фразы с ошибками в разбиение не вошли: исправьте их и проверьте снова или обучайте без них.")
    lines.append(f"Настройки текста (словарь, ударения) записаны в {Path(root) / RECORD_NAME}: "
                 "обучение и озвучка прочтут текст так же")
    command = "python train_glowtts.py"
    if args.config != Path("config.json"):
        command += f" --config {args.config}"
    if args.preset:
        command += f" --preset {args.preset}"
    if config_root is None or config_root.resolve() != Path(root).resolve():
        command += f" --data {root}"
    advice = "" if args.preset else "   (без GPU: --preset cpu; его пределы длины покажет проверка с --preset cpu)"
    lines.append(f"Дальше: {command}{advice}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # a Windows code page cannot print every character of a text
        stream.reconfigure(errors="backslashreplace")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    return guarded(lambda: run(args), refused=(DatasetError, TextError),
                   interrupted="Прервано: уже обработанный текст сохранён в кэше, повторный запуск продолжит.")


def run(args) -> int:
    if args.json not in (None, "-") and not Path(args.json).parent.is_dir():
        raise DatasetError(f"отчёт {args.json} некуда записать: папки {Path(args.json).parent} нет")
    config = load_training_config(args.config, args.preset)
    limits = AuditLimits.from_config(config)
    config_root, train_name, val_name = config_dataset(config)
    root = args.root or config_root
    if root is None:
        raise DatasetError(f"укажите папку корпуса: в {args.config} нет datasets[0].path")
    metadata = args.metadata or find_metadata(root, exclude=(train_name, val_name))
    if metadata.name in (train_name, val_name) and metadata.resolve().parent == root.resolve():
        raise DatasetError(f"{metadata.name} — разбиение, которое пишет эта проверка (datasets[0] в "
                           f"{args.config.name}); укажите исходную разметку")
    args.lexicon = args.lexicon or default_lexicon()
    frontend = FrontEnd(args.lexicon, stress=not args.no_stress)
    started = time.perf_counter()
    audit = audit_corpus(root, metadata, limits, frontend, signal=not args.quick, wrap=progress)
    usable = audit.usable()
    # The split and its record are replaced whole; a refused audit removes the earlier ones: they no longer
    # describe these files.
    with build_aside(root, (train_name, val_name, *AUDIT_FILES)) as stage:
        split = write_split(stage, usable, args.val_fraction, train_name, val_name) if len(usable) >= 2 else None
        if split is not None:  # the split holds text read this way: training and synthesis must read alike
            from rutts.run import record_frontend  # torch: seconds, so not for a mistake in the arguments

            record_frontend(stage, args.lexicon, stress=not args.no_stress)
    if split is not None:
        split = Split(root / train_name, root / val_name, split.train_ids, split.val_ids)
    code = 1 if audit.errors else 0
    report = {"root": str(root), "metadata": str(metadata), "config": str(args.config), "preset": args.preset,
              "limits": {"min_audio_len": limits.min_samples, "max_audio_len": limits.max_samples,
                         "min_text_len": limits.min_text_chars,
                         "max_text_len": limits.max_text_chars if math.isfinite(limits.max_text_chars) else None,
                         "audit_defaults": list(limits.audit_defaults)},
              "frontend": frontend.signature,
              "frontend_record": str(Path(root) / RECORD_NAME) if split is not None else None,
              "signal_checked": not args.quick, "exit_code": code,
              **build_report(audit, limits, split, time.perf_counter() - started)}
    if args.json and args.json != "-":
        write_text_atomic(Path(args.json), json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    if args.json == "-":
        print(json.dumps(report, indent=1))  # ASCII escapes: readable whatever the console's encoding
    else:
        print(render(report, limits, args, config_root))
    return code


if __name__ == "__main__":
    sys.exit(main())
