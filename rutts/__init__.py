"""The kit's shared logic, in layers: each package imports only from the ones listed above it.

    text/             the Russian front end: rules, numerals, lexicon, stress (silero-stress), the model's alphabet
    audio.py          read, resample, loudness, atomic WAV / OGG Opus / MP3 writing
    dataset.py        a corpus in RUSLAN's layout: metadata, audit, train/val split, processed-text cache
    run/              a training run's folder: which checkpoint, its config, front-end record, vocoder, early stop
    speech/           Voice: a run loaded once, text → speech; Griffin-Lim and trained vocoders
    intelligibility/  offline Whisper CER of speech against its text (an optional extra)
    train/            Coqui's Trainer with guards; GlowTTS and vocoder training; health checks of the curves
    own_voice/        her recording script and her recordings imported as a corpus
    bot/              the Telegram bot's queue, reading and sending (the handlers are in bot.py)

The top-level scripts are thin command lines over these; none of this package reads argv or prints, except the
command lines of `python -m rutts.text` and `python -m rutts.intelligibility`.
"""
