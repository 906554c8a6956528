"""Everything about what a training run leaves behind; the only code that opens a run folder's own files.

    <run>/config.json                 the run's config (GlowTTS or vocoder)            configs.py
    <run>/best_model.pth, best_model_<step>.pth, checkpoint_<step>.pth                checkpoints.py
    <run>/frontend.json (+ frontend_lexicon.txt)   how its training text was read     frontend_record.py
    <run>/vocoder.json                the vocoder run a TTS run speaks with           state.py
    <run>/early_stop.json             best eval loss and evaluations since it         state.py
    <run>/heldout_check.json          a vocoder run: its held-out score against Griffin-Lim's   state.py

`RunFolder(path)` answers the questions the rest of the kit asks (folder.py). Below it: the text front end, audio
and the corpus (a corpus folder keeps a front-end record too); above it: speech, training, the bot.
"""
from rutts.run.checkpoints import (BEST, best_checkpoint, describe_mismatch, is_readable, numbered, restore_source,
                                   set_aside_unreadable_checkpoints, staged_best_model)
from rutts.run.configs import (FRAME_VOCODER, frame_vocoder_config_class, read_glowtts_config, read_vocoder_config,
                               update_run_config, vocoder_config_class)
from rutts.run.errors import RunError
from rutts.run.folder import RunFolder, model_files
from rutts.run.frontend_record import RECORD_NAME, frontend_for, pass_record_to_run, read_record, record_frontend
from rutts.run.state import LINK_FILE, link_vocoder, linked_vocoder, vocoder_to_finetune

__all__ = ["BEST", "best_checkpoint", "describe_mismatch", "is_readable", "numbered", "restore_source",
           "set_aside_unreadable_checkpoints", "staged_best_model", "read_glowtts_config", "read_vocoder_config",
           "update_run_config", "vocoder_config_class", "FRAME_VOCODER",
           "frame_vocoder_config_class", "RunError", "RunFolder", "model_files", "RECORD_NAME",
           "frontend_for", "pass_record_to_run", "read_record", "record_frontend", "LINK_FILE", "link_vocoder",
           "linked_vocoder", "vocoder_to_finetune"]
