"""Training on top of Coqui's Trainer, for GlowTTS and for vocoders.

    config.py          config.json + presets/<name>.json + --coqpit overrides, checked
    glowtts.py         build_trainer(): the corpus's samples, GlowTTS (or a base to fine-tune), the trainer
    trainer.py         GuardedTrainer: Coqui's Trainer with guards, used by both models
    nonfinite.py       its NaN/Inf guard        stopping.py   its limits, early stop, in-training checks
    vocoder*.py        a vocoder's config, data (and GTA mels), model and trainer
    health/            health checks of the curves, in training and in view_tensorboard.py --report

Below: rutts.run (run folders), rutts.speech (vocoders' mel settings, the TTS model for GTA mels), rutts.dataset.
"""
