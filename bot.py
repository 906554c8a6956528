"""Telegram bot that reads texts aloud with a trained voice, for the people its owner allows.

    python bot.py --model outputs/<run> --allow 123456789
    python bot.py --model outputs/<run> --vocoder outputs/<vocoder run> --lexicon lexicon.txt

The token comes from the environment variable TELEGRAM_BOT_TOKEN (or a .env file next to this script);
allowed Telegram user ids from --allow, --allow-file or TTS_BOT_ALLOWED_IDS="123,456". Everyone else hears
their id and a refusal, once in six hours. Text is read as the model's training text was (the run's
frontend.json) unless --lexicon/--no-stress say otherwise. Stop with Ctrl+C: the text being read is finished.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import sys
import warnings
from pathlib import Path

from dotenv import load_dotenv
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters
from telegram.warnings import PTBDeprecationWarning

from rutts.bot.prefs import MAX_SPEED, MIN_SPEED, UserPrefs
from rutts.bot.fairqueue import RateLimiter
from rutts.bot.serve import (NOTHING_TO_READ, BotSettings, FloodWait, Job, Reader, api_url_problem, check_token,
                             file_url, quote)
from rutts.bot.redact import keep_secret, redact
from rutts.cli import ArgumentParser

HERE = Path(__file__).resolve().parent
TOKEN_PATTERN = re.compile(r"\d+:[\w-]{30,}")
STRANGER_REPLY_EVERY = 6 * 3600.0  # seconds: someone not allowed hears why once, then nothing for six hours

log = logging.getLogger("bot")

HELP = (
    "Пришлите текст — я прочитаю его вслух и отвечу голосовым сообщением.\n\n"
    f"/speed 1.2 — скорость речи (от {MIN_SPEED:g} до {MAX_SPEED:g}, обычно 1)\n"
    "/text ваш текст — как я его прочитаю: «+» стоит перед ударной гласной, числа раскрыты\n"
    "/start — ваш id\n"
    "/help — эта справка\n\n"
    "Текст до {max_chars} символов; длинный приходит несколькими голосовыми по порядку."
)


def protect_token(token: str) -> None:
    """Keep the token out of every log line and traceback."""
    for name in ("httpx", "httpcore"):  # their INFO lines carry request URLs, and the URL carries the token
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    keep_secret(token)


# ---------------------------------------------------------------- the handlers


class VoiceBot:
    """What the bot answers to whom; the reading aloud itself is rutts.bot.serve.Reader's."""

    def __init__(self, voice, settings: BotSettings, synthesis_config):
        self.settings = settings
        self.reader = Reader(voice, settings, synthesis_config)
        self.prefs = UserPrefs(settings.prefs_path, settings.default_speed)
        self.strangers = RateLimiter(1, STRANGER_REPLY_EVERY)

    def register(self, app: Application) -> None:
        private = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE
        allowed = private & filters.User(user_id=self.settings.allowed_ids)
        app.add_handlers([
            MessageHandler(private & ~allowed, self.on_stranger),
            CommandHandler("start", self.on_start, filters=allowed),
            CommandHandler("help", self.on_help, filters=allowed),
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
        self.reader.start(app)
        log.info("Бот @%s запущен, разрешённых пользователей: %d. Остановить: Ctrl+C.",
                 app.bot.username, len(self.settings.allowed_ids))

    async def post_stop(self, app: Application) -> None:
        await self.reader.stop()

    async def post_shutdown(self, app: Application) -> None:
        self.reader.shutdown()

    async def on_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"Здравствуйте! Ваш id: {update.effective_user.id}. "
                                        "Пришлите текст — я прочитаю его вслух. /help — команды.")

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(HELP.format(max_chars=self.settings.max_chars))

    async def on_stranger(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anyone not allowed learns their id and why not, once in a while; the rest of their messages go unanswered."""
        user_id = update.effective_user.id if update.effective_user else None
        if user_id is None or self.strangers.wait_time(user_id):
            log.debug("ignored a message from user %s", user_id)
            return
        self.strangers.record(user_id)
        log.info("refused user %s", user_id)
        await update.message.reply_text(
            f"Здравствуйте! Ваш id: {user_id}.\nЭтот бот читает тексты только для тех, кого добавил его владелец: "
            "перешлите ему этот id."
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
        elif len(text) > self.settings.max_chars:
            await update.message.reply_text(self._too_long(text))
        else:
            await self.reader.submit(Job(update, text, speed=1.0, kind="show"))

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user_id = update.message, update.effective_user.id
        text = message.text.strip()
        if not any(ch.isalnum() for ch in text):
            refusal = NOTHING_TO_READ
        elif len(text) > self.settings.max_chars:
            refusal = self._too_long(text)
        else:
            await self.reader.submit(Job(update, text, self.prefs.speed(user_id)))
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

    def _too_long(self, text: str) -> str:
        return (f"Слишком длинный текст: {len(text)} символов, я читаю до {self.settings.max_chars}. "
                "Разделите его на части.")


def build_application(token: str, bot: VoiceBot, api_url: str | None = None) -> Application:
    protect_token(token)
    builder = ApplicationBuilder().token(token).concurrent_updates(16).rate_limiter(FloodWait())
    if api_url:
        builder = builder.base_url(api_url).base_file_url(file_url(api_url))
    app = builder.post_init(bot.post_init).post_stop(bot.post_stop).post_shutdown(bot.post_shutdown).build()
    bot.register(app)
    return app


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
    parser = ArgumentParser(description="Телеграм-бот: читает присланные тексты голосом обученной модели.")
    add = parser.add_argument
    add("-m", "--model", required=True, help="папка запуска outputs/<run> или файл чекпоинта")
    vocoder = parser.add_mutually_exclusive_group()
    vocoder.add_argument("--vocoder", help="папка прогона train_vocoder.py или чекпоинт вокодера Coqui (по умолчанию "
                                           "вокодер, названный в прогоне модели (vocoder.json), иначе Гриффин-Лим)")
    vocoder.add_argument("--griffin-lim", action="store_true", help="Гриффин-Лим, даже если прогон называет вокодер")
    add("--vocoder-config", type=Path, help="config.json вокодера, если --vocoder — чекпоинт не из папки прогона")
    add("--lexicon", type=Path, help="словарь произношений (по умолчанию тот, с которым обучали модель)")
    add("--no-stress", action="store_true", help="без автоматических ударений (по умолчанию — как при обучении)")
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
    # PTB 22 itself reads RetryAfter.retry_after, which warns about its future type on every flood-control answer
    warnings.filterwarnings("ignore", r".*`retry_after`", PTBDeprecationWarning)
    # Out of the environment: programs started later (espeak-ng, ffmpeg…) inherit it and must not see the token.
    token = os.environ.pop("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        return fail("нет токена бота. Получите его у @BotFather и задайте TELEGRAM_BOT_TOKEN "
                    f"(в окружении или в файле {args.env_file})")
    protect_token(token)
    if not TOKEN_PATTERN.fullmatch(token):
        return fail("TELEGRAM_BOT_TOKEN не похож на токен от @BotFather (вид 123456789:AAH…): скопируйте его целиком")
    if args.api_url and (problem := api_url_problem(args.api_url)):
        return fail(f"--api-url {args.api_url}: {problem}")
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
    if args.lexicon and not args.lexicon.is_file():
        return fail(f"словарь не найден: {args.lexicon}")
    try:
        username = asyncio.run(check_token(token, args.api_url))
    except InvalidToken:
        return fail("Telegram не принял токен из TELEGRAM_BOT_TOKEN. "
                    "Проверьте его у @BotFather: /mybots → бот → API Token")
    except TelegramError as error:
        return fail(f"нет связи с Telegram ({redact(str(error))}). Проверьте интернет и запустите снова")
    if not allowed:
        log.warning("Список разрешённых пуст: бот всем откажет. Узнайте свой id (/start) и добавьте его: --allow ID")

    # torch and Coqui take seconds: after the cheap checks
    from rutts.run import RunError
    from rutts.speech import GRIFFIN_LIM, SynthesisConfig, Voice

    device = args.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    log.info("@%s: загружаю модель %s (%s)…", username, args.model, device)
    try:
        voice = Voice.load(args.model, vocoder=GRIFFIN_LIM if args.griffin_lim else args.vocoder,
                           vocoder_config=args.vocoder_config, device=device,
                           lexicon=args.lexicon, stress=False if args.no_stress else None)
        log.info("Звук: %s", getattr(voice.vocoder, "checkpoint", None) or "Гриффин-Лим")
        voice.synthesize("Проверка связи.")  # loads the front end's own models now, not on the first user's text
    except RunError as error:
        return fail(str(error))
    settings = BotSettings(frozenset(allowed), args.prefs, args.speed, args.max_chars, args.voice_chars,
                           max_queue=args.max_queue, per_minute=args.per_minute)
    app = build_application(token, VoiceBot(voice, settings, SynthesisConfig()), args.api_url)
    app.run_polling(allowed_updates=[Update.MESSAGE])
    return 0


if __name__ == "__main__":
    sys.exit(main())
