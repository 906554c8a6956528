"""One reading everywhere: the front-end settings a corpus was processed with travel with it and with its models.

`check_sample_rate.py` records them in the corpus folder (`frontend.json`, plus a copy of the user's lexicon),
training copies that record into the run folder, and whatever speaks with the model (inference, the bot, the
intelligibility meter) builds its front end from the run's record with `frontend_for`: the model then reads a
text the way its training text was read. An explicit lexicon or stress setting still wins, with a warning.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from rutts.files import atomic_output
from rutts.dataset import CACHE_FILE, LEXICON_COPY, RECORD_NAME
from rutts.text import VERSION, FrontEnd, TextError, default_lexicon

log = logging.getLogger(__name__)



def _write_text(path: Path, text: str) -> None:
    with atomic_output(path) as temp:
        temp.write_text(text, encoding="utf-8")


def record_frontend(folder: Path, lexicon: Path | None, stress: bool) -> None:
    """Write folder/frontend.json (+ folder/frontend_lexicon.txt, a copy of the user's lexicon), atomically.
    TextError if the lexicon cannot be read (the message names the file and line)."""
    folder = Path(folder)
    frontend = FrontEnd(lexicon, stress=stress)  # reads and checks the lexicon before anything is written
    if lexicon is not None:
        _write_text(folder / LEXICON_COPY, Path(lexicon).read_text(encoding="utf-8-sig"))
    record = {"version": VERSION, "stress": bool(stress), "lexicon": LEXICON_COPY if lexicon is not None else None,
              "lexicon_digest": frontend.lexicon.digest(), "signature": frontend.signature}
    _write_text(folder / RECORD_NAME, json.dumps(record, ensure_ascii=False, indent=1) + "\n")
    if lexicon is None:
        (folder / LEXICON_COPY).unlink(missing_ok=True)  # a copy left by an earlier record would mislead


def read_record(folder: Path) -> dict | None:
    """The record in `folder`, None when there is none; TextError when it is damaged."""
    path = Path(folder) / RECORD_NAME
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TextError(f"{path} повреждён ({error}); в папке корпуса его пишет заново "
                        "python check_sample_rate.py") from None
    if not isinstance(record, dict) or not isinstance(record.get("stress"), bool) or "lexicon" not in record:
        raise TextError(f"{path}: это не запись настроек текста (нет полей stress/lexicon)")
    if record["lexicon"] is not None and not (Path(folder) / record["lexicon"]).is_file():
        raise TextError(f"{path} ссылается на словарь {record['lexicon']}, а его рядом нет")
    return record


def copy_record(src: Path, dst: Path) -> bool:
    """Copy a corpus's record into a run folder; False (and nothing written) when src has none."""
    src, dst = Path(src), Path(dst)
    record = read_record(src)
    if record is None:
        return False
    if record["lexicon"] is not None:
        with atomic_output(dst / LEXICON_COPY) as temp:
            shutil.copyfile(src / record["lexicon"], temp)
    else:
        (dst / LEXICON_COPY).unlink(missing_ok=True)
    with atomic_output(dst / RECORD_NAME) as temp:
        shutil.copyfile(src / RECORD_NAME, temp)
    return True


def _settings_from_cache(corpus: Path) -> tuple[Path | None, bool] | None:
    """(lexicon, stress) an old corpus's training text was processed with, worked out from the signature of its
    processed-text cache: known when the built-in lexicon alone or ./lexicon.txt gives that signature; else None."""
    try:
        signature = json.loads((Path(corpus) / CACHE_FILE).read_text(encoding="utf-8")).get("signature")
    except (OSError, ValueError, AttributeError):
        return None
    for lexicon in dict.fromkeys([None, default_lexicon()]):
        for stress in (True, False):
            try:
                if FrontEnd(lexicon, stress=stress).signature == signature:
                    return lexicon, stress
            except TextError:  # a broken ./lexicon.txt cannot be what the corpus was processed with
                break
    return None


def frontend_for(folder: Path, lexicon: Path | None = None, stress: bool | None = None) -> FrontEnd:
    """The FrontEnd a model in `folder` was trained with. None = as recorded. An explicit value that differs from
    the record → one log.warning naming what differs (the explicit value is used). No record (an old run) →
    FrontEnd(lexicon or default_lexicon(), stress if given else True) and one log.warning saying so."""
    folder = Path(folder)
    record = read_record(folder)
    if record is None:
        log.warning("в %s нет %s (модель обучена до того, как настройки текста стали записываться): словарь %s, "
                    "ударения %s — проверьте, что обучающий текст обрабатывался так же", folder, RECORD_NAME,
                    lexicon or default_lexicon() or "встроенный", "авто" if stress in (None, True) else "выкл.")
        return FrontEnd(lexicon or default_lexicon(), stress=True if stress is None else stress)
    recorded_lexicon = folder / record["lexicon"] if record["lexicon"] else None
    frontend = FrontEnd(lexicon if lexicon is not None else recorded_lexicon,
                        stress=record["stress"] if stress is None else stress)
    differences = []
    if stress is not None and stress != record["stress"]:
        differences.append(f"ударения {'авто' if stress else 'выкл.'} (при обучении "
                           f"{'авто' if record['stress'] else 'выкл.'})")
    if frontend.lexicon.digest() != record.get("lexicon_digest"):
        if lexicon is not None:
            differences.append(f"словарь {lexicon} (при обучении {record['lexicon'] or 'только встроенный'})")
        else:
            differences.append("встроенный словарь rutts/text/lexicon_default.txt изменился после обучения")
    if record.get("version") != VERSION:
        differences.append(f"версия обработки текста {VERSION} (при обучении {record.get('version')})")
    if differences:
        log.warning("текст будет прочитан не так, как при обучении модели %s: %s", folder, "; ".join(differences))
    return frontend


def pass_record_to_run(corpus: Path, corpus_record: dict | None, run_dir: Path) -> None:
    """At the start of training (also when continuing): the corpus's record (`corpus_record`, read before the run
    folder was made) into the run folder. An old corpus without one: the user is told to rerun check_sample_rate.py,
    and the settings are recorded anyway when the corpus's text cache tells them."""
    run_record = read_record(run_dir)
    if corpus_record is not None:
        copy_record(corpus, run_dir)
        if run_record is not None and run_record.get("signature") != corpus_record.get("signature"):
            log.warning("текст корпуса %s теперь обработан иначе, чем в начале этого прогона (%s → %s): модель "
                        "доучивается на другом чтении", corpus, run_record.get("signature"),
                        corpus_record.get("signature"))
        return
    log.warning("в корпусе %s нет %s (как обработан текст: словарь, ударения): перезапустите python "
                "check_sample_rate.py %s, тогда озвучка прочтёт текст так же, как при обучении",
                corpus, RECORD_NAME, corpus)
    if run_record is not None:
        return  # the run keeps what it recorded when it started
    settings = _settings_from_cache(corpus)
    if settings is not None:
        lexicon, stress = settings
        record_frontend(run_dir, lexicon, stress)
        log.info("настройки текста восстановлены по кэшу корпуса: словарь %s, ударения %s",
                 lexicon or "встроенный", "авто" if stress else "выкл.")
