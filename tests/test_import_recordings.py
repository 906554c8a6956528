"""Import of home recordings: a long take split into the right sentences, one file per sentence in any format,
the clip checks, bad input. The recordings are made here: RHVoice's female voice at 48 kHz, stereo, with noise."""
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

import import_recordings
from rutts.own_voice.importer import import_recordings as run_import

RATE = 48000
# Lengths differ from one sentence to the next, as in a real script; the third has a long pause after its comma.
SCRIPT = [
    "Добрый день.",
    "Сегодня мы разберём, как устроена сводная таблица.",
    "Откройте файл, | и найдите нужный столбец.",
    "Это важно.",
    "Формула пересчитывается автоматически при изменении данных в ячейках.",
    "Сохраните работу.",
    "Диаграмма наглядно показывает, как менялись продажи за год.",
    "Увидимся на следующем уроке.",
]


def speak_female(text: str) -> np.ndarray:
    """RHVoice anna (a voice the demo corpus never used) at 48 kHz; the trailing silence RHVoice adds is cut."""
    if not shutil.which("RHVoice-test"):
        pytest.skip("RHVoice-test is not installed (scripts/setup.sh installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(["RHVoice-test", "-p", "anna", "-o", str(wav)], input=text.encode(), check=True)
        audio, rate = sf.read(wav, dtype="float32")
    audio = soxr.resample(audio, rate, RATE).astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    return audio[loud[0]: loud[-1] + 1]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


def home_mic(audio: np.ndarray, seed: int, noise_dbfs: float = -62.0, stereo: bool = True) -> np.ndarray:
    """Noise and a second channel; a phone starts and stops recording around the speech."""
    rng = np.random.default_rng(seed)
    audio = np.concatenate([silence(0.4), audio, silence(0.5)])
    noisy = audio + rng.normal(0, 10 ** (noise_dbfs / 20), audio.shape).astype(np.float32)
    return np.stack([noisy, 0.9 * noisy], axis=1) if stereo else noisy


@pytest.fixture(scope="module")
def spoken():
    """Each script sentence rendered separately (the third with a 0.45 s pause at its comma)."""
    rendered = {}
    for number, text in enumerate(SCRIPT, 1):
        parts = [speak_female(part.strip()) for part in text.split("|")]
        rendered[number] = np.concatenate([parts[0]] + [np.concatenate([silence(0.45), p]) for p in parts[1:]])
    return rendered


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "script" / "metadata.csv"
    path.parent.mkdir()
    rows = [f"{number:06d}_RUSLAN|{text.replace(' |', '')}\n" for number, text in enumerate(SCRIPT, 1)]
    path.write_text("".join(rows), encoding="utf-8")
    return path


@pytest.fixture
def long_script(script):
    """The script followed by 30 sentences she has not read yet."""
    from rutts.own_voice.script import read_pool

    with script.open("a", encoding="utf-8") as file:
        for number, text in enumerate(read_pool()[:30], len(SCRIPT) + 1):
            file.write(f"{number:06d}_RUSLAN|{text}\n")
    return script


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_long_take_is_split_into_the_right_sentences(tmp_path, long_script, spoken):
    rng = np.random.default_rng(1)
    read = [n for n in spoken if n != 4]  # she skipped sentence 4
    parts = [silence(60.0)]  # and started reading a minute after pressing "record"
    for number in read:
        parts += [spoken[number] * np.float32(10 ** (rng.uniform(-6, 0) / 20)), silence(rng.uniform(0.9, 1.6))]
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    sf.write(recordings / "дубль1.wav", home_mic(np.concatenate(parts), seed=2), RATE, subtype="PCM_24")
    before = digest(recordings)

    result = run_import([recordings], long_script, tmp_path / "corpus", 22050)

    assert digest(recordings) == before  # the original is only read
    assert result.missing == [4] + list(range(9, 39))
    clips = result.clip_rows()
    assert [c["number"] for c in clips] == read and all(c["status"] == "kept" for c in clips), clips
    lengths = {n: len(audio) / RATE for n, audio in spoken.items()}
    for clip in clips:  # each piece is its own sentence, not a neighbour: durations line up to a tenth of a second
        own = lengths[clip["number"]]
        assert abs(clip["seconds"] - own) < 0.12, (clip, own)
        assert all(abs(clip["seconds"] - other) > abs(clip["seconds"] - own)
                   for n, other in lengths.items() if n != clip["number"])
    for clip in clips:  # and each clip is that sentence, starting 0.1 s in (the silence kept before it)
        audio, rate = sf.read(tmp_path / "corpus" / "RUSLAN" / f"{clip['id']}.wav", dtype="float32")
        own = soxr.resample(spoken[clip["number"]], RATE, rate)
        lag = np.argmax(np.abs(np.correlate(audio, own, "full"))) - (len(own) - 1)
        assert abs(lag / rate - 0.1) < 0.02, (clip["number"], lag / rate)
    wav = tmp_path / "corpus" / "RUSLAN" / "000003_RUSLAN.wav"
    info = sf.info(wav)
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert info.duration == pytest.approx(lengths[3] + 0.2, abs=0.1)  # both halves of sentence 3, 0.1 s kept each side
    metadata = (tmp_path / "corpus" / "metadata_RUSLAN.csv").read_text(encoding="utf-8").splitlines()
    assert [row.split("|")[0] for row in metadata] == [f"{n:06d}_RUSLAN" for n in read]
    report = (tmp_path / "corpus" / "import_report.md").read_text(encoding="utf-8")
    assert "Фразы 4, 9–38." in report


def test_matching_of_a_long_reading_without_audio():
    """300 sentences read in two takes at 14 characters a second: some split at a comma pause, some skipped, a
    cough and a false start in between; the last 40 not read yet."""
    from rutts.own_voice.clips import Sentence
    from rutts.own_voice.takes import _align, _Piece, match_takes

    rng = np.random.default_rng(5)
    skipped, split = {17, 140, 141, 222}, set(range(5, 260, 9))
    # durations alone cannot tell which of two neighbours of the same length was skipped: the skipped ones are long
    sentences = [Sentence(n, f"{n:06d}_RUSLAN", "", "", 85 if n in skipped else int(rng.integers(15, 70)))
                 for n in range(1, 301)]
    pieces, truth, t, take = [], {}, 0.5, 0
    for s in sentences[:260]:
        if s.number == 130:
            take, t = 1, 0.5
        if s.number in skipped:
            continue
        if s.number in (60, 200):  # a cough, then a false start
            pieces.append(_Piece(take, t, t + (0.3 if s.number == 60 else 0.6)))
            t += 1.5
        seconds = s.chars / 14 * rng.uniform(0.9, 1.1)
        first = len(pieces)
        if s.number in split:
            pieces += [_Piece(take, t, t + seconds / 2), _Piece(take, t + seconds / 2 + 0.35, t + seconds + 0.35)]
        else:
            pieces.append(_Piece(take, t, t + seconds))
        truth[s.number - 1] = (first, len(pieces) - 1)
        t = pieces[-1].end + rng.uniform(0.8, 1.6)

    cost, matches = _align(pieces, sentences, set(), 14.0)
    assert matches == truth
    takes = []
    for index in (0, 1):  # the same through match_takes, which also finds the speaking rate
        rec = type("Take", (), {})()
        rec.pieces = [(p.start, p.end) for p in pieces if p.take == index]
        takes.append(rec)
    found, rate = match_takes(takes, sentences, set())
    assert sorted(found) == sorted(truth) and 13 < rate < 15


def test_one_file_per_sentence_in_any_format(tmp_path, script, spoken):
    recordings = tmp_path / "phone"
    recordings.mkdir()
    sf.write(recordings / "001.flac", home_mic(soxr.resample(spoken[1], RATE, 44100), 3), 44100)
    sf.write(recordings / "Запись 2.ogg", home_mic(spoken[2], 4, stereo=False), RATE, format="OGG", subtype="VORBIS")
    sf.write(recordings / "3.mp3", home_mic(soxr.resample(spoken[3], RATE, 44100), 5), 44100)
    sf.write(recordings / "006.wav", home_mic(np.concatenate([silence(0.5), spoken[6], silence(0.6)]), 6), RATE)
    sf.write(recordings / "099.wav", home_mic(spoken[8], 7), RATE)  # no sentence 99 in the script
    sf.write(recordings / "заметка.wav", home_mic(spoken[8], 8), RATE)  # no number at all
    sf.write(recordings / "007.wav", home_mic(silence(2.0), 9), RATE)  # silence with room noise only
    (recordings / "008.wav").write_bytes(b"")  # an empty file
    (recordings / "005.m4a").write_bytes(b"\0\0\0 ftypM4A ")  # a phone's AAC: libsndfile cannot read it
    before = digest(recordings)

    result = run_import([recordings], script, tmp_path / "corpus", 22050)

    assert digest(recordings) == before
    assert [c.sentence.number for c in result.kept] == [1, 2, 3, 6]
    unused = dict(result.unused)
    assert "не из сценария" in unused["099.wav"] and "1–8" in unused["099.wav"]
    assert "не понять номер" in unused["заметка.wav"]
    assert "не найдена речь" in unused["007.wav"]
    assert "пустой файл" in unused["008.wav"]
    assert "ffmpeg" in unused["005.m4a"] and "WAV" in unused["005.m4a"]
    assert result.missing == [4, 5, 7, 8]
    clip6 = next(c for c in result.kept if c.sentence.number == 6)
    assert clip6.measures["seconds"] == pytest.approx(len(spoken[6]) / RATE, abs=0.08)  # silence trimmed
    for clip in result.kept:
        info = sf.info(tmp_path / "corpus" / "RUSLAN" / f"{clip.sentence.utt_id}.wav")
        assert (info.samplerate, info.channels) == (22050, 1)


def test_clip_checks_set_bad_clips_aside(tmp_path, script, spoken):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    rng = np.random.default_rng(10)
    sf.write(recordings / "001.wav", home_mic(spoken[1], 11), RATE)  # fine
    sf.write(recordings / "002.wav", np.clip(home_mic(spoken[2] * 6, 12), -1, 1), RATE)  # clipped
    level = np.sqrt(np.mean(spoken[3] ** 2))
    padded = np.concatenate([silence(0.5), spoken[3], silence(0.5)])
    sf.write(recordings / "003.wav", padded + rng.normal(0, level / 10 ** (8 / 20), padded.shape), RATE)  # SNR 8 dB
    sf.write(recordings / "004.wav", home_mic(spoken[4] * 0.003, 13, noise_dbfs=-100), RATE)  # far too quiet
    sf.write(recordings / "006.wav", home_mic(spoken[5], 14), RATE)  # sentence 5's words under number 6
    sf.write(recordings / "007.wav", home_mic(spoken[7], 15), RATE)  # fine
    sf.write(recordings / "008.wav", home_mic(spoken[8], 16), RATE)  # fine

    result = run_import([recordings], script, tmp_path / "corpus", 22050)

    reasons = {c.sentence.number: " ".join(c.reasons) for c in result.clips}
    assert reasons[1] == reasons[7] == reasons[8] == ""
    assert "перегруз" in reasons[2]
    assert "шумно" in reasons[3]
    assert "тихо" in reasons[4]
    assert "раза длиннее" in reasons[6]
    assert result.clips[0].measures["snr_db"] > 30
    corpus = tmp_path / "corpus"
    assert sorted(p.stem for p in (corpus / "set_aside").glob("*.wav")) == [f"{n:06d}_RUSLAN" for n in (2, 3, 4, 6)]
    assert sorted(p.stem for p in (corpus / "RUSLAN").glob("*.wav")) == [f"{n:06d}_RUSLAN" for n in (1, 7, 8)]
    report = (corpus / "import_report.md").read_text(encoding="utf-8")
    assert "перегруз" in report and "шумно" in report


def test_whisper_sets_a_misread_aside(tmp_path, script, spoken):
    pytest.importorskip("faster_whisper")
    from rutts.intelligibility import Meter

    recordings = tmp_path / "recordings"
    recordings.mkdir()
    sf.write(recordings / "001.wav", home_mic(spoken[1], 20), RATE)
    sf.write(recordings / "006.wav", home_mic(spoken[8], 21), RATE)  # another sentence of about the same length
    result = run_import([recordings], script, tmp_path / "corpus", 22050, meter_factory=lambda: Meter(threads=1))
    clips = {c.sentence.number: c for c in result.clips}
    assert clips[1].kept and clips[1].measures["cer"] < 0.15
    assert not clips[6].kept and "Whisper услышал" in clips[6].reasons[0]
    assert "Whisper" in result.asr_note


def test_missing_meter_is_a_note_not_a_failure(tmp_path, script, spoken):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    sf.write(recordings / "001.wav", home_mic(spoken[1], 22), RATE)

    def no_meter():
        raise RuntimeError("не установлен измеритель разборчивости: pip install -r requirements-eval.txt")

    result = run_import([recordings], script, tmp_path / "corpus", 22050, meter_factory=no_meter)
    assert result.kept and "пропущена" in result.asr_note and "requirements-eval" in result.asr_note


def test_cli_messages(tmp_path, script, spoken, capsys):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    sf.write(recordings / "001.wav", home_mic(spoken[1], 30), RATE)
    out = tmp_path / "corpus"
    code = import_recordings.main([str(recordings), "--script", str(script), "--out", str(out), "--no-asr"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "нет записи: фразы 2–8" in printed
    assert "Для дообучения мало" in printed and "5 мин" in printed
    assert f"check_sample_rate.py {out}" in printed

    # again into the same folder: the earlier import is replaced, not mixed in
    (recordings / "001.wav").unlink()
    sf.write(recordings / "002.wav", home_mic(spoken[2], 31), RATE)
    assert import_recordings.main([str(recordings), "--script", str(script), "--out", str(out), "--no-asr"]) == 0
    assert sorted(p.name for p in (out / "RUSLAN").iterdir()) == ["000002_RUSLAN.wav"]
    capsys.readouterr()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("чужое", encoding="utf-8")
    for argv, expected in [
        ([str(recordings), "--script", str(tmp_path / "нет.csv"), "--out", str(tmp_path / "o")], "нет.csv"),
        ([str(recordings), "--script", str(script), "--out", str(foreign)], "не пуста"),
        ([str(recordings), "--script", str(script), "--out", str(recordings)], "совпадают"),
        ([str(tmp_path / "нет"), "--script", str(script), "--out", str(tmp_path / "o")], "нет такого файла"),
        ([str(out / "RUSLAN"), "--script", str(script), "--out", str(out)], "внутри папки корпуса"),
    ]:
        assert import_recordings.main(argv + ["--no-asr"]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("Ошибка:") and expected in error and "\n" not in error, error
    assert (foreign / "keep.txt").read_text(encoding="utf-8") == "чужое" and len(list(foreign.iterdir())) == 1
    assert (out / "RUSLAN" / "000002_RUSLAN.wav").is_file()  # the clips given as input were not deleted

    silent = tmp_path / "silent"
    silent.mkdir()
    sf.write(silent / "001.wav", silence(1.0), RATE)
    assert import_recordings.main([str(silent), "--script", str(script), "--out", str(tmp_path / "s"), "--no-asr"]) == 1
    captured = capsys.readouterr()
    assert "не найдена речь" in captured.out and "Ни одной годной записи" in captured.err


# ------------------------------------------------------------------ file names as people make them (issue 23, point 3)

NAMES = {  # file name (without extension) → the sentence it is a take of; None: listed, never guessed
    "017": 17, "17": 17, "000017_RUSLAN": 17,
    "017 (2)": 17, "017 - Copy": 17, "017 - Copy (2)": 17, "017 - Копия": 17, "017 — копия (3)": 17,  # Explorer
    "017 copy": 17, "017 copy 2": 17, "017 2": 17,  # macOS Finder
    "017(1)": 17, "017-1": 17,  # Firefox, Safari
    "017_take2": 17, "017 take 2": 17, "017-2": 17, "017_2": 17, "017.2": 17, "017a": 17, "017 дубль2": 17,  # hers
    "Recording 017": 17, "New Recording 17": 17, "Запись 17": 17, "Новая запись 17 (1)": 17, "Voice 017": 17,  # phones
    "Запись 2024-05-01 10-32-11": None, "20240501_103211": None, "Sep 5 at 10-32": None,  # phones with a date
    "Урок 3 фраза 17": None, "заметка": None, "дубль1": None, "17_017": None,
}


@pytest.mark.parametrize("name", NAMES)
def test_sentence_number_of_a_file_name(name):
    from rutts.own_voice.names import sentence_number

    assert sentence_number(name) == NAMES[name]


def test_copies_and_takes_go_to_their_sentence_and_the_best_take_is_kept(tmp_path, script, spoken):
    """A folder as Windows Explorer, macOS Finder, browsers and phone recorders leave it, Whisper off."""
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    level = np.sqrt(np.mean(spoken[2] ** 2))
    noisy = np.concatenate([silence(0.5), spoken[2], silence(0.5)])
    noisy = noisy + np.random.default_rng(40).normal(0, level / 10 ** (8 / 20), noisy.shape)
    files = {
        "001.wav": home_mic(spoken[1], 41),
        "002 (1).wav": noisy.astype(np.float32),  # the first try, SNR 8 dB
        "002 (2).wav": home_mic(spoken[2], 42),  # the browser's name for the second download: the good one
        "003(1).wav": home_mic(spoken[3], 43),
        "004_take2.wav": home_mic(spoken[4], 44),
        "005-2.wav": home_mic(spoken[5], 45),
        "006 - Copy.wav": home_mic(spoken[6], 46),
        "006 copy.wav": np.clip(home_mic(spoken[6] * 6, 47), -1, 1),  # clipped
        "Recording 007.wav": home_mic(spoken[7], 48),
        "Запись 2024-05-01 10-32-03.wav": home_mic(spoken[8], 49),  # a phone's date: not sentence 3
    }
    for name, audio in files.items():
        sf.write(recordings / name, audio, RATE)

    result = run_import([recordings], script, tmp_path / "corpus", 22050)

    assert {c.sentence.number: c.source for c in result.kept} == {
        1: "001.wav", 2: "002 (2).wav", 3: "003(1).wav", 4: "004_take2.wav", 5: "005-2.wav", 6: "006 - Copy.wav",
        7: "Recording 007.wav"}
    assert result.missing == [8] and not [c for c in result.clips if not c.kept]
    unused = dict(result.unused)
    assert "дубль фразы 2, взят 002 (2).wav (шумно" in unused["002 (1).wav"]
    assert "дубль фразы 6, взят 006 - Copy.wav (перегруз" in unused["006 copy.wav"]
    assert "не понять номер" in unused["Запись 2024-05-01 10-32-03.wav"]
    assert len(unused) == 3


def test_numbers_are_the_script_s_own_after_a_line_is_deleted(tmp_path, script, spoken):
    """script.md numbers the sentence of 000005_RUSLAN as 5, also when she deleted line 3 from metadata.csv."""
    lines = script.read_text(encoding="utf-8").splitlines(True)
    script.write_text("".join(lines[:2] + lines[3:]), encoding="utf-8")
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    sf.write(recordings / "005.wav", home_mic(spoken[5], 50), RATE)
    result = run_import([recordings], script, tmp_path / "corpus", 22050)
    assert [(c.sentence.number, c.sentence.utt_id) for c in result.kept] == [(5, "000005_RUSLAN")]
    assert result.missing == [1, 2, 4, 6, 7, 8]


def test_whisper_progress_moves_with_the_work(tmp_path, script, spoken):
    pytest.importorskip("faster_whisper")
    from rutts.intelligibility import Meter

    events = []

    class Watched(Meter):
        def transcribe(self, audio):
            events.append("transcribe")
            return super().transcribe(audio)

    def progress(items, stage, total):
        for item in items:
            events.append(stage)
            yield item

    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for number in (1, 4):
        sf.write(recordings / f"{number:03d}.wav", home_mic(spoken[number], 60 + number), RATE)
    run_import([recordings], script, tmp_path / "corpus", 22050, meter_factory=lambda: Watched(threads=1),
               progress=progress)
    assert [e for e in events if e in ("asr", "transcribe")] == ["asr", "transcribe", "asr", "transcribe"]


# ------------------------------------------------------------------ an earlier import is replaced whole, or kept


@pytest.fixture
def earlier_import(tmp_path, script, spoken):
    """An import of sentences 1-3 (3 set aside: clipped), audited by check_sample_rate.py."""
    import check_sample_rate

    recordings = tmp_path / "first"
    recordings.mkdir()
    sf.write(recordings / "001.wav", home_mic(spoken[1], 70), RATE)
    sf.write(recordings / "002.wav", home_mic(spoken[2], 71), RATE)
    sf.write(recordings / "003.wav", np.clip(home_mic(spoken[3] * 6, 72), -1, 1), RATE)
    out = tmp_path / "corpus"
    assert import_recordings.main([str(recordings), "--script", str(script), "--out", str(out), "--no-asr"]) == 0
    config = Path(import_recordings.__file__).with_name("config.json")
    assert check_sample_rate.main([str(out), "--config", str(config), "--no-stress", "--quick"]) == 0
    assert {"set_aside", "metadata_train.csv", "metadata_val.csv", "frontend.json"} <= {p.name for p in out.iterdir()}
    return out


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_failed_reimport_leaves_the_earlier_corpus(tmp_path, script, earlier_import, capsys):
    before = tree(earlier_import)
    unreadable = tmp_path / "unreadable"
    unreadable.mkdir()
    (unreadable / "дубль1.wav").write_bytes(b"RIFF\x24\0\0\0WAVEfmt garbage")
    capsys.readouterr()
    code = import_recordings.main([str(unreadable), "--script", str(script), "--out", str(earlier_import), "--no-asr"])
    assert code == 1
    assert f"прежний импорт в {earlier_import} не тронут" in capsys.readouterr().err
    assert tree(earlier_import) == before


def test_an_import_interrupted_midway_leaves_the_earlier_corpus(tmp_path, script, spoken, earlier_import):
    before = tree(earlier_import)
    recordings = tmp_path / "second"
    recordings.mkdir()
    for number in (4, 5, 6):
        sf.write(recordings / f"{number:03d}.wav", home_mic(spoken[number], 80 + number), RATE)

    def interrupted(items, stage, total):
        for number, item in enumerate(items):
            if stage == "check" and number == 2:
                raise KeyboardInterrupt
            yield item

    with pytest.raises(KeyboardInterrupt):
        run_import([recordings], script, earlier_import, 22050, progress=interrupted)
    assert tree(earlier_import) == before

    fresh = tmp_path / "fresh"  # killed while writing into a new folder: only the staging folder was left
    (fresh / ".build.k1ll3d00.partial" / "RUSLAN").mkdir(parents=True)
    result = run_import([recordings], script, fresh, 22050)
    assert [c.sentence.number for c in result.kept] == [4, 5, 6]
    assert sorted(p.name for p in fresh.iterdir()) == ["RUSLAN", "import_report.json", "import_report.md",
                                                       "metadata_RUSLAN.csv"]


def test_a_reimport_with_less_leaves_nothing_of_the_earlier_one(tmp_path, script, spoken, earlier_import):
    recordings = tmp_path / "second"
    recordings.mkdir()
    sf.write(recordings / "004.wav", home_mic(spoken[4], 90), RATE)
    assert import_recordings.main([str(recordings), "--script", str(script), "--out", str(earlier_import),
                                   "--no-asr"]) == 0
    assert sorted(tree(earlier_import)) == ["RUSLAN/000004_RUSLAN.wav", "import_report.json", "import_report.md",
                                            "metadata_RUSLAN.csv", "processed_text_cache.json"]
    assert (earlier_import / "metadata_RUSLAN.csv").read_text(encoding="utf-8").startswith("000004_RUSLAN|Это важно.")
