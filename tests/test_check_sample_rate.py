"""check_sample_rate.py on small real corpora: bad input, exit codes, the report, the split and its cache."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import check_sample_rate
from rutts.text import CHARACTERS, PUNCTUATIONS, VERSION

RATE = 22050
TEXTS = ["Тише едешь, дальше будешь.", "Урок 3: работа с таблицами.", "Откройте Excel и создайте файл.",
         "Делу время, потехе час.", "Утро вечера мудренее!"]


def tone(seconds=1.0, rate=RATE, amplitude=0.3, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    x = amplitude * np.sin(2 * np.pi * 220 * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def make_corpus(root, count=10, metadata="metadata_RUSLAN_22200.csv"):
    (root / "RUSLAN").mkdir(parents=True)
    lines = []
    for number in range(count):
        utt = f"{number:06d}_RUSLAN"
        sf.write(root / "RUSLAN" / f"{utt}.wav", tone(), RATE, subtype="PCM_16")
        lines.append(f"{utt}|{TEXTS[number % len(TEXTS)]}")
    (root / metadata).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def write_config(path, corpus=None, **changes):
    config = {
        "model": "glow_tts",
        "audio": {"sample_rate": RATE},
        "characters": {"characters": CHARACTERS, "punctuations": PUNCTUATIONS},
        "min_audio_len": RATE // 2,
        "max_audio_len": 12 * RATE,
        "datasets": [{"formatter": "ruslan", "path": str(corpus or "data/none"),
                      "meta_file_train": "metadata_train.csv", "meta_file_val": "metadata_val.csv"}],
    }
    config.update(changes)
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path):
    return make_corpus(tmp_path / "corpus")


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path / "config.json")


def run(corpus, config, *extra):
    return check_sample_rate.main([str(corpus), "--config", str(config), "--no-stress", *extra])


def json_report(corpus, config, capsys, *extra):
    code = run(corpus, config, "--json", *extra)
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == code
    return report


def codes(report):
    return {(issue["id"], issue["code"]) for issue in report["issues"]}


def test_clean_corpus_passes_and_writes_a_disjoint_split(corpus, config, capsys):
    assert run(corpus, config) == 0
    out = capsys.readouterr().out
    assert "ошибок 0" in out and "Дальше: python train_glowtts.py" in out and f"--data {corpus}" in out
    train = (corpus / "metadata_train.csv").read_text(encoding="utf-8").splitlines()
    val = (corpus / "metadata_val.csv").read_text(encoding="utf-8").splitlines()
    assert len(train) == 9 and len(val) == 1
    assert not {line.split("|")[0] for line in train} & {line.split("|")[0] for line in val}
    assert "000001_RUSLAN|урок три: работа с таблицами." in train + val


def test_crlf_and_bom_metadata_is_accepted(corpus, config):
    meta = corpus / "metadata_RUSLAN_22200.csv"
    meta.write_bytes(b"\xef\xbb\xbf" + meta.read_text(encoding="utf-8").replace("\n", "\r\n").encode("utf-8"))
    assert run(corpus, config) == 0
    assert (corpus / "metadata_train.csv").read_bytes().count(b"\r") == 0


@pytest.mark.parametrize(
    "spoil, expected",
    [
        (lambda c: c.rename(c.parent / "absent"), "папка корпуса не найдена"),
        (lambda c: (c / "metadata_RUSLAN_22200.csv").write_bytes(b""), "файл разметки пуст"),
        (lambda c: (c / "metadata_RUSLAN_22200.csv").write_text("000000_RUSLAN Привет\n", encoding="utf-8"),
         "строка 1: нет разделителя «|»"),
        (lambda c: (c / "metadata_RUSLAN_22200.csv").write_bytes("000000_RUSLAN|Привет\n".encode("cp1251")),
         "строка 1: байт 0xcf не UTF-8"),
        (lambda c: (c / "RUSLAN").rename(c / "wavs"), "нет подпапки RUSLAN"),
    ],
)
def test_unreadable_corpus_is_one_line_error_exit_2(corpus, config, capsys, spoil, expected):
    spoil(corpus)
    assert run(corpus, config) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Ошибка: ") and expected in captured.err and captured.err.count("\n") == 1
    assert not (corpus / "metadata_train.csv").exists()


def spoil_files(corpus):
    wavs = corpus / "RUSLAN"
    (wavs / "000000_RUSLAN.wav").unlink()
    (wavs / "000001_RUSLAN.wav").write_bytes(b"RIFF\x00\x00 junk that is not a wave file")
    (wavs / "000002_RUSLAN.wav").write_bytes(b"")
    sf.write(wavs / "000003_RUSLAN.wav", tone(channels=2), RATE, subtype="PCM_16")
    sf.write(wavs / "000004_RUSLAN.wav", tone(), RATE, subtype="PCM_U8")
    sf.write(wavs / "000005_RUSLAN.wav", tone(rate=44100), 44100, subtype="PCM_16")


def test_bad_files_are_errors_left_out_of_the_split_and_nothing_is_lost(corpus, config, capsys):
    spoil_files(corpus)
    before = {p.name: p.read_bytes() for p in corpus.rglob("*") if p.is_file()}
    report = json_report(corpus, config, capsys)
    assert report["exit_code"] == 1
    assert {
        ("000000_RUSLAN", "missing_wav"),
        ("000001_RUSLAN", "corrupt_wav"),
        ("000002_RUSLAN", "empty_wav"),
        ("000003_RUSLAN", "channels"),
        ("000004_RUSLAN", "subtype"),
        ("000005_RUSLAN", "sample_rate"),
    } <= codes(report)
    assert {i["severity"] for i in report["issues"] if i["id"] < "000006"} == {"error"}
    written = (corpus / "metadata_train.csv").read_text() + (corpus / "metadata_val.csv").read_text()
    assert sorted(line.split("|")[0] for line in written.splitlines()) == [f"{n:06d}_RUSLAN" for n in range(6, 10)]
    after = {p.name: p.read_bytes() for p in corpus.rglob("*") if p.is_file()}
    assert all(after[name] == data for name, data in before.items())


def test_the_screen_report_groups_errors_with_a_fix(corpus, config, capsys):
    spoil_files(corpus)
    assert run(corpus, config) == 1
    out = capsys.readouterr().out
    assert "ОШИБКА    нет wav-файла" in out and "000000_RUSLAN: RUSLAN/000000_RUSLAN.wav" in out
    assert "000005_RUSLAN: 44100 Гц" in out and "пересэмплируйте в 22050 Гц" in out
    assert "000002_RUSLAN: 0 байт" in out and "000004_RUSLAN: PCM_U8" in out
    assert "Фразы с ошибками в разбиение не вошли" in out and "Разбиение: обучение " in out


def test_all_files_at_the_wrong_rate_write_no_split(tmp_path, config, capsys):
    corpus = tmp_path / "raw"
    make_corpus(corpus, count=3)
    for wav in (corpus / "RUSLAN").iterdir():
        sf.write(wav, tone(rate=44100), 44100, subtype="PCM_16")
    assert run(corpus, config) == 1
    assert "Разбиение не записано" in capsys.readouterr().out
    assert not (corpus / "metadata_train.csv").exists()


def test_empty_and_unencodable_text_and_orphan_wavs(corpus, tmp_path, capsys):
    config = write_config(tmp_path / "no_exclamation.json",
                          characters={"characters": CHARACTERS, "punctuations": PUNCTUATIONS.replace("!", "")})
    meta = corpus / "metadata_RUSLAN_22200.csv"
    lines = meta.read_text(encoding="utf-8").splitlines()
    lines[0] = "000000_RUSLAN|"
    lines[1] = "000001_RUSLAN|😀 ☺"
    meta.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")  # 000009 now has no line
    report = json_report(corpus, config, capsys)
    assert report["exit_code"] == 1
    found = codes(report)
    assert {("000000_RUSLAN", "empty_text"), ("000001_RUSLAN", "text_error"), ("000004_RUSLAN", "unencodable"),
            ("000009_RUSLAN", "orphan_wav")} <= found
    detail = next(i["detail"] for i in report["issues"] if i["code"] == "unencodable")
    assert detail == "«!»"
    assert run(corpus, config) == 1
    out = capsys.readouterr().out
    assert "«!» (U+0021): 1 фраз, напр. 000004_RUSLAN" in out


def test_warnings_alone_exit_0_and_stay_in_the_split(corpus, tmp_path, capsys):
    config = write_config(tmp_path / "config.json", max_audio_len=4 * RATE)
    wavs = corpus / "RUSLAN"
    sf.write(wavs / "000000_RUSLAN.wav", np.clip(10 * tone(), -1, 1), RATE, subtype="PCM_16")
    sf.write(wavs / "000001_RUSLAN.wav", tone(amplitude=1e-4), RATE, subtype="PCM_16")
    sf.write(wavs / "000002_RUSLAN.wav", np.concatenate([tone(), np.zeros(int(1.5 * RATE))]), RATE, subtype="PCM_16")
    sf.write(wavs / "000003_RUSLAN.wav", tone(seconds=0.3), RATE, subtype="PCM_16")
    sf.write(wavs / "000004_RUSLAN.wav", tone(seconds=5.0), RATE, subtype="PCM_16")
    sf.write(wavs / "extra.wav", tone(), RATE, subtype="PCM_16")
    report = json_report(corpus, config, capsys)
    assert report["exit_code"] == 0 and report["errors"] == 0
    assert codes(report) == {("000000_RUSLAN", "clipping"), ("000001_RUSLAN", "quiet"),
                             ("000002_RUSLAN", "long_silence"), ("000003_RUSLAN", "too_short"),
                             ("000004_RUSLAN", "too_long"), ("extra", "orphan_wav")}
    assert report["split"]["train_count"] + report["split"]["val_count"] == 10
    quick = json_report(corpus, config, capsys, "--quick")
    assert codes(quick) == {("000003_RUSLAN", "too_short"), ("000004_RUSLAN", "too_long"), ("extra", "orphan_wav")}


def test_texts_outside_the_config_text_limits_are_warnings(corpus, tmp_path, capsys):
    config = write_config(tmp_path / "config.json", min_text_len=23, max_text_len=30)
    report = json_report(corpus, config, capsys)
    assert report["exit_code"] == 0
    assert codes(report) == {("000002_RUSLAN", "text_too_long"), ("000007_RUSLAN", "text_too_long"),
                             ("000004_RUSLAN", "text_too_short"), ("000009_RUSLAN", "text_too_short")}


def test_json_to_a_file_and_the_cache_on_the_second_run(corpus, config, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert run(corpus, config, "--json", str(out)) == 0
    first = json.loads(out.read_text(encoding="utf-8"))
    assert first["texts_processed_now"] == len(TEXTS)
    assert "Итог: ошибок 0" in capsys.readouterr().out
    assert run(corpus, config, "--json", str(out)) == 0
    second = json.loads(out.read_text(encoding="utf-8"))
    assert second["texts_processed_now"] == 0 and second["split"] == first["split"]


def test_default_root_comes_from_the_config(corpus, tmp_path, capsys):
    config = write_config(tmp_path / "config.json", corpus=corpus)
    assert check_sample_rate.main(["--config", str(config), "--no-stress"]) == 0
    out = capsys.readouterr().out
    assert f"Корпус {corpus}" in out and "--data" not in out


def test_the_split_file_is_never_taken_as_input(corpus, config, capsys):
    assert run(corpus, config) == 0
    capsys.readouterr()
    assert run(corpus, config, "--metadata", str(corpus / "metadata_train.csv")) == 2
    assert "разбиение, которое пишет эта проверка" in capsys.readouterr().err


def test_missing_lexicon_config_and_report_folder_are_one_line_errors(corpus, config, tmp_path, capsys):
    assert run(corpus, config, "--lexicon", str(tmp_path / "nope.txt")) == 2
    assert "Файл словаря не найден" in capsys.readouterr().err
    assert run(corpus, tmp_path / "nope.json") == 2
    assert "Файл не найден" in capsys.readouterr().err
    assert run(corpus, config, "--json", str(tmp_path / "no" / "report.json")) == 2
    err = capsys.readouterr().err
    assert err.startswith("Ошибка: ") and "report.json" in err and err.count("\n") == 1


def test_stress_runs_once_per_text_then_comes_from_the_cache(corpus, config, capsys):
    assert check_sample_rate.main([str(corpus), "--config", str(config), "--quick", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["texts_processed_now"] == len(TEXTS) and first["frontend"].startswith(f"v{VERSION}-stress1")
    assert "+" in (corpus / "metadata_train.csv").read_text(encoding="utf-8")
    assert check_sample_rate.main([str(corpus), "--config", str(config), "--quick", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["texts_processed_now"] == 0


def test_coqui_reads_the_split_and_its_tokenizer_knows_every_character(corpus, capsys):
    """The split goes through the project's config.json as training reads it: the ruslan formatter, the text
    cleaner and the tokenizer built from the config's alphabet, which would drop unknown characters silently."""
    from TTS.config import load_config
    from TTS.tts.datasets import load_tts_samples
    from TTS.tts.utils.text.tokenizer import TTSTokenizer

    project_config = Path(check_sample_rate.__file__).with_name("config.json")
    assert check_sample_rate.main([str(corpus), "--config", str(project_config), "--no-stress"]) == 0
    config = load_config(str(project_config))
    config.datasets[0].path = str(corpus)
    train, val = load_tts_samples(config, eval_split=True)
    assert len(train) + len(val) == 10 and len(val) == 1
    tokenizer, config = TTSTokenizer.init_from_config(config)
    for sample in train + val:
        cleaned = tokenizer.text_cleaner(sample["text"])
        assert cleaned and set(cleaned) <= set(tokenizer.characters.vocab), cleaned
        assert Path(sample["audio_file"]).is_file()


