"""Which Russian normalizer reads course scripts right: our front end (lexicon + course rules + ru-normalizr),
plain ru-normalizr, and russian-tts-normalization, on the course lines kept as a test
(tests/data/normalization_cases.tsv): lines read right, per section and in all, and milliseconds per line.

    python bench/bench_normalizers.py
    # with the regex-only contender, kept out of the kit's venv:
    pip install --target /tmp/rtn russian-tts-normalization==1.0.2
    PYTHONPATH=/tmp/rtn python bench/bench_normalizers.py
    python bench/bench_normalizers.py --show-wrong   # and what each one got wrong
"""
import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CASES = ROOT / "tests" / "data" / "normalization_cases.tsv"


def plain(text: str) -> str:
    """The comparison tests/test_text.py makes: lowercase words, no punctuation or "+", "-" as a space, ё = е."""
    text = text.replace("+", "").replace("-", " ").lower().replace("ё", "е")
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def read_cases() -> list[tuple[str, str, str]]:
    """(section, input, expected) for every case line; sections are the "# ..." headings of the file."""
    cases, section, previous = [], "", ""
    for line in CASES.read_text(encoding="utf-8").splitlines():
        if line.startswith("# ") and previous == "#":
            section = line[2:].split(":")[0][:44]
        elif line.strip() and not line.startswith("#"):
            source, expected = line.split("\t")[:2]
            cases.append((section, source, expected))
        previous = line
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-wrong", action="store_true", help="print each wrong reading")
    args = parser.parse_args()
    from ru_normalizr import NormalizeOptions, Normalizer

    from rutts.text import FrontEnd

    cases = read_cases()
    library = Normalizer(NormalizeOptions.tts())
    contenders = {"ours (lexicon + course rules + ru-normalizr)": FrontEnd(stress=False).normalize,
                  "ru-normalizr 1.3.0, tts mode": library.normalize}
    try:
        from russian import normalize_russian

        contenders["russian-tts-normalization 1.0.2"] = normalize_russian
    except ImportError:
        print("russian-tts-normalization is not installed: pip install russian-tts-normalization==1.0.2")
    sections = list(dict.fromkeys(section for section, _, _ in cases))
    for name, normalize in contenders.items():
        normalize(cases[0][1])  # load models and dictionaries before timing
        started = time.process_time()
        got = [normalize(source) for _, source, _ in cases]
        ms = (time.process_time() - started) / len(cases) * 1000
        right = [plain(g) == plain(expected) for g, (_, _, expected) in zip(got, cases)]
        print(f"{name}: {sum(right)}/{len(cases)} right ({sum(right) / len(cases):.0%}), {ms:.1f} ms CPU per line")
        for section in sections:
            mine = [ok for ok, (s, _, _) in zip(right, cases) if s == section]
            print(f"    {sum(mine):3d}/{len(mine):<3d} {section}")
        if args.show_wrong:
            for ok, g, (_, source, expected) in zip(right, got, cases):
                if not ok:
                    print(f"      {source}\n        got      {g}\n        expected {expected}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
