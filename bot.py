"""Telegram bot that reads texts aloud with a trained voice, for the people its owner allows.

    python bot.py --model outputs/<run> --allow 123456789

The token comes from the environment variable TELEGRAM_BOT_TOKEN (or a .env file next to this script);
allowed Telegram user ids from --allow, --allow-file or TTS_BOT_ALLOWED_IDS="123,456". Everyone else
is politely refused; /start tells anyone their id. Stop with Ctrl+C: the text being read is finished.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import math
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import soundfile as sf
from dotenv import load_dotenv
from telegram import Bot, BotCommand, Message, ReplyParameters, Update
from telegram.constants import ChatAction
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters

from rutts.audio import OPUS_RATE, resample
from rutts.botprefs import MAX_SPEED, MIN_SPEED, UserPrefs
from rutts.botqueue import FairQueue, LimitError, RateLimiter, split_voice_notes
from rutts.redact import hide_in_logs, redact
from rutts.text import TextError

HERE = Path(__file__).resolve().parent
TOKEN_PATTERN = re.compile(r"\d+:[\w-]{30,}")
CHAT_ACTION_EVERY = 4.0  # seconds; Telegram shows a chat action for about 5

log = logging.getLogger("bot")

HELP = (
    "Пришлите текст — я прочитаю его вслух и отвечу голосовым сообщением.\n\n"
    f"/speed 1.2 — скорость речи (от {MIN_SPEED:g} до {MAX_SPEED:g}, обычно 1)\n"
    "/text ваш текст — как я его прочитаю: «+» стоит перед ударной гласной, числа раскрыты\n"
    "/start — ваш id\n"
    "/help — эта справка\n\n"
    "Текст до {max_chars} символов; длинный приходит несколькими голосовыми по порядку."
)
NOTHING_TO_READ = "Здесь нечего читать вслух: нет слов. Пришлите текст по-русски."


@dataclass
class BotSettings:
    allowed_ids: frozenset[int]
    prefs_path: Path
    default_speed: float = 1.0
    max_chars: int = 3000  # per message; longer texts are refused
    chars_per_voice: int = 500  # ~40 s of speech: under Telegram's ~1 MB / ~60 s for one voice note
    max_queue: int = 20
    max_pending_per_user: int = 3
    per_minute: int = 10


@dataclass
class Job:
    update: Update
    text: str
    speed: float


def quote(message: Message) -> ReplyParameters:
    """Answer as a reply to the user's message, so each voice note shows which text it reads."""
    return ReplyParameters(message.message_id, allow_sending_without_reply=True)


def protect_token(token: str) -> None:
    """Keep the token out of every log line and traceback."""
    for name in ("httpx", "httpcore"):  # their INFO lines carry request URLs, and the URL carries the token
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    hide_in_logs(token)


# ---------------------------------------------------------------- the bot


