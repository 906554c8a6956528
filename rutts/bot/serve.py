"""The bot's reading aloud: one worker thread owns the voice, one task serves the fair queue in turn, and the
answers reach Telegram through its flood control and through users' voice-message privacy settings.

`bot.py` decides what to answer (the handlers); this module does the reading and the sending.
"""
from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import logging
import math
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import numpy as np
import soundfile as sf
from telegram import Bot, Message, ReplyParameters, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import Application, BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from rutts.audio import OPUS_RATE, resample
from rutts.bot.fairqueue import FairQueue, LimitError, RateLimiter, split_voice_notes
from rutts.text import TextError

log = logging.getLogger("bot")

CHAT_ACTION_EVERY = 4.0  # seconds; Telegram shows a chat action for about 5
NOTHING_TO_READ = "Здесь нечего читать вслух: нет слов. Пришлите текст по-русски."
VOICE_FORBIDDEN = (
    "В ваших настройках Telegram запрещены голосовые сообщения (Настройки → Конфиденциальность → Голосовые "
    "сообщения), поэтому присылаю аудиофайлом MP3. Разрешите голосовые — и снова будут приходить они."
)


@dataclass
class BotSettings:
    allowed_ids: frozenset[int]
    prefs_path: Path  # per-user settings (speed)
    default_speed: float = 1.0
    max_chars: int = 3000  # per message; longer texts are refused
    chars_per_voice: int = 500  # ~40 s of speech: under Telegram's ~1 MB / ~60 s for one voice note
    max_queue: int = 20
    max_pending_per_user: int = 3
    per_minute: int = 10  # texts a user may send a minute, /text included


@dataclass
class Job:
    update: Update
    text: str
    speed: float
    kind: Literal["voice", "show"] = "voice"  # read it aloud, or show how it would be read (/text)


@dataclass
class Rendered:
    audio: np.ndarray  # at the voice's sample rate, for an MP3 when voice notes are refused
    ogg: bytes  # the voice note: OGG/Opus at 48 kHz
    seconds: float


def quote(message: Message) -> ReplyParameters:
    """Answer as a reply to the user's message, so each voice note shows which text it reads."""
    return ReplyParameters(message.message_id, allow_sending_without_reply=True)


