"""Which Russian normalizer reads course scripts right: our front end (ru-normalizr + course rules + lexicon),
plain ru-normalizr, and russian-tts-normalization, on the hard cases kept as a test.

    pip install russian-tts-normalization==1.0.2     # the contender; not a dependency of the kit
    python bench/bench_normalizers.py
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CASES = ROOT / "tests" / "data" / "normalization_cases.tsv"


def plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w-]+", " ", text.replace("+", "").lower()).split())


def main() -> int:
    from ru_normalizr import NormalizeOptions, Normalizer

    from rutts.text import FrontEnd

    cases = [line.split("\t")[:2] for line in CASES.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    library = Normalizer(NormalizeOptions.tts())
    contenders = {"ours (ru-normalizr + rules + lexicon)": FrontEnd(stress=False).normalize,
                  "ru-normalizr 1.3.0, tts mode": library.normalize}
    try:
        from russian import normalize_russian

        contenders["russian-tts-normalization 1.0.2"] = normalize_russian
    except ImportError:
        print("russian-tts-normalization is not installed: pip install russian-tts-normalization==1.0.2")
    for name, normalize in contenders.items():
        wrong = [(source, normalize(source)) for source, expected in cases if plain(normalize(source)) != plain(expected)]
        print(f"{name}: {len(cases) - len(wrong)}/{len(cases)} right")
        for source, got in wrong:
            print(f"    {source}  →  {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
