"""Her voice, simulated for bench_own_voice.py: RHVoice reading the recording script through a home microphone
(a small room, low noise, loudness varying from sentence to sentence) as 48 kHz stereo takes of about three minutes,
imported as hers would be (import_recordings, check_sample_rate), and held-out sentences read the same way."""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rutts.audio import resample  # noqa: E402
from rutts.dataset import read_metadata  # noqa: E402

TAKE_RATE = 48000
TAKE_SECONDS = 180
HELD_OUT = 24
DEMO_METADATA = ROOT / "data" / "demo" / "metadata_RUSLAN_22200.csv"


# ------------------------------------------------------------------------------------------------ her voice


def speak(text: str, voice: str) -> tuple[np.ndarray, int]:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        subprocess.run(["RHVoice-test", "-p", voice, "-o", str(wav)], input=text.encode("utf-8"), check=True)
        audio, rate = sf.read(wav, dtype="float32")
    return audio, rate


def room_impulse(rate: int, rng: np.random.Generator, rt60: float = 0.3, direct_to_reverb_db: float = 8.0):
    """Direct sound plus a noise tail decaying by 60 dB over rt60 seconds: a small furnished room."""
    t = np.arange(int(rt60 * rate)) / rate
    tail = rng.normal(size=t.size) * np.exp(-6.9 * t / rt60)
    tail[: int(0.004 * rate)] = 0.0  # the first reflection arrives a few milliseconds after the direct sound
    tail *= np.sqrt(10 ** (-direct_to_reverb_db / 10) / np.sum(tail**2))
    tail[0] = 1.0
    return tail.astype(np.float32)


def home_mic(speech: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Room reverb, a low rumble of background noise, a level somewhere between -12 and -4 dBFS peak; stereo."""
    from scipy.signal import fftconvolve, lfilter

    wet = fftconvolve(speech, room_impulse(rate, rng))[: len(speech)]
    wet *= 10 ** (rng.uniform(-12, -4) / 20) / max(1e-6, np.abs(wet).max())
    noise = lfilter([1.0], [1.0, -0.95], rng.normal(size=(len(wet), 2)), axis=0)  # darker than white, like a room
    noise *= 10 ** (rng.uniform(-60, -52) / 20) / np.sqrt(np.mean(noise**2))
    return (wet[:, None] * np.array([1.0, 0.92]) + noise).astype(np.float32)


def begin(folder: Path) -> bool:
    """False when `folder` was rendered to the end before; else it is made empty to render into."""
    if (folder / "done").is_file():
        return False
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return True


def render_takes(texts: list[str], folder: Path, voice: str, seed: int) -> None:
    """Long takes read in order, each about TAKE_SECONDS, with 0.8-1.6 s pauses and varied loudness."""
    if not begin(folder):
        return
    rng = np.random.default_rng(seed)
    take, seconds, number = [np.zeros(int(0.6 * TAKE_RATE), np.float32)], 0.0, 1
    for index, text in enumerate(texts):
        audio, rate = speak(text, voice)
        audio = resample(audio, rate, TAKE_RATE) * np.float32(10 ** (rng.uniform(-4, 4) / 20))
        take += [audio, np.zeros(int(rng.uniform(0.8, 1.6) * TAKE_RATE), np.float32)]
        seconds += len(audio) / TAKE_RATE
        if seconds >= TAKE_SECONDS or index == len(texts) - 1:
            sf.write(folder / f"дубль{number:02d}.wav", home_mic(np.concatenate(take), TAKE_RATE, rng), TAKE_RATE)
            take, seconds, number = [np.zeros(int(0.6 * TAKE_RATE), np.float32)], 0.0, number + 1
    (folder / "done").write_text("ok")


def render_singles(texts: list[str], folder: Path, voice: str, seed: int) -> None:
    if not begin(folder):
        return
    rng = np.random.default_rng(seed)
    for number, text in enumerate(texts, 1):
        audio, rate = speak(text, voice)
        padded = np.concatenate([np.zeros(int(0.4 * rate), np.float32), audio, np.zeros(int(0.5 * rate), np.float32)])
        sf.write(folder / f"{number:03d}.wav", home_mic(resample(padded, rate, TAKE_RATE), TAKE_RATE, rng), TAKE_RATE)
    (folder / "done").write_text("ok")


# ------------------------------------------------------------------------------------------------ corpora


def write_metadata(path: Path, texts: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{n:06d}_RUSLAN|{t}\n" for n, t in enumerate(texts, 1)), encoding="utf-8")
    return path


def make_scripts(work: Path, minutes: float) -> tuple[Path, Path]:
    """The recording script (greedy coverage, as make_recording_script.py writes it) and the held-out sentences:
    pool sentences in neither the script nor the demo corpus."""
    from rutts.own_voice.script import choose, prepare_candidates, read_pool, write_script
    from rutts.text import FrontEnd

    script_dir, held_out = work / "script", work / "held_out.csv"
    if (script_dir / "metadata.csv").is_file() and held_out.is_file():
        return script_dir / "metadata.csv", held_out
    candidates, _ = prepare_candidates([(t, "pool") for t in read_pool()], FrontEnd())
    demo = {text for _, text in read_metadata(DEMO_METADATA)}
    rng = np.random.default_rng(7)
    unseen = [c for c in candidates if c.text not in demo and 25 <= len(c.text) <= 90]
    reference = [unseen[i] for i in sorted(rng.choice(len(unseen), HELD_OUT, replace=False))]
    script = choose([c for c in candidates if c not in reference], minutes)
    write_script(script_dir, script)
    write_metadata(held_out, [c.text for c in reference])
    print(f"script: {len(script.sentences)} sentences, ~{script.seconds / 60:.1f} min, coverage {script.coverage:.1%}")
    return script_dir / "metadata.csv", held_out


def import_corpus(recordings: Path, script: Path, out: Path) -> Path:
    from rutts.own_voice.importer import REPORT_JSON, import_recordings

    if not (out / REPORT_JSON).is_file():
        result = import_recordings([recordings], script, out, 22050)
        print(f"imported {recordings.name}: kept {len(result.kept)} ({result.kept_seconds() / 60:.1f} min), "
              f"set aside {len(result.clips) - len(result.kept)}, missing {len(result.missing)}")
    return out


def subset_corpus(full: Path, out: Path, minutes: float) -> Path:
    """The first `minutes` of kept clips, in script order, as a corpus of its own with its split."""
    import check_sample_rate

    if (out / "metadata_train.csv").is_file():
        return out
    (out / "RUSLAN").mkdir(parents=True, exist_ok=True)
    rows, total = [], 0.0
    for utt_id, text in read_metadata(full / "metadata_RUSLAN.csv"):
        seconds = sf.info(full / "RUSLAN" / f"{utt_id}.wav").duration
        if total + seconds > minutes * 60:
            break
        shutil.copyfile(full / "RUSLAN" / f"{utt_id}.wav", out / "RUSLAN" / f"{utt_id}.wav")
        rows.append(f"{utt_id}|{text}\n")
        total += seconds
    (out / "metadata_RUSLAN.csv").write_text("".join(rows), encoding="utf-8")
    check_sample_rate.main([str(out), "--config", str(ROOT / "config.json")])
    print(f"corpus {out.name}: {len(rows)} clips, {total / 60:.1f} min")
    return out
