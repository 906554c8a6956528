"""The narration studio: hear, fix and re-render a lesson one paragraph at a time, in the browser.

    .venv/bin/python studio.py lesson.md -m outputs/<run>
    .venv/bin/python studio.py lesson.md -m outputs/<run> --vocoder outputs/<vocoder run> -o outputs/lesson1

It listens on 127.0.0.1, prints the address (with its access key) and opens the browser. The state lives beside
the lesson in <lesson>.studio/; the lesson's own lexicon is <lesson>.lexicon.txt. Export writes into -o what
`inference.py --course` writes, plus OGG/Opus and MP3 of the whole lesson. From another machine use an SSH tunnel
(ssh -L 8765:127.0.0.1:8765 host), not --host 0.0.0.0.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import warnings
import webbrowser
from pathlib import Path

from rutts.cli import (
    ArgumentParser,
    guarded,
    non_negative_int,
    os_reason,
    positive,
    positive_int,
)

LOCAL = {"127.0.0.1", "localhost", "::1"}


def parse_args(argv):
    p = ArgumentParser(description="Студия озвучки урока в браузере: слушать, править, переозвучивать.",
                                epilog="Пример: python studio.py урок.md -m outputs/<запуск>")
    p.add_argument("lesson", type=Path, help="урок: текст или Markdown в UTF-8")
    p.add_argument("-m", "--model", required=True, type=Path, help="папка запуска или чекпоинт .pth")
    p.add_argument("--config", type=Path, help="config.json модели (по умолчанию рядом с чекпоинтом)")
    vocoder = p.add_mutually_exclusive_group()
    vocoder.add_argument("--vocoder", help="вокодер, как в inference.py (по умолчанию названный в прогоне)")
    vocoder.add_argument("--griffin-lim", "--griffin_lim", action="store_true", help="Гриффин-Лим")
    p.add_argument("--vocoder-config", "--vocoder_config", type=Path, help="config.json вокодера")
    p.add_argument("--lexicon", type=Path, help="словарь урока (по умолчанию <урок>.lexicon.txt рядом с уроком)")
    p.add_argument("-o", "--output", type=Path, help="папка экспорта (по умолчанию outputs/<имя урока>)")
    p.add_argument("--host", default="127.0.0.1", help="адрес (по умолчанию 127.0.0.1 — только этот компьютер)")
    p.add_argument("--port", type=non_negative_int, default=8765, help="порт (занят — возьмётся свободный)")
    p.add_argument("--no-browser", action="store_true", help="не открывать браузер")
    p.add_argument("--no-check", action="store_true", help="не проверять озвученные абзацы распознаванием")
    p.add_argument("--cer-threshold", type=positive, default=0.3, help="CER, выше которого абзац помечается")
    p.add_argument("--threads", type=positive_int, default=1, help="потоков для распознавания")
    p.add_argument("--device", default="cpu", help="cpu или cuda")
    p.add_argument("--debug", action="store_true", help="подробный журнал")
    return p.parse_args(argv)


def open_session(args):
    """Everything checked and loaded before the server starts: each problem is one Russian line, exit code 2."""
    from rutts.run import model_files
    from rutts.speech import GRIFFIN_LIM, SynthesisConfig, Voice
    from rutts.studio.engine import Engine
    from rutts.studio.session import Session, read_lesson
    from rutts.studio.state import StudioError, lesson_paragraphs

    lesson_paragraphs(read_lesson(args.lesson))  # not UTF-8, empty, too long: said before the model loads
    output = args.output or Path("outputs") / args.lesson.stem
    try:
        output.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=output).close()
    except OSError as error:
        raise StudioError(f"{output}: нельзя писать в папку экспорта ({os_reason(error)})") from None
    meter = None
    if not args.no_check:
        from rutts.intelligibility import IntelligibilityError
        from rutts.studio.check import ParagraphCheck

        try:
            meter = ParagraphCheck(args.threads)
        except IntelligibilityError as error:
            print(f"проверка распознаванием выключена: {error}", file=sys.stderr)
    checkpoint, _ = model_files(args.model, args.config)
    voice = Voice.load(args.model, args.config, GRIFFIN_LIM if args.griffin_lim else args.vocoder,
                       args.vocoder_config, args.device)
    lexicon = args.lexicon or args.lesson.with_name(f"{args.lesson.stem}.lexicon.txt")
    engine = Engine(voice, checkpoint, lexicon, SynthesisConfig())
    return Session(args.lesson, engine, output, meter, args.cer_threshold)


def serve(args) -> int:
    from rutts.studio.server import StudioServer

    session = open_session(args)
    try:
        server = StudioServer((args.host, args.port), session)
    except OSError:  # the port is taken: any free one
        server = StudioServer((args.host, 0), session)
    if args.host not in LOCAL:
        print(f"Внимание: студия слушает {args.host} — её видят другие машины сети. Надёжнее SSH-туннель: "
              f"ssh -L {server.server_address[1]}:127.0.0.1:{server.server_address[1]} <этот компьютер>",
              file=sys.stderr)
    if session.lesson_changed and session.manifest.version > 1:
        print("файл урока изменён вне студии: абзацы прочитаны заново, озвученное по-прежнему в кэше")
    print(f"Студия открыта: {server.url}\n(Ctrl+C — закрыть; всё сохраняется само)", flush=True)
    if not args.no_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    finally:
        session.worker.cancel()
        server.server_close()
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s" if args.debug else "внимание: %(message)s")
    if not args.debug:
        warnings.filterwarnings("ignore")
        logging.getLogger("TTS").setLevel(logging.CRITICAL)
    from rutts.run import RunError
    from rutts.studio.state import StudioError
    from rutts.text import TextError

    return guarded(lambda: serve(args), refused=(StudioError, RunError, TextError),
                   interrupted="Студия закрыта; всё сохранено.")


if __name__ == "__main__":
    sys.exit(main())
