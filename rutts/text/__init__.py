"""The Russian text front end, the lowest layer of the kit: it knows nothing of audio, models or runs.

    frontend.py       FrontEnd.process(): the whole pipeline, the same for training text and for synthesis
    course_rules.py   the order of the course rules; rules_code.py (addresses, code, formulas) and
                      rules_numbers.py (versions, times, counted numbers, labels); words.py and numerals.py
                      (cases and number words, pymorphy3)
    lexicon.py        the built-in lexicon_default.txt and the user's lexicon.txt
    stress.py         hand-written stress marks and silero-stress
    alphabet.py       the model's letters and to_alphabet()
    paragraphs.py     Markdown → paragraphs of plain text; processed sentences → chunks that fit the model

    python -m rutts.text "В 2024 г. курс прошли 150 человек."     # how the model will read a text
"""
from rutts.text.alphabet import CHARACTERS, PUNCTUATIONS, STRESS, VOWELS, TextError, to_alphabet
from rutts.text.frontend import VERSION, FrontEnd, normalize, split_sentences
from rutts.text.lexicon import DEFAULT_LEXICON, Lexicon, builtin_lexicon, default_lexicon, read_lexicon
from rutts.text.paragraphs import split_chunks, split_paragraphs

__all__ = ["CHARACTERS", "PUNCTUATIONS", "STRESS", "VOWELS", "TextError", "to_alphabet", "VERSION", "FrontEnd",
           "normalize", "split_sentences", "DEFAULT_LEXICON", "Lexicon", "builtin_lexicon", "default_lexicon",
           "read_lexicon", "split_chunks", "split_paragraphs"]
