"""The Telegram bot's parts below its handlers (bot.py): the reading and sending, the queue, users' settings, and
keeping the token out of logs.

    serve.py       Reader: one worker thread owns the voice; the fair queue served in turn; flood control
    fairqueue.py   FairQueue (every user in turn, limits), RateLimiter, texts split into voice notes
    prefs.py       each user's speed, kept on disk
    redact.py      the bot token hidden from every log line and traceback

Below: rutts.speech (the voice), rutts.text, rutts.audio.
"""