class VoiceBot:
    """Handlers plus one worker thread that owns the model; the event loop only queues, replies and sends."""

    def __init__(self, voice, settings: BotSettings, synthesis_config):
        self.voice = voice  # .synthesize(text, config) -> float32 samples, .sample_rate, .frontend.process(text)
        self.settings = settings
        self.synthesis_config = synthesis_config  # a rutts.synth.SynthesisConfig
        self.prefs = UserPrefs(settings.prefs_path, settings.default_speed)
        self.queue: FairQueue[Job] = FairQueue(settings.max_queue, settings.max_pending_per_user)
        self.limiter = RateLimiter(settings.per_minute)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts")
        self._consumer: asyncio.Task | None = None
        self._stopping = False

    def register(self, app: Application) -> None:
        private = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
        allowed = private & filters.User(user_id=self.settings.allowed_ids)
        app.add_handlers([
            CommandHandler("start", self.on_start, filters=private),
            CommandHandler("help", self.on_help, filters=private),
            MessageHandler(private & ~allowed, self.on_stranger),
            CommandHandler("speed", self.on_speed, filters=allowed),
            CommandHandler("text", self.on_show_text, filters=allowed),
            MessageHandler(allowed & filters.TEXT & ~filters.COMMAND, self.on_text),
            MessageHandler(allowed, self.on_other),
        ])
        app.add_error_handler(self.on_error)

    async def post_init(self, app: Application) -> None:
        await app.bot.set_my_commands([
            BotCommand("start", "ваш id"),
            BotCommand("help", "что умеет бот"),
            BotCommand("speed", "скорость речи, например /speed 1.2"),
            BotCommand("text", "как бот прочитает текст (ударения)"),
        ])
        # asyncio's task, not app.create_task: Application.stop() waits for those, and this one runs until post_stop
        self._consumer = asyncio.create_task(self._serve(app), name="tts-queue")
        log.info("Бот @%s запущен, разрешённых пользователей: %d. Остановить: Ctrl+C.",
                 app.bot.username, len(self.settings.allowed_ids))

    async def post_stop(self, app: Application) -> None:
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

    async def post_shutdown(self, app: Application) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user_id = update.effective_user.id
        if user_id in self.settings.allowed_ids:
            reply = f"Здравствуйте! Ваш id: {user_id}. Пришлите текст — я прочитаю его вслух. /help — команды."
        else:
            reply = (f"Здравствуйте! Ваш id: {user_id}.\nЭтот бот читает тексты только для тех, кого добавил его "
                     "владелец: перешлите ему этот id.")
        await update.message.reply_text(reply)

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(HELP.format(max_chars=self.settings.max_chars))

    async def on_stranger(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.info("refused user %s", update.effective_user.id if update.effective_user else None)
        await update.message.reply_text(
            "Извините, этот бот читает тексты только для тех, кого добавил его владелец. "
            "Ваш id можно узнать командой /start — перешлите его владельцу."
        )

    async def on_speed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user_id = update.effective_user.id
        usage = f"от {MIN_SPEED:g} до {MAX_SPEED:g}, например: /speed 1.2"
        if not context.args:
            await update.message.reply_text(f"Скорость сейчас: {self.prefs.speed(user_id):g}. Изменить: {usage}")
            return
        try:
            speed = float(context.args[0].replace(",", "."))
            self.prefs.set_speed(user_id, speed)
        except ValueError:
            await update.message.reply_text(f"Скорость — число {usage}")
            return
        await update.message.reply_text(f"Готово, скорость {speed:g}. Запомнил.")

    async def on_show_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        parts = update.message.text.split(maxsplit=1)
        text = parts[1].strip() if len(parts) > 1 else ""
        if not text:
            await update.message.reply_text("Напишите текст после команды, например: /text В 1999 году купил 3 книги.")
            return
        if len(text) > self.settings.max_chars:
            await update.message.reply_text(self._too_long(text))
            return
        try:
            spoken = await self._in_worker(self.voice.frontend.process, text)
        except TextError:
            await update.message.reply_text(NOTHING_TO_READ)
            return
        await update.message.reply_text(f"Так я прочитаю («+» — перед ударной гласной):\n\n{spoken}"[:4096])

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Queue the text before the first await, so one user's messages keep their order."""
        message, user_id = update.message, update.effective_user.id
        text = message.text.strip()
        if not any(ch.isalnum() for ch in text):
            refusal = NOTHING_TO_READ
        elif len(text) > self.settings.max_chars:
            refusal = self._too_long(text)
        elif wait := self.limiter.wait_time(user_id):
            refusal = (f"Слишком часто: не больше {self.settings.per_minute} текстов в минуту. "
                       f"Попробуйте через {math.ceil(wait)} с.")
        else:
            try:
                ahead = self.queue.put(user_id, Job(update, text, self.prefs.speed(user_id)))
            except LimitError as error:
                refusal = str(error)
            else:
                self.limiter.record(user_id)
                if ahead:
                    await message.reply_text(f"Принял. В очереди: {ahead}.", reply_parameters=quote(message))
                return
        log.info("user %s: text not queued: %s", user_id, refusal)
        await message.reply_text(refusal, reply_parameters=quote(message))

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message.sticker:
            reply = "Стикеры я не озвучиваю 🙂 Пришлите текст."
        elif message.voice or message.audio or message.video_note:
            reply = "Голосовые я не расшифровываю — я делаю наоборот: пришлите текст, и я его прочитаю."
        elif message.photo or message.document or message.video:
            reply = "Картинки и файлы (и подписи к ним) я не читаю. Пришлите текст обычным сообщением."
        elif message.text:  # an unknown command
            reply = "Не знаю такой команды. /help — что я умею."
        else:
            reply = "Я читаю вслух только текст. Пришлите его обычным сообщением."
        await message.reply_text(reply)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("update failed: %s", context.error, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat:
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(
                    update.effective_chat.id, "Извините, что-то пошло не так. Попробуйте ещё раз чуть позже."
                )

    async def _serve(self, app: Application) -> None:
        while (item := await self.queue.get()) is not None:
            user_id, job = item
            try:
                await self._read_aloud(job)
            except Exception as error:
                await app.process_error(job.update, error)
            finally:
                self.queue.done(user_id)

    async def _read_aloud(self, job: Job) -> None:
        message = job.update.message
        parts = split_voice_notes(job.text, self.settings.chars_per_voice)
        config = replace(self.synthesis_config, length_scale=self.synthesis_config.length_scale / job.speed)
        sent = 0
        async with self._recording_voice(message.get_bot(), message.chat_id):
            for number, part in enumerate(parts, 1):
                if self._stopping:
                    await message.reply_text(
                        f"Бот остановлен: прочитал {sent} из {len(parts)} частей, остальное отменено.",
                        reply_parameters=quote(message),
                    )
                    return
                try:
                    ogg, seconds = await self._in_worker(self._render, part, config)
                except TextError:  # e.g. a part that is all emoji: the other parts are still read
                    continue
                await message.reply_voice(
                    ogg, duration=math.ceil(seconds), filename="voice.ogg", reply_parameters=quote(message),
                    caption=f"{number}/{len(parts)}" if len(parts) > 1 else None,
                )
                sent += 1
        log.info("user %s: %d chars read in %d voice note(s)", job.update.effective_user.id, len(job.text), sent)
        if not sent:
            await message.reply_text(NOTHING_TO_READ, reply_parameters=quote(message))

    def _render(self, text: str, config) -> tuple[bytes, float]:
        """In the worker thread: text → speech → a voice note (OGG/Opus at 48 kHz) and its duration."""
        audio = resample(self.voice.synthesize(text, config), self.voice.sample_rate, OPUS_RATE)
        buffer = io.BytesIO()
        sf.write(buffer, audio, OPUS_RATE, format="OGG", subtype="OPUS")
        return buffer.getvalue(), len(audio) / OPUS_RATE

    async def _in_worker(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._worker, function, *args)

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

    def _too_long(self, text: str) -> str:
        return (f"Слишком длинный текст: {len(text)} символов, я читаю до {self.settings.max_chars}. "
                "Разделите его на части.")


def build_application(token: str, bot: VoiceBot, api_url: str | None = None) -> Application:
    protect_token(token)
    builder = ApplicationBuilder().token(token).concurrent_updates(16)
    if api_url:
        builder = builder.base_url(api_url).base_file_url(file_url(api_url))
    app = builder.post_init(bot.post_init).post_stop(bot.post_stop).post_shutdown(bot.post_shutdown).build()
    bot.register(app)
    return app


async def check_token(token: str, api_url: str | None) -> str:
    """Ask Telegram who we are before the slow model load; returns the bot's @username."""
    urls = {"base_url": api_url, "base_file_url": file_url(api_url)} if api_url else {}
    async with Bot(token, **urls) as bot:
        return bot.username


def file_url(api_url: str) -> str:
    return api_url.replace("/bot", "/file/bot", 1)


def parse_user_ids(text: str, source: str) -> set[int]:
    ids = set()
    for item in re.split(r"[\s,;]+", re.sub(r"#.*", "", text)):
        if item and not item.isdigit():
            raise ValueError(f"{source}: «{item}» — не id пользователя Telegram (нужны числа; id сообщает /start)")
        if item:
            ids.add(int(item))
    return ids


# ---------------------------------------------------------------- command line


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"нужно целое число больше нуля, а не {text!r}")
    return int(text)


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Телеграм-бот: читает присланные тексты голосом обученной модели.")
    add = parser.add_argument
    add("-m", "--model", required=True, help="папка запуска outputs/<run> или файл чекпоинта")
    add("--vocoder", help="чекпоинт вокодера Coqui (по умолчанию Griffin-Lim)")
    add("--device", default="auto", help="cpu, cuda или auto (cuda, если есть)")
    add("--speed", type=float, default=1.0, help="скорость речи по умолчанию (каждый меняет свою: /speed)")
    add("--allow", default="", help="id разрешённых пользователей через запятую (вдобавок к TTS_BOT_ALLOWED_IDS)")
    add("--allow-file", type=Path, help="файл с id разрешённых (через запятую или по строкам, # — комментарий)")
    add("--prefs", type=Path, default=HERE / "outputs" / "bot_prefs.json", help="где запоминать скорость каждого")
    add("--max-chars", type=positive_int, default=BotSettings.max_chars, help="самый длинный текст, что прочтёт бот")
    add("--voice-chars", type=positive_int, default=BotSettings.chars_per_voice,
        help="символов текста на одно голосовое (~14 на секунду речи); длинный текст придёт частями")
    add("--per-minute", type=positive_int, default=BotSettings.per_minute, help="текстов в минуту от одного человека")
    add("--max-queue", type=positive_int, default=BotSettings.max_queue, help="сколько текстов может ждать в очереди")
    add("--env-file", type=Path, default=HERE / ".env", help="файл с TELEGRAM_BOT_TOKEN=… (если он есть)")
    add("--api-url", help="адрес своего сервера Bot API (по умолчанию https://api.telegram.org/bot)")
    add("--debug", action="store_true", help="подробный журнал")
    return parser.parse_args(argv)


def fail(message: str) -> int:
    print(f"Ошибка: {message}", file=sys.stderr)
    return 1


def main(argv=None) -> int:
    args = parse_args(argv)
    load_dotenv(args.env_file, override=False)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        return fail("нет токена бота. Получите его у @BotFather и задайте TELEGRAM_BOT_TOKEN "
                    f"(в окружении или в файле {args.env_file})")
    protect_token(token)
    if not TOKEN_PATTERN.fullmatch(token):
        return fail("TELEGRAM_BOT_TOKEN не похож на токен от @BotFather (вид 123456789:AAH…): скопируйте его целиком")
    if not MIN_SPEED <= args.speed <= MAX_SPEED:
        return fail(f"--speed должна быть от {MIN_SPEED:g} до {MAX_SPEED:g}")
    try:
        allowed = parse_user_ids(os.environ.get("TTS_BOT_ALLOWED_IDS", ""), "TTS_BOT_ALLOWED_IDS")
        allowed |= parse_user_ids(args.allow, "--allow")
        if args.allow_file:
            allowed |= parse_user_ids(args.allow_file.read_text(encoding="utf-8-sig"), str(args.allow_file))
    except OSError as error:
        return fail(f"не читается файл со списком пользователей: {error}")
    except ValueError as error:
        return fail(str(error))
    if not Path(args.model).exists():
        return fail(f"модель не найдена: {args.model}")
    try:
        username = asyncio.run(check_token(token, args.api_url))
    except InvalidToken:
        return fail("Telegram не принял токен из TELEGRAM_BOT_TOKEN. "
                    "Проверьте его у @BotFather: /mybots → бот → API Token")
    except TelegramError as error:
        return fail(f"нет связи с Telegram ({redact(str(error))}). Проверьте интернет и запустите снова")
    if not allowed:
        log.warning("Список разрешённых пуст: бот всем откажет. Узнайте свой id (/start) и добавьте его: --allow ID")

    from rutts.synth import SynthesisConfig, Voice, VoiceError  # torch and Coqui take seconds: after the cheap checks

    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    log.info("@%s: загружаю модель %s (%s)…", username, args.model, device)
    try:
        voice = Voice.load(args.model, vocoder=args.vocoder, device=device)
        voice.synthesize("Проверка связи.")  # loads the front end's own models now, not on the first user's text
    except VoiceError as error:
        return fail(str(error))
    settings = BotSettings(frozenset(allowed), args.prefs, args.speed, args.max_chars, args.voice_chars,
                           max_queue=args.max_queue, per_minute=args.per_minute)
    app = build_application(token, VoiceBot(voice, settings, SynthesisConfig()), args.api_url)
    app.run_polling(allowed_updates=[Update.MESSAGE])
    return 0


if __name__ == "__main__":
    sys.exit(main())
