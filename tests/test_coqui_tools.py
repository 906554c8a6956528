"""Coqui's own command line on our run folder: a change to our config or checkpoints that breaks Coqui's loader
fails here first (README: "Инструменты Coqui: tts и tts-server")."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from rutts.text import FrontEnd
from test_checkpoints import base_run  # noqa: F401  (a tiny trained run: the fixture)


def test_coquis_tts_command_speaks_text_our_front_end_read(base_run, tmp_path):  # noqa: F811
    text = FrontEnd(stress=False).process("Урок 3: работа с таблицами.")
    out = tmp_path / "coqui.wav"
    command = [str(Path(sys.executable).with_name("tts")), "--model_path", str(base_run / "best_model.pth"),
               "--config_path", str(base_run / "config.json"), "--text", text, "--out_path", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    audio, rate = sf.read(out)
    assert rate == 22050 and audio.size > 0 and np.isfinite(audio).all()
