"""A vocoder's data: the clips of the corpus's split (train ids to learn from, val ids to evaluate on), and for
GTA training the acoustic model's own mels of the same clips."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from rutts.dataset import TRAIN_FILE, VAL_FILE, WAV_DIR, DatasetError, check_sample_rates, read_metadata, wav_path
from rutts.files import atomic_output
from rutts.run import FRAME_VOCODER, RunError, model_files
from rutts.speech import GRIFFIN_LIM, Voice
from rutts.train.config import TrainingSetupError

log = logging.getLogger(__name__)

GTA_SOURCE = "source.json"  # in a GTA mel folder: which TTS checkpoint made the mels


def _ids(corpus: Path, meta: str) -> list[str]:
    path = corpus / meta
    if not path.is_file():
        raise TrainingSetupError(f"Нет {path}: сначала запустите python check_sample_rate.py {corpus} — он пишет "
                                 "разбиение train/val")
    return [utt_id for utt_id, _ in read_metadata(path)]


def split_ids(corpus: Path) -> tuple[list[str], list[str]]:
    """(train ids, val ids) of the corpus's split, each with its wav; a clear error for what is missing."""
    corpus = Path(corpus)
    if not corpus.is_dir():
        raise TrainingSetupError(f"Папка корпуса не найдена: {corpus}")
    if not any((corpus / WAV_DIR).glob("*.wav")):
        raise TrainingSetupError(f"В {corpus / 'RUSLAN'} нет ни одного wav: корпус в раскладке RUSLAN — "
                                 "<корпус>/RUSLAN/<id>.wav")
    train, val = _ids(corpus, TRAIN_FILE), _ids(corpus, VAL_FILE)
    missing = [wav_path(corpus, i) for i in train + val if not wav_path(corpus, i).is_file()]
    if missing:
        more = f" и ещё {len(missing) - 1}" if len(missing) > 1 else ""
        raise TrainingSetupError(f"Разбиение ссылается на отсутствующий файл: {missing[0]}{more}")
    if not train or not val:
        raise TrainingSetupError(f"В разбиении {corpus} пусто: train {len(train)}, val {len(val)} фраз")
    return train, val


def vocoder_samples(config) -> tuple[list, list]:
    """Train and eval items for Coqui's GANDataset: wav paths, or (wav, GTA mel) pairs when feature_path is set."""
    corpus = Path(config.data_path)
    train, val = split_ids(corpus)
    try:
        check_sample_rates([wav_path(corpus, i) for i in train + val], config.audio.sample_rate)
    except DatasetError as error:
        raise TrainingSetupError(str(error)) from None
    if not config.feature_path:
        return [str(wav_path(corpus, i)) for i in train], [str(wav_path(corpus, i)) for i in val]
    features = Path(config.feature_path)
    missing = [i for i in train + val if not (features / f"{i}.npy").is_file()]
    if missing:
        raise TrainingSetupError(f"В {features} нет мелов модели для {len(missing)} фраз (например {missing[0]}): "
                                 "извлеките их заново (--gta-from outputs/<прогон TTS>)")
    if config.model == FRAME_VOCODER:  # its GTA segments are whole: a clip needs seq_len/hop + 1 frames
        needed = config.seq_len // config.audio.hop_length + 1
        if all(np.load(features / f"{i}.npy", mmap_mode="r").shape[1] < needed for i in train):
            raise TrainingSetupError(f"ни одна запись train не длиннее отрезка seq_len={config.seq_len} отсчётов: "
                                     "уменьшите его (--coqpit.seq_len=...)")
    return ([(str(wav_path(corpus, i)), str(features / f"{i}.npy")) for i in train],
            [(str(wav_path(corpus, i)), str(features / f"{i}.npy")) for i in val])


# ---------------------------------------------------------------- GTA mels


def gta_mel(model, text: str, wav: np.ndarray) -> np.ndarray:
    """The mel GlowTTS makes for this text aligned to this recording [n_mels, frames]: the MAS path on the real mel,
    the aligned prior means decoded by the flow. Coqui's inference_with_MAS returns the means themselves (latent
    space, not a mel), so the decoder is run on them here."""
    from TTS.tts.utils.helpers import sequence_mask

    ids = torch.tensor([model.tokenizer.text_to_ids(text)], dtype=torch.long)
    mel = torch.from_numpy(model.ap.melspectrogram(wav).astype(np.float32)).T.unsqueeze(0)  # [1, T, C]
    with torch.inference_mode():
        out = model.inference_with_MAS(ids, torch.tensor([ids.shape[1]]), mel, torch.tensor([mel.shape[1]]))
        z = out["model_outputs"].transpose(1, 2)  # [1, C, T'], T' = T rounded down to the flow's squeeze
        mask = sequence_mask(torch.tensor([z.shape[2]]), z.shape[2]).unsqueeze(1).to(z.dtype)
        decoded, _ = model.decoder(z, mask, reverse=True)
    return decoded[0].numpy().astype(np.float32)


def extract_gta_mels(tts_run: Path, corpus: Path) -> Path:
    """The TTS model's mels for every train and val clip of the corpus, in <tts run>/gta_mels/<id>.npy; mels made
    earlier by the same checkpoint are kept."""
    try:
        checkpoint, _ = model_files(tts_run)
        model = Voice.load(tts_run, vocoder=GRIFFIN_LIM).model
    except RunError as error:
        raise TrainingSetupError(f"--gta-from: {error}") from None
    out = Path(tts_run) / "gta_mels"
    split_ids(corpus)  # clear errors first
    stat = checkpoint.stat()  # best_model.pth is replaced by each better model: same name and size, new mtime
    source = {"checkpoint": checkpoint.name, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
              "corpus": str(Path(corpus).resolve())}
    stale = not (out / GTA_SOURCE).is_file() or json.loads((out / GTA_SOURCE).read_text(encoding="utf-8")) != source
    out.mkdir(parents=True, exist_ok=True)
    if stale:  # the source is written first: an extraction cut short is continued, not redone
        for old in out.glob("*.npy"):
            old.unlink()
        with atomic_output(out / GTA_SOURCE) as temp:
            temp.write_text(json.dumps(source, ensure_ascii=False) + "\n", encoding="utf-8")
    lines = read_metadata(Path(corpus) / TRAIN_FILE) + read_metadata(Path(corpus) / VAL_FILE)
    todo = [(utt_id, text) for utt_id, text in lines if not (out / f"{utt_id}.npy").is_file()]
    log.info("GTA mels: %d of %d clips to extract with %s", len(todo), len(lines), checkpoint)
    for number, (utt_id, text) in enumerate(todo, 1):
        mel = gta_mel(model, text, model.ap.load_wav(str(wav_path(corpus, utt_id))))
        with atomic_output(out / f"{utt_id}.npy") as temp, open(temp, "wb") as handle:
            np.save(handle, mel)
        if number % 100 == 0:
            log.info("GTA mels: %d / %d", number, len(todo))
    return out
