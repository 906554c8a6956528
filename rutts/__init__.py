"""The kit's shared logic, in layers: each package imports only from the ones listed above it.

    text/             the Russian front end: rules, numerals, lexicon, stress (silero-stress), the model's alphabet
    audio.py          read, resample, loudness, atomic WAV / OGG Opus / MP3 writing
    files.py, cli.py  atomic writes and folders built aside; the command lines' shared argument and error handling
    dataset.py        a corpus in RUSLAN's layout: metadata, train/val split, processed-text cache
    audit.py          the audit of a corpus before training (check_sample_rate.py)
    run/              a training run's folder: which checkpoint, its config, front-end record, vocoder, early stop
    speech/           Voice: a run loaded once, text → speech; Griffin-Lim, frame-level and Coqui vocoders
    intelligibility/  offline Whisper CER of speech against its text (an optional extra)
    train/            Coqui's Trainer with guards; GlowTTS and vocoder training; health checks of the curves
    own_voice/        her recording script and her recordings imported as a corpus
    bot/, studio/     the Telegram bot's queue, reading and sending (handlers in bot.py); the narration studio

The top-level scripts are thin command lines over these; none of this package reads argv or prints, except the
command lines of `python -m rutts.text` and `python -m rutts.intelligibility`.
"""
