"""Write a recording script for your own voice: numbered Russian sentences that cover the sounds the model learns.

    python make_recording_script.py                                  # ~15 min from the built-in pool
    python make_recording_script.py --minutes 20 --texts lessons/*.md --out data/own_voice_script
    python make_recording_script.py --minutes 10 --lexicon my_lexicon.txt

Sentences come from the built-in pool (rutts/own_voice/recording_pool.txt) and from your own texts (--texts: lesson files,
plain text or Markdown), chosen greedily for coverage of letters with stress and ё and of their pairs, as the
front end writes them. Prints the coverage reached against the most the candidates allow. Writes
<out>/script.md (numbered, printable, with recording tips) and <out>/metadata.csv (`<id>|text`), which
import_recordings.py reads next; a script already in <out> is replaced only with --force (her recordings are named
by its numbers). The first run processes the pool's text once (~20 s) and caches it.
"""
import argparse
import logging
import sys
import time
from pathlib import Path

from rutts.cli import ArgumentParser, guarded
from rutts.own_voice.script import (
    CHARS_PER_SECOND,
    MAX_SECONDS,
    METADATA_FILE,
    SCRIPT_FILE,
    ScriptError,
    choose,
    prepare_candidates,
    read_pool,
    read_texts,
    write_script,
)
from rutts.text import FrontEnd, TextError, default_lexicon

SKIPPED = {"short": "короче 3 слов", "long": f"длиннее {MAX_SECONDS:g} с", "unspeakable": "без русских слов",
           "duplicate": "повторы"}


def positive_minutes(value: str) -> float:
    try:
        minutes = float(value)
    except ValueError:
        minutes = 0.0
    if not 0 < minutes <= 600:
        raise argparse.ArgumentTypeError(f"нужно число минут от 0 до 600, получено {value!r}")
    return minutes


def parse_args(argv):
    parser = ArgumentParser(description="Сценарий записи своего голоса: фразы, покрывающие звуки модели.")
    parser.add_argument("--minutes", type=positive_minutes, default=15.0,
                        help="сколько минут чтения (по умолчанию %(default)g)")
    parser.add_argument("--texts", type=Path, nargs="+", default=[], metavar="ФАЙЛ",
                        help="свои тексты (уроки .md/.txt): их предложения тоже идут в выбор, с приоритетом")
    parser.add_argument("--no-pool", action="store_true", help="только свои тексты, без встроенного набора фраз")
    parser.add_argument("--out", type=Path, default=Path("data/own_voice_script"),
                        help="куда писать script.md и metadata.csv (по умолчанию %(default)s)")
    parser.add_argument("--lexicon", type=Path,
                        help="свой словарь произношений (по умолчанию lexicon.txt, если он есть)")
    parser.add_argument("--no-stress", action="store_true", help="без автоматических ударений")
    parser.add_argument("--force", action="store_true",
                        help="заменить сценарий, уже лежащий в --out (записи по нему сопоставятся с новыми фразами)")
    args = parser.parse_args(argv)
    if args.no_pool and not args.texts:
        parser.error("--no-pool: укажите свои тексты через --texts")
    return args


def refuse_to_overwrite(out: Path) -> None:
    """Her recordings are named by the numbers of the script in `out`: a new script would give them other sentences."""
    existing = [out / name for name in (METADATA_FILE, SCRIPT_FILE) if (out / name).exists()]
    if existing:
        raise ScriptError(f"в {out} уже есть сценарий ({existing[0].name}), и записи по нему названы его номерами: "
                          "чтобы заменить его, добавьте --force, или укажите другую папку --out")


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    return guarded(lambda: run(args), refused=(ScriptError, TextError))


def run(args) -> int:
    if not args.force:
        refuse_to_overwrite(args.out)
    started = time.monotonic()
    front_end = FrontEnd(args.lexicon or default_lexicon(), stress=not args.no_stress)
    sentences = [] if args.no_pool else [(text, "pool") for text in read_pool()]
    sentences += read_texts(args.texts)
    candidates, skipped = prepare_candidates(sentences, front_end)
    if not candidates:
        raise ScriptError("не из чего выбирать: ни одно предложение не подошло (нужно 3+ русских слова, "
                          f"не длиннее {MAX_SECONDS:g} с)")
    script = choose(candidates, args.minutes)
    markdown, metadata = write_script(args.out, script)
    own = sum(c.source != "pool" for c in script.sentences)
    own_total = sum(c.source != "pool" for c in candidates)
    print(f"Сценарий: {len(script.sentences)} фраз, ≈ {script.seconds / 60:.1f} мин чтения "
          f"(по {CHARS_PER_SECOND:g} знака в секунду, темп демо-корпуса)"
          + (f"; из ваших текстов {own} из {own_total} подходящих" if args.texts else ""))
    if script.seconds < args.minutes * 60 - 30:
        print(f"Фраз хватило только на {script.seconds / 60:.1f} мин из {args.minutes:g}: добавьте тексты (--texts)")
    print(f"Покрытие: {script.covered} из {script.possible} звуковых единиц (буквы с ударением и ё, их пары) — "
          f"{script.coverage:.1%} максимума; с учётом частоты — {script.covered_share_by_frequency:.1%}")
    if skipped:
        print("Не взяты: " + ", ".join(f"{SKIPPED[reason]} — {count}" for reason, count in sorted(skipped.items())))
    print(f"Записано: {markdown} (распечатать и читать), {metadata}  ({time.monotonic() - started:.0f} с)")
    print(f"Дальше: запишите фразы и выполните python import_recordings.py <папка с записями> --script {metadata}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
