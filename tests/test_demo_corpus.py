"""data/demo/prepare.py: the demo corpus in RUSLAN's layout, built for real by the teacher voice (a few utterances)."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from rutts.text import normalize

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "data" / "demo" / "prepare.py"
METADATA = "metadata_RUSLAN_22200.csv"
SMALL = ["--n", "6", "--own-share", "0.5"]  # 3 course sentences (numbers, abbreviations, Latin) + 3 proverbs
NOT_SPOKEN_AS_IS = re.compile(r"[0-9A-Za-z%№]")


def load_prepare():
    spec = importlib.util.spec_from_file_location("demo_prepare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepare(out, *args, env=None):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), *args], capture_output=True, text=True, env=env, timeout=120
    )


def read_metadata(root):
    raw = (root / METADATA).read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    return [line.split("|") for line in raw.decode("utf-8").splitlines()]


def snapshot(root):
    return {path.relative_to(root): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "corpus"
    done = prepare(root, *SMALL)
    assert done.returncode == 0, done.stderr
    assert "Готово: 6 фраз" in done.stdout
    assert "Синтез" not in done.stderr  # no progress bar when stderr is not a terminal (the demo's log)
    return root


def test_layout_and_audio_format_match_ruslan(corpus):
    rows = read_metadata(corpus)
    assert [len(row) for row in rows] == [2] * 6
    ids = [utterance_id for utterance_id, _ in rows]
    assert ids == [f"{number:06d}_RUSLAN" for number in range(6)]
    assert sorted(path.stem for path in (corpus / "RUSLAN").iterdir()) == ids  # nothing else in RUSLAN/
    for utterance_id in ids:
        info = sf.info(corpus / "RUSLAN" / f"{utterance_id}.wav")
        assert (info.samplerate, info.channels, info.subtype, info.format) == (44100, 1, "PCM_16", "WAV")
        assert 0.5 < info.duration < 20


def test_coqui_ruslan_formatter_finds_every_wav(corpus):
    from TTS.tts.datasets.formatters import ruslan

    items = ruslan(str(corpus), METADATA)
    assert len(items) == 6
    assert all(Path(item["audio_file"]).is_file() for item in items)


def test_course_sentences_keep_their_writing_and_are_spoken_in_words(corpus):
    texts = dict(read_metadata(corpus))
    info = json.loads((corpus / "corpus_info.json").read_text(encoding="utf-8"))
    own = set(load_prepare().load_own_sentences(SCRIPT.with_name("sentences.txt")))
    course = [text for text in texts.values() if text in own]
    assert len(course) == 3 and info["own_sentences"] == 3
    assert info["spoken"].keys() == texts.keys()
    for utterance_id, text in texts.items():
        assert not NOT_SPOKEN_AS_IS.search(info["spoken"][utterance_id]), text
    assert info["total_seconds"] == pytest.approx(
        sum(sf.info(path).duration for path in (corpus / "RUSLAN").iterdir()), abs=0.05
    )


# Written by hand: what the teacher voice must say for what the corpus text says.
SPOKEN_BY_HAND = {
    "Урок 3. Переменные и типы данных.": "Урок три. Переменные и типы данных.",
    "Подписывайтесь на наш канал на YouTube.": "Подписывайтесь на наш канал на ют+уб.",
    "В 2024 г. курс прошли 150 человек.": "В две тысячи двадцать четвёртом году курс прошли сто пятьдесят человек.",
    "Начало в 19:00, т. е. через час.": "Начало в девятнадцать часов, то есть через час.",
}


def words(text):
    return re.findall(r"[а-я]+", text.lower().replace("ё", "е").replace("+", ""))


def test_the_teacher_reads_numbers_abbreviations_and_latin_in_words(tmp_path):
    sentences = tmp_path / "course.txt"
    sentences.write_text("\n".join(SPOKEN_BY_HAND) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    done = prepare(out, "--n", str(len(SPOKEN_BY_HAND)), "--own-share", "1", "--sentences", str(sentences))
    assert done.returncode == 0, done.stderr
    spoken = json.loads((out / "corpus_info.json").read_text(encoding="utf-8"))["spoken"]
    assert {text: spoken[utterance_id] for utterance_id, text in read_metadata(out)} == SPOKEN_BY_HAND


def test_the_teacher_says_the_words_the_model_is_trained_on(corpus, front_end):
    """The audio says what the training text (check_sample_rate: the whole front end) becomes, word for word."""
    spoken = json.loads((corpus / "corpus_info.json").read_text(encoding="utf-8"))["spoken"]
    for utterance_id, text in read_metadata(corpus):
        assert words(spoken[utterance_id]) == words(front_end.process(text)), text


def test_default_build_mixes_in_nearly_all_course_sentences():
    prepare_module = load_prepare()
    own = prepare_module.load_own_sentences(SCRIPT.with_name("sentences.txt"))
    chosen = prepare_module.choose_sentences(own, prepare_module.load_proverbs(), 400, 0.15, 1234)
    course = [text for text in chosen if text in own]
    assert len(chosen) == len(set(chosen)) == 400
    assert len(course) == 60
    assert sum(bool(re.search(r"\d", text)) for text in course) >= 40
    assert any(re.search(r"[A-Za-z]", text) for text in course)
    assert any(abbreviation in text for text in course for abbreviation in ("т. е.", "и т. д.", "руб.", "см."))


def test_every_course_sentence_is_speakable_without_digits_or_latin():
    for text in load_prepare().load_own_sentences(SCRIPT.with_name("sentences.txt")):
        assert not NOT_SPOKEN_AS_IS.search(normalize(text)), text


def test_same_flags_give_byte_identical_corpus(corpus, tmp_path):
    again = prepare(tmp_path / "again", *SMALL)
    assert again.returncode == 0, again.stderr
    assert snapshot(tmp_path / "again") == snapshot(corpus)


def test_rerun_skips_finished_wavs(corpus):
    before = {path: path.stat().st_mtime_ns for path in (corpus / "RUSLAN").iterdir()}
    files = snapshot(corpus)
    rerun = prepare(corpus, *SMALL)
    assert rerun.returncode == 0, rerun.stderr
    assert "синтезировано 0, уже было 6" in rerun.stdout
    assert {path: path.stat().st_mtime_ns for path in (corpus / "RUSLAN").iterdir()} == before
    assert snapshot(corpus) == files


def test_interrupted_build_resumes_to_the_same_corpus(corpus, tmp_path):
    """A kill leaves: no metadata yet, some wavs missing, a temporary file from the write in progress."""
    root = tmp_path / "killed"
    shutil.copytree(corpus, root)
    (root / METADATA).unlink()
    (root / "RUSLAN" / "000004_RUSLAN.wav").unlink()
    (root / "RUSLAN" / ".000004_RUSLAN.wav.abc123.partial").write_bytes(b"RIFF")
    resumed = prepare(root, *SMALL)
    assert resumed.returncode == 0, resumed.stderr
    assert "синтезировано 1, уже было 5" in resumed.stdout
    assert snapshot(root) == snapshot(corpus)


def test_other_settings_replace_the_old_wavs(corpus, tmp_path):
    root = tmp_path / "reseeded"
    shutil.copytree(corpus, root)
    rebuilt = prepare(root, "--n", "4", "--seed", "7")
    assert rebuilt.returncode == 0, rebuilt.stderr
    fresh = prepare(tmp_path / "fresh", "--n", "4", "--seed", "7")
    assert fresh.returncode == 0, fresh.stderr
    assert snapshot(root) == snapshot(tmp_path / "fresh")


def test_refuses_a_folder_with_a_corpus_it_did_not_make(tmp_path):
    real = tmp_path / "ruslan"
    (real / "RUSLAN").mkdir(parents=True)
    (real / "RUSLAN" / "000000_RUSLAN.wav").write_bytes(b"real recording")
    refused = prepare(real, *SMALL)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Ошибка: ") and "corpus_info.json" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert (real / "RUSLAN" / "000000_RUSLAN.wav").read_bytes() == b"real recording"


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--voice", "nosuch"], "nosuch"),
        (["--sentences", "missing.txt"], "missing.txt"),
    ],
)
def test_bad_input_is_one_russian_line(tmp_path, args, expected):
    failed = prepare(tmp_path / "out", *SMALL, *args)
    assert failed.returncode == 1
    assert failed.stderr.startswith("Ошибка: ") and expected in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / METADATA).exists()


def test_sentence_with_a_field_separator_is_refused(tmp_path):
    sentences = tmp_path / "mine.txt"
    sentences.write_text("Урок 1 | введение.\n", encoding="utf-8")
    failed = prepare(tmp_path / "out", "--n", "2", "--sentences", str(sentences))
    assert failed.returncode == 1 and "mine.txt:1" in failed.stderr


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is installed by scripts/setup.sh")
def test_falls_back_to_espeak_with_a_warning(tmp_path):
    only_espeak = tmp_path / "bin"
    only_espeak.mkdir()
    (only_espeak / "espeak-ng").symlink_to(shutil.which("espeak-ng"))
    done = prepare(tmp_path / "out", "--n", "2", env={**os.environ, "PATH": str(only_espeak)})
    assert done.returncode == 0, done.stderr
    assert "espeak-ng" in done.stderr and "роботизированный" in done.stderr
    assert sf.info(tmp_path / "out" / "RUSLAN" / "000000_RUSLAN.wav").samplerate == 44100