class Reader:
    """Queue, rate limit and worker thread: every job of every user goes through the same rules."""

    def __init__(self, voice, settings: BotSettings, synthesis_config):
        self.voice = voice  # a rutts.synth.Voice: .stream(paragraphs, config), .sample_rate, .frontend.process
        self.settings = settings
        self.synthesis_config = synthesis_config  # a rutts.synth.SynthesisConfig
        self.queue: FairQueue[Job] = FairQueue(settings.max_queue, settings.max_pending_per_user)
        self.limiter = RateLimiter(settings.per_minute)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts")
        self._consumer: asyncio.Task | None = None
        self._stopping = False
        self._told_voice_forbidden: set[int] = set()

    def start(self, app: Application) -> None:
        # asyncio's task, not app.create_task: Application.stop() waits for those, and this one runs until stop()
        self._consumer = asyncio.create_task(self._serve(app), name="tts-queue")

    async def submit(self, job: Job) -> None:
        """Queue the job or tell its user why not. Call it before the handler's first await, so one user's
        messages keep their order."""
        message, user_id = job.update.message, job.update.effective_user.id
        if wait := self.limiter.wait_time(user_id):
            refusal = (f"Слишком часто: не больше {self.settings.per_minute} текстов в минуту. "
                       f"Попробуйте через {math.ceil(wait)} с.")
        else:
            try:
                ahead = self.queue.put(user_id, job)
            except LimitError as error:
                refusal = str(error)
            else:
                self.limiter.record(user_id)
                if ahead:
                    await message.reply_text(f"Принял. В очереди: {ahead}.", reply_parameters=quote(message))
                return
        log.info("user %s: text not queued: %s", user_id, refusal)
        await message.reply_text(refusal, reply_parameters=quote(message))

    async def stop(self) -> None:
        """Finish the text being read (or its current part); tell everyone still waiting that theirs is cancelled."""
        self._stopping = True
        for job in self.queue.close():
            with contextlib.suppress(TelegramError):
                message = job.update.message
                await message.reply_text("Бот остановлен, этот текст не озвучен. Пришлите его позже.",
                                         reply_parameters=quote(message))
        if self._consumer:
            log.info("Дочитываю текущее сообщение и останавливаюсь…")
            await asyncio.wait([self._consumer])

    def shutdown(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    async def _in_worker(self, function, *args):
        """Run `function` in the thread that owns the model (the event loop stays free meanwhile)."""
        return await asyncio.get_running_loop().run_in_executor(self._worker, function, *args)

    async def _serve(self, app: Application) -> None:
        while (item := await self.queue.get()) is not None:
            user_id, job = item
            try:
                await (self._show(job) if job.kind == "show" else self._read_aloud(job))
            except Exception as error:
                await app.process_error(job.update, error)
            finally:
                self.queue.done(user_id)

    async def _show(self, job: Job) -> None:
        message = job.update.message
        try:
            spoken = await self._in_worker(self.voice.frontend.process, job.text)
        except TextError:
            await message.reply_text(NOTHING_TO_READ, reply_parameters=quote(message))
            return
        await message.reply_text(f"Так я прочитаю («+» — перед ударной гласной):\n\n{spoken}"[:4096],
                                 reply_parameters=quote(message))

    async def _read_aloud(self, job: Job) -> None:
        message = job.update.message
        parts = split_voice_notes(job.text, self.settings.chars_per_voice)
        config = replace(self.synthesis_config, length_scale=self.synthesis_config.length_scale / job.speed)
        sent = 0
        voice_allowed = True
        async with self._recording_voice(message.get_bot(), message.chat_id):
            for number, part in enumerate(parts, 1):
                if self._stopping:
                    await message.reply_text(
                        f"Бот остановлен: прочитал {sent} из {len(parts)} частей, остальное отменено.",
                        reply_parameters=quote(message),
                    )
                    return
                try:
                    rendered = await self._in_worker(self._render, part, config)
                except TextError:  # e.g. a part that is all emoji: the other parts are still read
                    continue
                caption = f"{number}/{len(parts)}" if len(parts) > 1 else None
                voice_allowed = await self._send(message, rendered, caption, voice_allowed)
                sent += 1
        log.info("user %s: %d chars read in %d part(s)", job.update.effective_user.id, len(job.text), sent)
        if not sent:
            await message.reply_text(NOTHING_TO_READ, reply_parameters=quote(message))

    async def _send(self, message: Message, rendered: Rendered, caption: str | None, voice_allowed: bool) -> bool:
        """A voice note; an MP3 (and, once, why) for a user whose privacy settings refuse voice notes.
        Returns whether voice notes still go to this user in this job."""
        duration = math.ceil(rendered.seconds)
        if voice_allowed:
            try:
                await message.reply_voice(rendered.ogg, duration=duration, filename="voice.ogg", caption=caption,
                                          reply_parameters=quote(message))
                return True
            except BadRequest as error:
                if "voice_messages_forbidden" not in error.message.lower():
                    raise
            user_id = message.chat_id
            log.info("user %s refuses voice messages: sending audio files", user_id)
            if user_id not in self._told_voice_forbidden:
                self._told_voice_forbidden.add(user_id)
                await message.reply_text(VOICE_FORBIDDEN, reply_parameters=quote(message))
        mp3 = await self._in_worker(_mp3, rendered.audio, self.voice.sample_rate)
        await message.reply_audio(mp3, duration=duration, filename="speech.mp3", caption=caption,
                                  reply_parameters=quote(message))
        return False

    def _render(self, text: str, config) -> Rendered:
        """In the worker thread: plain text (no Markdown: a chat message is not a lesson file) → speech →
        a voice note. Only blank lines start paragraphs."""
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
        rate = self.voice.sample_rate
        parts: list[np.ndarray] = []
        for piece in self.voice.stream(paragraphs, config):
            parts += [np.zeros(round(piece.pause_before * rate), np.float32), piece.audio]
        audio = np.concatenate(parts)
        buffer = io.BytesIO()
        sf.write(buffer, resample(audio, rate, OPUS_RATE), OPUS_RATE, format="OGG", subtype="OPUS")
        return Rendered(audio, buffer.getvalue(), len(audio) / rate)

    @contextlib.asynccontextmanager
    async def _recording_voice(self, bot: Bot, chat_id: int):
        """Show "recording voice…" in the chat for as long as the block runs."""
        async def keep_alive():
            while True:
                with contextlib.suppress(TelegramError):
                    await bot.send_chat_action(chat_id, ChatAction.RECORD_VOICE)
                await asyncio.sleep(CHAT_ACTION_EVERY)

        task = asyncio.create_task(keep_alive())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.wait([task])


def _mp3(audio: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="MP3", subtype="MPEG_LAYER_III")
    return buffer.getvalue()


# ---------------------------------------------------------------- talking to Telegram


class FloodWait(BaseRateLimiter):
    """Telegram's flood control (429 with retry_after) is waited out and the request sent again, a few times
    at most; python-telegram-bot passes every request but getUpdates through here."""

    def __init__(self, tries: int = 3, longest_wait: float = 60.0):
        self.tries = tries
        self.longest_wait = longest_wait  # seconds; a longer ban is reported as an error rather than waited out

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        for attempt in range(2, self.tries + 1):
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                wait = _retry_after_seconds(error)
                if wait > self.longest_wait:
                    raise
                log.warning("Telegram flood control on %s: retrying in %g s (attempt %d of %d)",
                            endpoint, wait, attempt, self.tries)
                await asyncio.sleep(wait)
        return await callback(*args, **kwargs)  # the last try: its RetryAfter goes to the error handler


def _retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta in the next major version
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def api_url_problem(url: str) -> str | None:
    """Why the token must not be sent to this Bot API address (Russian), None if it may: https anywhere,
    plain http only to this computer (the token is part of every request's URL)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return None
    if parts.scheme == "http":
        return ("по http токен бота уйдёт по сети открытым текстом; http разрешён только для этого компьютера "
                "(localhost, 127.0.0.1, ::1), для другого сервера нужен https://")
    return "нужен адрес вида https://сервер/bot (или http://127.0.0.1:порт/bot для своего сервера Bot API)"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def file_url(api_url: str) -> str:
    return api_url.replace("/bot", "/file/bot", 1)


async def check_token(token: str, api_url: str | None) -> str:
    """Ask Telegram who we are before the slow model load; returns the bot's @username."""
    urls = {"base_url": api_url, "base_file_url": file_url(api_url)} if api_url else {}
    async with Bot(token, **urls) as bot:
        return bot.username
