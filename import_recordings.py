"""Import your recordings of the recording script into a corpus for fine-tuning; the originals are only read.

    python import_recordings.py recordings/ --script data/own_voice_script/metadata.csv
    python import_recordings.py take1.flac take2.flac --script data/own_voice_script/metadata.csv --out data/own_voice
    python import_recordings.py recordings/ --script data/own_voice_script/metadata.csv --mode takes --no-asr

Recordings: one file per sentence named by its number in the script (001.wav, "Запись 17.flac"; copies and takes
such as "017 (2).wav" or "017_take2.wav" are takes of 17, the best by the checks is kept; a name that does not say its
number is listed, never guessed) and/or long takes read in script order; WAV/FLAC/OGG/MP3, any sample rate, any channel count. Long takes are split at pauses and matched to the
sentences in order. Each clip is trimmed, converted to mono at the rate of config.json, loudness-normalized and
checked (clipping, level, noise, duration against its text, and Whisper CER when requirements-eval.txt is
installed). Writes <out>/RUSLAN/<id>.wav + <out>/metadata_RUSLAN.csv (kept clips), <out>/set_aside/ (the rest)
and <out>/import_report.md/.json with every clip and the reason. Then: python check_sample_rate.py <out>.
Exit code: 0 clips kept, 1 nothing usable, 2 the import could not start.
"""
import json
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from rutts.cli import ArgumentParser, guarded
from rutts.own_voice.importer import MIN_FINETUNE_MINUTES, REPORT_MD, ImportErrorRu, import_recordings
from rutts.own_voice.report import number_ranges

STAGES = {"read": "чтение", "check": "проверка", "asr": "распознавание"}


def parse_args(argv):
    parser = ArgumentParser(description="Импорт своих записей сценария в корпус для дообучения.")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="ЗАПИСИ", help="файлы или папки с записями")
    parser.add_argument("--script", type=Path, required=True,
                        help="metadata.csv сценария от make_recording_script.py")
    parser.add_argument("--out", type=Path, default=Path("data/own_voice"),
                        help="папка корпуса (по умолчанию %(default)s)")
    parser.add_argument("--mode", choices=["auto", "sentences", "takes"], default="auto",
                        help="auto: длинные файлы — дубли, короткие — по фразе с номером в имени (по умолчанию)")
    parser.add_argument("--no-asr", action="store_true", help="без проверки распознаванием (Whisper)")
    parser.add_argument("--config", type=Path, default=Path("config.json"),
                        help="config.json модели: частота дискретизации (по умолчанию %(default)s)")
    return parser.parse_args(argv)


def sample_rate(config: Path) -> int:
    try:
        return int(json.loads(config.read_text(encoding="utf-8-sig"))["audio"]["sample_rate"])
    except FileNotFoundError:
        raise ImportErrorRu(f"конфиг не найден: {config}") from None
    except (ValueError, KeyError, TypeError):
        raise ImportErrorRu(f"{config}: нет audio.sample_rate или файл не JSON") from None


def whisper_meter():
    from rutts.intelligibility import Meter

    return Meter()


def progress(items, stage: str, total: int):
    return tqdm(items, desc=STAGES[stage], total=total, unit="", disable=None, leave=False)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # a Windows code page cannot print every character of a text
        stream.reconfigure(errors="backslashreplace")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    return guarded(lambda: run(args), refused=(ImportErrorRu,),
                   interrupted="Прервано: записи не тронуты, запустите импорт снова.")


def run(args) -> int:
    result = import_recordings(args.inputs, args.script, args.out, sample_rate(args.config), args.mode,
                               meter_factory=None if args.no_asr else whisper_meter, progress=progress)
    kept, aside = result.kept, [c for c in result.clips if not c.kept]
    minutes = result.kept_seconds() / 60
    print(f"Сохранено {len(kept)} фраз ({minutes:.1f} мин) в {args.out}, отложено {len(aside)}, "
          f"нет записи {len(result.missing)} из {result.sentences}; темп чтения {result.speaking_rate:.1f} знака/с")
    for clip in aside:
        print(f"  отложена {clip.sentence.number} ({clip.source}): {'; '.join(clip.reasons)}")
    if result.missing:
        print(f"  нет записи: фразы {number_ranges(result.missing)}")
    for name, why in result.unused:
        print(f"  не использован {name}: {why}")
    print(f"  {result.asr_note}")
    if result.written:
        print(f"Отчёт: {args.out / REPORT_MD}")
    if not kept:
        kept_earlier = "" if result.written else f"; прежний импорт в {args.out} не тронут"
        print(f"Ни одной годной записи: смотрите причины выше{kept_earlier}.", file=sys.stderr)
        return 1
    if minutes < MIN_FINETUNE_MINUTES:
        print(f"Для дообучения мало: {minutes:.1f} мин записей, нужно хотя бы {MIN_FINETUNE_MINUTES:g} мин "
              f"(лучше 10–20): дочитайте фразы сценария или перезапишите отложенные.")
    print(f"Дальше: python check_sample_rate.py {args.out}")
    print(f"        python train_glowtts.py --restore-path <папка базовой модели> --preset finetune --data {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