def test_a_wav_cut_short_is_an_error_and_left_out_of_the_split(corpus, config, capsys):
    wav = corpus / "RUSLAN" / "000003_RUSLAN.wav"
    whole = wav.read_bytes()
    wav.write_bytes(whole[: len(whole) * 3 // 4])  # as an interrupted copy leaves it; libsndfile still reads it
    report = json_report(corpus, config, capsys, "--quick")
    assert report["exit_code"] == 1
    assert codes(report) == {("000003_RUSLAN", "truncated_wav")}
    assert "000003_RUSLAN" not in (corpus / "metadata_train.csv").read_text() + (corpus / "metadata_val.csv").read_text()
    assert run(corpus, config) == 1
    out = capsys.readouterr().out
    assert "ОШИБКА    wav обрезан" in out and "000003_RUSLAN: нет 25% звука, в файле 0.75 с" in out
    assert "скопируйте его заново" in out
    assert wav.read_bytes() == whole[: len(whole) * 3 // 4]  # the audit never touches the data


PROJECT_CONFIG = Path(check_sample_rate.__file__).with_name("config.json")


def test_the_preset_training_will_use_sets_the_length_limits(corpus, capsys):
    sf.write(corpus / "RUSLAN" / "000000_RUSLAN.wav", tone(seconds=10.0), RATE, subtype="PCM_16")
    plain = json_report(corpus, PROJECT_CONFIG, capsys, "--quick")
    assert plain["preset"] is None and plain["limits"]["max_audio_len"] == 12 * RATE
    assert codes(plain) == set()  # 10 s is within config.json's 12 s
    cpu = json_report(corpus, PROJECT_CONFIG, capsys, "--quick", "--preset", "cpu")
    assert cpu["limits"]["max_audio_len"] == 9 * RATE and cpu["limits"]["max_text_len"] == 250
    assert codes(cpu) == {("000000_RUSLAN", "too_long")}  # the cpu preset's 9 s: training would skip it
    assert run(corpus, PROJECT_CONFIG, "--quick", "--preset", "cpu") == 0
    out = capsys.readouterr().out
    assert "Требования (config.json + пресет cpu, как при обучении): 22050 Гц, моно, 16-bit PCM; звук 0.5–9.0 с, " \
           "текст 3–250 симв." in out
    assert "000000_RUSLAN: 10.0 с" in out and "--preset cpu --data" in out.splitlines()[-1]
    assert run(corpus, PROJECT_CONFIG, "--preset", "nosuch") == 2
    err = capsys.readouterr().err
    assert err.startswith("Ошибка: Нет пресета «nosuch»") and "cpu" in err and err.count("\n") == 1


def test_limits_the_config_leaves_open_are_named_as_the_audit_s_own(corpus, tmp_path, capsys):
    config = write_config(tmp_path / "open.json", min_audio_len=1)
    del_max = json.loads(config.read_text(encoding="utf-8"))
    del del_max["max_audio_len"]
    config.write_text(json.dumps(del_max, ensure_ascii=False), encoding="utf-8")
    sf.write(corpus / "RUSLAN" / "000000_RUSLAN.wav", tone(seconds=16.0), RATE, subtype="PCM_16")
    assert run(corpus, config, "--quick") == 0
    out = capsys.readouterr().out
    assert "(max_audio_len нет в конфиге: это предел только проверки)" in out
    assert "в open.json нет max_audio_len: обучение их возьмёт" in out


def test_the_front_end_settings_are_recorded_beside_the_split(corpus, config, tmp_path, capsys, monkeypatch):
    from rutts.run.frontend_record import LEXICON_COPY, RECORD_NAME, frontend_for
    from rutts.text import FrontEnd

    assert run(corpus, config, "--quick") == 0
    record = json.loads((corpus / RECORD_NAME).read_text(encoding="utf-8"))
    assert record["stress"] is False and record["lexicon"] is None
    assert record["signature"] == FrontEnd(None, stress=False).signature
    assert f"записаны в {corpus / RECORD_NAME}" in capsys.readouterr().out

    lexicon = tmp_path / "lexicon.txt"  # the default: lexicon.txt in the kit's folder, here a copy's
    lexicon.write_text("Excel → +эксель\n", encoding="utf-8")
    monkeypatch.setattr("rutts.text.lexicon.PROJECT_ROOT", tmp_path)
    assert run(corpus, config, "--quick") == 0
    record = json.loads((corpus / RECORD_NAME).read_text(encoding="utf-8"))
    assert record["lexicon"] == LEXICON_COPY and (corpus / LEXICON_COPY).read_text(encoding="utf-8") == \
        lexicon.read_text(encoding="utf-8")
    assert "|откройте +эксель и создайте файл." in (corpus / "metadata_train.csv").read_text(encoding="utf-8") + \
        (corpus / "metadata_val.csv").read_text(encoding="utf-8")
    lexicon.unlink()  # the record, not the working folder, now says how this corpus was read
    assert frontend_for(corpus).process("Откройте Excel.") == "откройте +эксель."


def test_no_split_no_record(tmp_path, config, capsys):
    corpus = make_corpus(tmp_path / "raw", count=3)
    for wav in (corpus / "RUSLAN").iterdir():
        sf.write(wav, tone(rate=44100), 44100, subtype="PCM_16")
    assert run(corpus, config) == 1
    assert not (corpus / "frontend.json").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal (POSIX)")
def test_progress_bars_only_on_a_terminal(corpus, config):
    import subprocess

    from conftest import run_on_terminal

    command = [sys.executable, check_sample_rate.__file__, str(corpus), "--config", str(config), "--no-stress"]
    logged = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert logged.returncode == 0 and "Итог: ошибок 0" in logged.stdout
    assert "заголовки" not in logged.stderr and "%|" not in logged.stderr
    code, seen = run_on_terminal(command)
    assert code == 0 and "заголовки" in seen


def split_files(corpus):
    return {name: (corpus / name).read_bytes() for name in ("metadata_train.csv", "metadata_val.csv", "frontend.json",
                                                            "frontend_lexicon.txt") if (corpus / name).exists()}


def test_a_refused_audit_leaves_no_earlier_split_behind(corpus, config, capsys):
    """Issue 23: the WAVs replaced by 44.1 kHz ones, the earlier split must not stay for training to pick up."""
    assert run(corpus, config, "--quick") == 0
    assert len(split_files(corpus)) == 3
    for wav in (corpus / "RUSLAN").iterdir():
        sf.write(wav, tone(rate=44100), 44100, subtype="PCM_16")
    assert run(corpus, config, "--quick") == 1
    assert "прежнее, если было, удалено" in capsys.readouterr().out
    assert split_files(corpus) == {}
    assert sorted(p.name for p in corpus.iterdir()) == ["RUSLAN", "metadata_RUSLAN_22200.csv",
                                                        "processed_text_cache.json"]


def test_an_interrupted_audit_leaves_the_earlier_split_as_it_was(corpus, config, monkeypatch):
    assert run(corpus, config) == 0
    before = split_files(corpus)
    (corpus / "RUSLAN" / "000003_RUSLAN.wav").unlink()  # the next audit would leave it out

    def interrupted(iterable, stage, total):
        for number, item in enumerate(iterable):
            if stage == "signal" and number == 5:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(check_sample_rate, "progress", interrupted)
    assert run(corpus, config) == 130
    assert split_files(corpus) == before
    assert not list(corpus.glob(".*.partial"))


def test_a_rerun_with_less_leaves_nothing_of_the_earlier_split(corpus, config, tmp_path):
    lexicon = tmp_path / "my_lexicon.txt"
    lexicon.write_text("Excel → +эксель\n", encoding="utf-8")
    assert run(corpus, config, "--quick", "--lexicon", str(lexicon)) == 0
    assert "frontend_lexicon.txt" in split_files(corpus)
    metadata = corpus / "metadata_RUSLAN_22200.csv"
    metadata.write_text("".join(metadata.read_text(encoding="utf-8").splitlines(True)[:4]), encoding="utf-8")
    for wav in sorted((corpus / "RUSLAN").iterdir())[4:]:
        wav.unlink()
    assert run(corpus, config, "--quick") == 0
    files = split_files(corpus)
    assert "frontend_lexicon.txt" not in files
    ids = {line.split("|")[0] for name in ("metadata_train.csv", "metadata_val.csv")
           for line in files[name].decode().splitlines()}
    assert ids == {f"{n:06d}_RUSLAN" for n in range(4)}


def test_the_default_lexicon_is_the_one_in_the_kit_s_folder_wherever_it_runs(tmp_path, monkeypatch):
    """Issue 23: "lexicon.txt in the root, picked up by itself" was looked for in the current folder."""
    from rutts.text import default_lexicon, lexicon

    assert (lexicon.PROJECT_ROOT / "check_sample_rate.py").is_file()  # the kit's folder: where its scripts are
    kit, elsewhere = tmp_path / "kit", tmp_path / "elsewhere"
    kit.mkdir(), elsewhere.mkdir()
    monkeypatch.setattr("rutts.text.lexicon.PROJECT_ROOT", kit)
    monkeypatch.chdir(elsewhere)
    (elsewhere / "lexicon.txt").write_text("Excel → +ексель\n", encoding="utf-8")  # not the kit's: not taken
    assert default_lexicon() is None
    (kit / "lexicon.txt").write_text("Excel → +эксель\n", encoding="utf-8")
    assert default_lexicon() == kit / "lexicon.txt"
