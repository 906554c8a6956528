"""`python -m rutts.text`: print how the model will read a text, one sentence a line, warnings on stderr.

    python -m rutts.text "Это займёт примерно 2 минуты."
    echo "Посмотрите на 3:15 в видео." | python -m rutts.text --no-stress --lexicon lexicon.txt
"""
import logging
import sys

from rutts.cli import ArgumentParser, guarded
from rutts.text.alphabet import TextError
from rutts.text.frontend import FrontEnd, split_sentences
from rutts.text.lexicon import default_lexicon


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m rutts.text", description="Показать, как модель прочтёт текст: раскрытия и ударения."
    )
    parser.add_argument("text", nargs="*", help="текст (или подайте его на stdin)")
    parser.add_argument("--lexicon", help="свой словарь произношений (по умолчанию lexicon.txt, если он есть)")
    parser.add_argument("--no-stress", action="store_true", help="без автоматических ударений")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    source = " ".join(args.text) if args.text else sys.stdin.read()

    def read_aloud() -> int:
        front_end = FrontEnd(args.lexicon or default_lexicon(), stress=not args.no_stress)
        for sentence in split_sentences(source):
            print(front_end.process(sentence))
        return 0

    return guarded(read_aloud, refused=(TextError,))


if __name__ == "__main__":
    sys.exit(main())
