"""rutts.dataset: metadata reading, the deterministic split, the processed-text cache, signal statistics."""
import json
import os

import numpy as np
import pytest
import soundfile as sf

from rutts.audit import signal_stats
from rutts.dataset import (CACHE_FILE, DatasetError, _hash_unit, find_metadata, process_texts, read_metadata,
                           validation_ids, write_split)
from rutts.text import FrontEnd

RATE = 22050


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def test_bom_crlf_blank_lines_and_extra_columns_are_accepted(tmp_path):
    data = "\ufeffa1|Привет, мир!\r\n\r\n  \r\na2|Второй|нормализованный\r\na3|\r\n".encode("utf-8")
    rows = read_metadata(write_bytes(tmp_path / "m.csv", data))
    assert rows == [("a1", "Привет, мир!"), ("a2", "Второй"), ("a3", "")]


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"", "пуст"),
        (b"\xef\xbb\xbf\r\n\r\n", "пуст"),
        ("a1|один\nбез разделителя\n".encode("utf-8"), "строка 2: нет разделителя"),
        ("a1|один\r\n".encode("utf-8") + "a2|Привет\n".encode("cp1251"), "строка 2: байт 0xcf не UTF-8"),
        ("a1|один\na2|два\na1|три\n".encode("utf-8"), "строка 3: id 'a1' уже был в строке 1"),
        ("../x|текст\n".encode("utf-8"), "не может быть именем"),
    ],
)
def test_bad_metadata_names_file_and_line(tmp_path, data, expected):
    path = write_bytes(tmp_path / "metadata_x.csv", data)
    with pytest.raises(DatasetError, match=expected) as caught:
        read_metadata(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_non_utf8_message_says_how_to_fix(tmp_path):
    path = write_bytes(tmp_path / "m.csv", "a1|Привет\n".encode("cp1251"))
    with pytest.raises(DatasetError, match="сохраните файл разметки в кодировке UTF-8"):
        read_metadata(path)


def test_missing_metadata_and_folder(tmp_path):
    with pytest.raises(DatasetError, match="не найден"):
        read_metadata(tmp_path / "nope.csv")
    with pytest.raises(DatasetError, match="папка корпуса не найдена"):
        find_metadata(tmp_path / "nope")


def test_find_metadata_skips_split_files_and_refuses_to_guess(tmp_path):
    for name in ("metadata_train.csv", "metadata_val.csv"):
        (tmp_path / name).write_text("a|b\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="metadata_train.csv, metadata_val.csv — файлы разбиения"):
        find_metadata(tmp_path)
    (tmp_path / "metadata_RUSLAN_22200.csv").write_text("a|b\n", encoding="utf-8")
    assert find_metadata(tmp_path).name == "metadata_RUSLAN_22200.csv"
    (tmp_path / "metadata_other.csv").write_text("a|b\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="несколько файлов разметки"):
        find_metadata(tmp_path)


def ids(count, start=0):
    return [f"{n:06d}_RUSLAN" for n in range(start, start + count)]


def test_split_sizes_for_demo_and_ruslan():
    assert len(validation_ids(ids(400))) >= 8
    ruslan = validation_ids(ids(22200))
    assert 444 - 70 < len(ruslan) < 444 + 70  # 2 % ± 3 sigma of a binomial
    assert all(_hash_unit(i) < 0.02 for i in ruslan)  # no top-up needed at this size
    assert len(validation_ids(ids(20))) == 2  # a tiny corpus keeps at most a tenth for validation
    assert validation_ids(ids(1)) == set()


def test_split_is_deterministic_and_stable_when_the_corpus_grows():
    small = ids(400)
    val_small = validation_ids(small)
    assert validation_ids(list(reversed(small))) == val_small
    for grown in (ids(2000), ids(22200)):
        val_grown = validation_ids(grown)
        train_small = set(small) - val_small
        assert not train_small & val_grown, "a training id moved into validation"
        by_hash = {i for i in val_small if _hash_unit(i) < 0.02}
        assert by_hash <= val_grown, "a validation id chosen by hash moved into training"


def test_write_split_is_disjoint_and_rewrites_nothing_when_unchanged(tmp_path):
    usable = [(i, f"текст {i}") for i in ids(100)]
    split = write_split(tmp_path, usable)
    train = (tmp_path / "metadata_train.csv").read_text(encoding="utf-8").splitlines()
    val = (tmp_path / "metadata_val.csv").read_text(encoding="utf-8").splitlines()
    assert len(train) + len(val) == 100 and len(val) == len(split.val_ids) >= 8
    assert not {line.split("|")[0] for line in train} & {line.split("|")[0] for line in val}
    assert val[0] == f"{split.val_ids[0]}|текст {split.val_ids[0]}"
    before = os.stat(tmp_path / "metadata_train.csv").st_mtime_ns
    os.utime(tmp_path / "metadata_train.csv", ns=(before - 10**9, before - 10**9))
    write_split(tmp_path, usable)
    assert os.stat(tmp_path / "metadata_train.csv").st_mtime_ns == before - 10**9
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_is_reused_for_the_same_signature_and_rebuilt_for_another(tmp_path):
    texts = ["В 2024 г. курс прошли 150 человек.", "Откройте Excel.", "😀 !!!", "В 2024 г. курс прошли 150 человек."]
    cache = tmp_path / CACHE_FILE
    plain = FrontEnd(stress=False)
    first = process_texts(texts, plain, cache)
    assert first.fresh == 3  # the repeated text is processed once
    assert first.processed[texts[0]] == plain.process(texts[0]) and "😀 !!!" in first.failed
    stamp = cache.stat().st_mtime_ns
    again = process_texts(texts + ["Откройте Excel."], plain, cache)
    assert again.fresh == 0 and again.processed == first.processed and again.failed == first.failed
    assert cache.stat().st_mtime_ns == stamp  # nothing new: the cache file is not rewritten
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("Excel → +иксель\n", encoding="utf-8")
    other = FrontEnd(lexicon, stress=False)
    rebuilt = process_texts(texts, other, cache)
    assert rebuilt.fresh == 3 and "иксель" in rebuilt.processed["Откройте Excel."]
    assert json.loads(cache.read_text(encoding="utf-8"))["signature"] == other.signature


def test_a_corrupt_cache_is_ignored(tmp_path):
    cache = tmp_path / CACHE_FILE
    cache.write_text('{"signature": ', encoding="utf-8")
    result = process_texts(["Привет."], FrontEnd(stress=False), cache)
    assert result.fresh == 1 and result.processed["Привет."] == "привет."


def test_signal_stats_find_clipping_quiet_and_edge_silence(tmp_path):
    t = np.arange(RATE) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)
    kinds = {
        "clean": tone,
        "clipped": np.clip(10 * tone, -1, 1),
        "quiet": 1e-4 * tone,
        "late": np.concatenate([np.zeros(int(1.5 * RATE)), tone]),
        "early": np.concatenate([tone, np.zeros(int(1.2 * RATE))]),
    }
    stats = {}
    for kind, samples in kinds.items():
        sf.write(tmp_path / f"{kind}.wav", samples, RATE, subtype="PCM_16")
        stats[kind] = signal_stats(tmp_path / f"{kind}.wav")
    clean = stats["clean"]
    assert clean.clip_share == 0 and -15 < clean.rms_dbfs < -10 and clean.lead_s < 0.05 and clean.trail_s < 0.05
    assert stats["clipped"].clip_share > 0.3
    assert stats["quiet"].rms_dbfs < -80
    assert 1.45 < stats["late"].lead_s < 1.55 and stats["late"].trail_s < 0.05
    assert stats["early"].lead_s < 0.05 and 1.15 < stats["early"].trail_s < 1.25
    (tmp_path / "broken.wav").write_bytes(b"RIFF1234WAVEfmt nonsense")
    assert signal_stats(tmp_path / "broken.wav").startswith("не читается как звук (")


def test_a_wav_at_another_rate_is_refused_before_training(tmp_path):
    from rutts.dataset import check_sample_rates

    paths = []
    for number, rate in enumerate((22050, 44100, 22050, 48000)):
        paths.append(tmp_path / f"{number}.wav")
        sf.write(paths[-1], np.zeros(rate // 10, np.float32), rate, subtype="PCM_16")
    check_sample_rates(paths[::2], 22050)
    with pytest.raises(DatasetError, match=r"1\.wav — 44100 Гц \(и ещё 1\), а модель обучается на 22050 Гц"):
        check_sample_rates(paths, 22050)
