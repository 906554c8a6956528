"""Shared fixtures: a tiny real corpus spoken by RHVoice (espeak-ng as fallback) and a tiny GlowTTS config."""
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCES = [
    "Тише едешь, дальше будешь.",
    "Урок 3: работа с таблицами.",
    "Без труда не выловишь и рыбку из пруда.",
    "Откройте Excel и создайте новый файл.",
    "Повторение — мать учения.",
    "В 2024 г. курс прошли 150 человек.",
    "Семь раз отмерь, один раз отрежь.",
    "Делу время, потехе час.",
    "Сегодня мы разберём 5 примеров.",
    "Не имей сто рублей, а имей сто друзей.",
    "Утро вечера мудренее.",
    "Кто рано встаёт, тому Бог подаёт.",
]
VAL_IDS = {"000002_RUSLAN", "000009_RUSLAN"}


def speak(text: str, sample_rate: int) -> np.ndarray:
    """Russian speech from the teacher voice installed by scripts/setup.sh."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        if shutil.which("RHVoice-test"):
            subprocess.run(["RHVoice-test", "-p", "aleksandr", "-o", str(wav)], input=text.encode(), check=True)
        else:
            subprocess.run(["espeak-ng", "-v", "ru", "-w", str(wav), text], check=True)
        audio, rate = sf.read(wav, dtype="float32")
    return soxr.resample(audio, rate, sample_rate).astype(np.float32)


@pytest.fixture(scope="session")
def front_end():
    from rutts.text import FrontEnd

    return FrontEnd()


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory, front_end):
    """12 utterances at 22,050 Hz in RUSLAN layout, with the train/val split files training reads."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "RUSLAN").mkdir()
    lines, train, val = [], [], []
    for number, text in enumerate(SENTENCES, 1):
        utt = f"{number:06d}_RUSLAN"
        sf.write(root / "RUSLAN" / f"{utt}.wav", speak(front_end.normalize(text), 22050), 22050, subtype="PCM_16")
        lines.append(f"{utt}|{text}")
        (val if utt in VAL_IDS else train).append(f"{utt}|{front_end.process(text)}")
    (root / "metadata_RUSLAN_22200.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "metadata_train.csv").write_text("\n".join(train) + "\n", encoding="utf-8")
    (root / "metadata_val.csv").write_text("\n".join(val) + "\n", encoding="utf-8")
    return root


def run_on_terminal(command: list[str]) -> tuple[int, str]:
    """Run a command with its stderr on a pseudo-terminal (as in a console): exit code and what it drew there."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 0-column terminal hides it
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=follower) as process:
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            seen += chunk
    os.close(leader)
    return process.returncode, seen.decode("utf-8", "replace")


TINY_MODEL = {
    "hidden_channels_enc": 32,
    "hidden_channels_dec": 32,
    "hidden_channels_dp": 32,
    "num_flow_blocks_dec": 2,
    "num_block_layers": 2,
    "encoder_params": {"kernel_size": 3, "dropout_p": 0.1, "num_layers": 1, "num_heads": 2,
                       "hidden_channels_ffn": 64, "input_length": None},
    "batch_size": 4,
    "eval_batch_size": 2,
    "data_dep_init_steps": 2,
    "print_step": 1,
    "plot_step": 1,
    "save_step": 4,
    "save_n_checkpoints": 2,
    "test_delay_epochs": 1000,
    "epochs": 1000,
}


@pytest.fixture
def tiny_config_path(tmp_path, tiny_corpus):
    """config.json + the CPU preset + a very small model, pointing at the tiny corpus and a tmp outputs/."""
    from rutts.train.config import load_config

    config = load_config(ROOT / "config.json", "cpu")
    data = config.to_dict()
    data.update(TINY_MODEL)
    data["datasets"][0]["path"] = str(tiny_corpus)
    data["output_path"] = str(tmp_path / "outputs")
    path = tmp_path / "config.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path
