"""bot.py against a fake Bot API on 127.0.0.1: the real python-telegram-bot Application, a tiny real GlowTTS.

Each bot test runs `bot.main()` in the main thread (it installs the Ctrl+C / SIGTERM handlers there) while a
helper thread plays the users through the fake server, then stops the bot with a signal, as a person would.
"""
import asyncio
import contextlib
import io
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import traceback
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import soundfile as sf

import bot
from rutts.bot.fairqueue import FairQueue, LimitError, RateLimiter, split_voice_notes
from rutts.bot.redact import HIDDEN

ROOT = Path(__file__).resolve().parent.parent

TOKEN = "7654321:AAF_" + "x9Kq" * 8  # shaped like a real token, so a leak would be easy to spot
OWNER, COLLEAGUE, STRANGER = 1001, 1002, 666
TINY_MODEL = {
    "hidden_channels_enc": 32, "hidden_channels_dec": 32, "hidden_channels_dp": 32, "num_flow_blocks_dec": 2,
    "num_block_layers": 2,
    "encoder_params": {"kernel_size": 3, "dropout_p": 0.1, "num_layers": 1, "num_heads": 2,
                       "hidden_channels_ffn": 64, "input_length": None},
}


# ---------------------------------------------------------------- a fake Bot API


class FakeTelegram:
    """Answers what python-telegram-bot calls; keeps what the bot sent; hands out the updates the test queues."""

    def __init__(self, token: str = TOKEN, accept_token: bool = True):
        self.token, self.accept_token = token, accept_token
        self.requests: list[str] = []  # every method called, answered or not
        self.calls: list[tuple[str, dict, dict]] = []  # answered calls: (method, fields, files: name -> bytes)
        self.errors: dict[str, list[tuple[int, dict]]] = {}  # method -> error answers for its next calls
        self.refused: list[tuple[str, float]] = []  # (method, when) of calls answered with an error
        self.voice_forbidden: set[int] = set()  # users whose privacy settings refuse voice messages
        self._updates: list[dict] = []
        self._ids = iter(range(1, 10**9))
        self._changed = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(), bind_and_activate=False)
        self.server.request_queue_size = 128  # the bot opens many connections at once in a burst
        self.server.daemon_threads = True
        self.server.server_bind()
        self.server.server_activate()
        self.url = f"http://127.0.0.1:{self.server.server_port}/bot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # -- what the users do

    def send(self, user: int, **content) -> int:
        """A private message from `user`; returns its message_id."""
        message_id = next(self._ids)
        person = {"id": user, "is_bot": False, "first_name": f"user{user}"}
        message = {"message_id": message_id, "date": int(time.time()), "from": person,
                   "chat": {"id": user, "type": "private", "first_name": person["first_name"]}, **content}
        text = content.get("text", "")
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        with self._changed:
            self._updates.append({"update_id": next(self._ids), "message": message})
            self._changed.notify_all()
        return message_id

    def text(self, user: int, text: str) -> int:
        return self.send(user, text=text)

    def fail(self, method: str, code: int, description: str, times: int = 1, **parameters) -> None:
        """The next `times` calls of `method` get this error, as the real API answers it."""
        answer = {"ok": False, "error_code": code, "description": description}
        if parameters:
            answer["parameters"] = parameters
        self.errors.setdefault(method, []).extend([(code, answer)] * times)

    # -- what the bot did

    def sent(self, method: str, chat: int | None = None) -> list[tuple[dict, dict]]:
        with self._changed:
            return [(f, files) for m, f, files in self.calls
                    if m == method and (chat is None or int(f["chat_id"]) == chat)]

    def replies_to(self, message_id: int) -> list[tuple[str, dict, dict]]:
        with self._changed:
            return [(m, f, files) for m, f, files in self.calls
                    if "reply_parameters" in f and json.loads(f["reply_parameters"])["message_id"] == message_id]

    def texts(self, chat: int) -> list[str]:
        return [f["text"] for f, _ in self.sent("sendMessage", chat)]

    def wait_for(self, condition, timeout: float = 30.0, what: str = "the bot") -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; calls: {[c[0] for c in self.calls][-20:]}")
                self._changed.wait(min(left, 0.5))

    # -- the HTTP side

    def _answer(self, method: str, fields: dict, files: dict):
        error = self.errors[method].pop(0) if self.errors.get(method) else None
        if method == "sendVoice" and int(fields["chat_id"]) in self.voice_forbidden:
            error = 400, {"ok": False, "error_code": 400, "description": "Bad Request: VOICE_MESSAGES_FORBIDDEN"}
        if error:
            with self._changed:
                self.refused.append((method, time.monotonic()))
                self._changed.notify_all()
            return error
        if method == "getUpdates":
            updates = self._updates_after(int(fields.get("offset", 0)), float(fields.get("timeout", 0)))
            return 200, {"ok": True, "result": updates}
        if method == "getMe":
            result = {"id": 7654321, "is_bot": True, "first_name": "Чтец", "username": "reader_test_bot"}
        elif method in ("sendMessage", "sendVoice", "sendAudio"):
            result = {"message_id": next(self._ids), "date": int(time.time()),
                      "chat": {"id": int(fields["chat_id"]), "type": "private"}}
            if method == "sendMessage":
                result["text"] = fields["text"]
            else:
                kind = method.removeprefix("send").lower()
                result[kind] = {"file_id": "v", "file_unique_id": "v", "duration": int(fields.get("duration", 1))}
        elif method in ("sendChatAction", "setMyCommands", "deleteWebhook"):
            result = True
        else:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        with self._changed:
            self.calls.append((method, fields, files))
            self._changed.notify_all()
        return 200, {"ok": True, "result": result}

    def _updates_after(self, offset: int, timeout: float) -> list[dict]:
        deadline = time.monotonic() + min(timeout, 1.0)  # long polling, kept short so stopping is quick
        with self._changed:
            while True:
                ready = [u for u in self._updates if u["update_id"] >= offset][:100]
                if ready or time.monotonic() >= deadline:
                    self.calls.append(("getUpdates", {"offset": offset}, {}))
                    self._changed.notify_all()
                    return ready
                self._changed.wait(deadline - time.monotonic())

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                token, _, method = self.path.removeprefix("/bot").partition("/")
                fake.requests.append(method)
                if token != fake.token or not fake.accept_token:
                    status, answer = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                else:
                    status, answer = fake._answer(method, *parse_body(self.headers.get("Content-Type", ""), body))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(ConnectionError):  # the bot gave up a long poll while stopping
                    self.wfile.write(data)

            def log_message(self, *args):
                pass

        return Handler


def parse_body(content_type: str, body: bytes) -> tuple[dict, dict]:
    if content_type.startswith("multipart/form-data"):
        form = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        fields, files = {}, {}
        for part in form.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if part.get_filename():
                files[name] = payload
            else:
                fields[name] = payload.decode()
        return fields, files
    if content_type.startswith("application/json"):
        return json.loads(body or b"{}"), {}
    return dict(parse_qsl(body.decode())), {}


# ---------------------------------------------------------------- running the bot


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A freshly initialized tiny GlowTTS saved like a training run: noise, but real audio of a plausible length."""
    import torch
    from TTS.tts.configs.glow_tts_config import GlowTTSConfig
    from TTS.tts.models.glow_tts import GlowTTS

    folder = tmp_path_factory.mktemp("run")
    data = json.loads((ROOT / "config.json").read_text(encoding="utf-8"))
    data.update(TINY_MODEL)
    config = GlowTTSConfig()
    config.from_dict(data)
    torch.manual_seed(0)
    model = GlowTTS(config)
    # An untrained duration predictor gives every token the minimum of one frame, whatever the speed; three frames
    # a token (with blanks between letters ~70 ms a letter) is a human pace, so speed shows in the audio's length.
    projection = model.encoder.duration_predictor.proj
    torch.nn.init.zeros_(projection.weight)
    torch.nn.init.constant_(projection.bias, math.log(1 + 3))
    torch.save({"model": model.state_dict(), "config": config.to_dict(), "step": 0}, folder / "best_model.pth")
    (folder / "config.json").write_text(json.dumps(config.to_dict(), ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def vocoder_dir(model_dir, tmp_path_factory):
    """An untrained tiny HiFi-GAN (tests/test_vocoder.py's size) saved as a train_vocoder.py run for the model."""
    import torch
    from TTS.vocoder.models import setup_model

    from rutts.train.vocoder_config import read_tts_config, vocoder_config
    from test_vocoder import TINY_VOCODER

    folder = tmp_path_factory.mktemp("vocoder_run")
    preset = folder / "tiny.json"
    preset.write_text(json.dumps(TINY_VOCODER), encoding="utf-8")
    config = vocoder_config(read_tts_config(model_dir), str(preset), data=folder)
    torch.manual_seed(0)
    torch.save({"model": setup_model(config).state_dict(), "config": config.to_dict(), "step": 2},
               folder / "best_model.pth")
    config.save_json(str(folder / "config.json"))
    return folder


@pytest.fixture
def fake():
    server = FakeTelegram()
    yield server
    server.close()


@pytest.fixture
def run_bot(model_dir, tmp_path, monkeypatch, caplog, capfd):
    """run_bot(script, *flags, stop=SIGINT) → (exit code, the fake API it talked to).

    Each run gets a fresh fake API; the token must show up in no log record and no output.
    """
    monkeypatch.delenv("TTS_BOT_ALLOWED_IDS", raising=False)
    caplog.set_level(logging.DEBUG)
    servers = []

    def run(script, *flags, stop=signal.SIGINT):
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)  # the bot takes it out of the environment it was given
        fake = FakeTelegram()
        servers.append(fake)
        failure, finished = [], threading.Event()

        def users():
            try:
                fake.wait_for(lambda: fake.sent("setMyCommands"), 180, "the bot to start")  # signal handlers are set
                script(fake)
            except BaseException as error:  # reported in the main thread
                failure.append(error)
            finally:
                if not finished.is_set():
                    signal.raise_signal(stop)  # as Ctrl+C in the terminal, or a service manager stopping the bot

        argv = ["--model", str(model_dir), "--api-url", fake.url, "--env-file", str(tmp_path / "none.env"),
                "--prefs", str(tmp_path / "prefs.json"), *flags]
        thread = threading.Thread(target=users)
        thread.start()
        try:
            code = bot.main(argv)
        finally:
            finished.set()
            thread.join()
        if failure:
            raise failure[0]
        assert_token_kept_secret(caplog, capfd)
        return code, fake

    yield run
    for server in servers:
        server.close()


def assert_token_kept_secret(caplog, capfd):
    logged = "\n".join(logging.Formatter().format(record) for record in caplog.records)
    out, err = capfd.readouterr()
    assert logged, "nothing was logged: the check below would prove nothing"
    for where, text in (("log", logged), ("stdout", out), ("stderr", err)):
        assert TOKEN not in text, f"the token leaked into {where}"
        assert TOKEN.split(":")[1] not in text, f"the token's secret half leaked into {where}"
    sys.stderr.write(err)  # keep it visible in pytest's report


def voice_of(files: dict):
    """(soundfile's info, bytes) of the voice note in a sendVoice upload."""
    data = files["voice"]
    return sf.info(io.BytesIO(data)), data


# ---------------------------------------------------------------- the rules, without Telegram


def test_queue_serves_users_in_turn_and_keeps_each_users_order():
    async def scenario():
        queue = FairQueue(max_total=10, max_per_user=3)
        ahead = [queue.put(1, "a1"), queue.put(1, "a2"), queue.put(1, "a3"), queue.put(2, "b1"), queue.put(3, "c1")]
        with pytest.raises(LimitError, match="уже 3"):
            queue.put(1, "a4")
        served = []
        for _ in range(5):
            user, job = await queue.get()
            served.append(job)
            queue.done(user)
        cancelled = (queue.put(2, "b2"), queue.close())
        return ahead, served, cancelled, await queue.get()

    ahead, served, cancelled, after_close = asyncio.run(scenario())
    assert served == ["a1", "b1", "c1", "a2", "a3"]
    assert ahead == [0, 1, 2, 1, 2]  # b1 goes before a2 and a3, c1 after b1
    assert cancelled == (0, ["b2"]) and after_close is None


def test_rate_limit_is_a_sliding_minute():
    now = [0.0]
    limiter = RateLimiter(limit=2, window=60, clock=lambda: now[0])
    for t in (0, 10):
        now[0] = t
        assert limiter.wait_time(5) == 0
        limiter.record(5)
    now[0] = 30
    assert limiter.wait_time(5) == pytest.approx(30) and limiter.wait_time(6) == 0
    now[0] = 60.5
    assert limiter.wait_time(5) == 0


def test_strangers_are_forgotten_and_memory_stays_bounded():
    """Issue 23, point 7: 10,000 distinct strangers, one every 0.1 s, then 10,000 more in one instant."""
    import tracemalloc

    now = [0.0]
    limiter = RateLimiter(limit=2, window=60, clock=lambda: now[0], max_users=1000)
    tracemalloc.start()
    for user in range(10_000):
        now[0] = user * 0.1
        limiter.record(user)
    after_trickle = tracemalloc.get_traced_memory()[0]
    assert len(limiter) <= 601  # only those inside the last minute
    for user in range(10_000, 20_000):
        limiter.record(user)
    grown = tracemalloc.get_traced_memory()[0] - after_trickle
    tracemalloc.stop()
    assert len(limiter) == 1000 and grown < 500_000, grown
    limiter.record(19_999)
    assert limiter.wait_time(19_999) > 0  # the latest are still limited
    print(f"remembered {len(limiter)} users, grew {grown} bytes over the second 10,000")


def test_long_text_is_cut_at_sentences_within_the_limit():
    sentences = [f"Предложение номер {n}, в нём несколько слов." for n in range(1, 41)]
    text = " ".join(sentences[:20]) + "\n\n" + " ".join(sentences[20:]) + " Очень" + " очень" * 120 + " длинное."
    pieces = split_voice_notes(text, 300)
    assert len(pieces) > 5 and all(len(p) <= 300 for p in pieces)
    assert " ".join(pieces).split() == text.split()  # nothing lost, nothing reordered
    assert all(p.endswith(".") for p in pieces if "очень" not in p)  # cut between sentences where they fit
    assert any("слов.\n\nПредложение номер 21" in p or p.startswith("Предложение номер 21") for p in pieces)


# ---------------------------------------------------------------- start-up errors


def test_missing_or_rejected_token_is_one_clear_line(fake, model_dir, tmp_path, monkeypatch, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)  # also undoes what load_dotenv sets below
    env_file = tmp_path / ".env"
    args = ["--model", str(model_dir), "--api-url", fake.url, "--env-file", str(env_file)]
    assert bot.main(args) == 1
    assert "Ошибка: нет токена бота" in capfd.readouterr().err
    assert not fake.requests

    env_file.write_text(f"# from .env.example\nTELEGRAM_BOT_TOKEN={TOKEN}\n", encoding="utf-8")
    fake.accept_token = False  # what Telegram answers for a revoked token: 401 Unauthorized
    caplog.clear()
    assert bot.main(args) == 1
    out, err = capfd.readouterr()
    assert err.strip().splitlines() == [
        "Ошибка: Telegram не принял токен из TELEGRAM_BOT_TOKEN. Проверьте его у @BotFather: /mybots → бот → API Token"
    ]
    assert TOKEN not in err + out + caplog.text and "Traceback" not in err
    assert fake.requests == ["getMe"]  # refused at the first call, before the model is loaded or polling starts


def test_a_missing_lexicon_or_vocoder_is_one_clear_line(fake, model_dir, tmp_path, monkeypatch, capfd):
    args = ["--model", str(model_dir), "--api-url", fake.url, "--env-file", str(tmp_path / "no.env")]
    for flag, start in (("--lexicon", "Ошибка: словарь не найден: "), ("--vocoder", "Ошибка: ")):
        missing = tmp_path / f"нет{flag}"
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        assert bot.main([*args, flag, str(missing)]) == 1
        [line] = capfd.readouterr().err.strip().splitlines()
        assert line.startswith(start) and str(missing) in line
    assert fake.requests == ["getMe"]  # the lexicon is checked before Telegram is asked, the vocoder with the model


def test_token_is_redacted_from_any_logger_once_protected(caplog):
    bot.protect_token(TOKEN)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").warning("HTTP Request: POST https://api.telegram.org/bot%s/getMe", TOKEN)
    try:
        raise ValueError(f"The token `{TOKEN}` was rejected by the server.")
    except ValueError as error:
        logging.getLogger("telegram.ext.Application").exception("failed")
        logging.getLogger("telegram.ext.Application").error("failed: %s", "see below", exc_info=error)
    text = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert TOKEN not in text and text.count(HIDDEN) == 3
    for record in caplog.records:  # handlers that format exc_info themselves (Sentry, rich…) find nothing either
        trace = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else ""
        assert TOKEN not in trace + (record.exc_text or "")


def test_tracebacks_printed_outside_logging_hide_the_token(tmp_path):
    """Uncaught exceptions in the main thread, in other threads and in asyncio callbacks, and stack_info."""
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(f'''
        import asyncio, logging, threading
        from rutts.bot.redact import keep_secret

        keep_secret("{TOKEN}")

        def fail():
            raise ValueError("token {TOKEN} rejected")  # the source line is in the traceback too

        thread = threading.Thread(target=fail, name="worker")
        thread.start()
        thread.join()

        async def main():
            asyncio.get_running_loop().call_soon(fail)
            await asyncio.sleep(0.05)

        asyncio.run(main())
        logging.getLogger("x").warning("here", stack_info=True)  # {TOKEN}
        fail()
    '''), encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 1 and "ValueError" in result.stderr
    assert "Exception in thread worker" in result.stderr and "Exception in callback" in result.stderr
    assert TOKEN not in result.stderr and result.stderr.count(HIDDEN) >= 7


def test_plain_http_api_url_is_refused_unless_loopback(model_dir, tmp_path, monkeypatch, capfd):
    from rutts.bot.serve import api_url_problem

    for url in ("http://127.0.0.1:8081/bot", "http://127.3.2.1/bot", "http://localhost:8081/bot",
                "http://[::1]:8081/bot", "https://tg.example.org/bot"):
        assert api_url_problem(url) is None, url
    for url in ("http://api.example.org/bot", "http://10.0.0.5:8081/bot", "ftp://api.example.org/bot", "bot"):
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
        assert bot.main(["--model", str(model_dir), "--api-url", url, "--env-file", str(tmp_path / "no.env")]) == 1
        [line] = capfd.readouterr().err.strip().splitlines()
        assert line.startswith(f"Ошибка: --api-url {url}: ") and TOKEN not in line
        assert "TELEGRAM_BOT_TOKEN" not in os.environ


# ---------------------------------------------------------------- conversations


def test_owner_gets_voice_notes_and_strangers_get_nothing(run_bot):
    def users(fake):
        fake.text(STRANGER, "/start")
        refused = fake.text(STRANGER, "Прочитай мне это, пожалуйста.")
        for n in range(12):  # a stranger who keeps trying gets no more replies
            fake.send(STRANGER, **[dict(text="/help"), dict(text=f"Ну прочитай {n}."), dict(text="/text а")][n % 3])
        short = fake.text(OWNER, "Привет! Сегодня мы разберём пять примеров.")
        fake.wait_for(lambda: len(fake.sent("sendVoice")) == 1 and fake.texts(STRANGER))
        child = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('TELEGRAM_BOT_TOKEN'))"],
                               capture_output=True, text=True, check=True)
        assert child.stdout.strip() == "None"  # programs the bot starts (espeak-ng, ffmpeg…) never see the token

        sentences = " ".join(f"Это предложение номер {n}, в нём есть слова." for n in range(1, 10))
        long = fake.text(OWNER, sentences)
        too_long = fake.text(OWNER, "А" * 3001)
        fake.wait_for(lambda: last_part_sent(fake, long), 60, "all parts of the long text")
        check(fake, refused, short, long, too_long)

    def check(fake, refused, short, long, too_long):
        [answer] = fake.texts(STRANGER)  # one answer to fourteen messages
        assert f"Ваш id: {STRANGER}" in answer and "только для тех, кого добавил его владелец" in answer
        assert not fake.sent("sendVoice", STRANGER) and not fake.sent("sendChatAction", STRANGER)
        assert not fake.replies_to(refused)

        [(method, fields, files)] = fake.replies_to(short)
        info, data = voice_of(files)
        assert method == "sendVoice" and (info.format, info.subtype, info.samplerate) == ("OGG", "OPUS", 48000)
        assert 0.3 < info.duration < 30 and abs(int(fields["duration"]) - info.duration) < 1
        audio, _ = sf.read(io.BytesIO(data))
        assert audio.std() > 0.01  # sound, not silence
        assert fake.sent("sendChatAction", OWNER)[0][0]["action"] == "record_voice"

        parts = [(f, files) for m, f, files in fake.replies_to(long) if m == "sendVoice"]
        assert len(parts) >= 3
        assert [f["caption"] for f, _ in parts] == [f"{n}/{len(parts)}" for n in range(1, len(parts) + 1)]
        durations = [voice_of(files)[0].duration for _, files in parts]
        assert all(1 < d < 60 for d in durations) and all(len(files["voice"]) < 1_000_000 for _, files in parts)
        [(_, too_long_reply, _)] = fake.replies_to(too_long)
        assert "3001 символов, я читаю до 3000" in too_long_reply["text"]

    assert run_bot(users, "--allow", str(OWNER), "--voice-chars", "150")[0] == 0


def last_part_sent(fake, message_id, method="sendVoice") -> bool:
    captions = [f.get("caption", "") for m, f, _ in fake.replies_to(message_id) if m == method]
    return any(c and c.split("/")[0] == c.split("/")[1] for c in captions)


def test_chat_text_is_read_as_is_and_show_text_obeys_the_limits(run_bot, tmp_path):
    """Chat messages are plain text (no Markdown), /text counts against the rate limit, and --lexicon and
    --no-stress reach the reading."""
    marked = "Раз, два, три. Нажмите клавишу <Ввод> и подождите.\n\n```\nЧетыре, пять, шесть, семь, восемь, девять."
    plain = "Раз, два, три. Нажмите клавишу Ввод и подождите.\n\nЧетыре, пять, шесть, семь, восемь, девять."
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("# for the test\nПитон → удав\n", encoding="utf-8")

    def users(fake):
        ids = [fake.text(OWNER, marked), fake.text(OWNER, plain)]
        fake.wait_for(lambda: len(fake.sent("sendVoice")) == 2)
        durations = [voice_of(files)[0].duration for m in ids for method, _, files in fake.replies_to(m)
                     if method == "sendVoice"]
        assert abs(durations[0] - durations[1]) < 0.02 * durations[1]  # nothing after ``` or inside <> was lost

        def answers():
            return [t for t in fake.texts(OWNER) if not t.startswith("Принял. В очереди")]

        fake.text(OWNER, "/text Питон ползёт по траве.")
        fake.wait_for(lambda: answers())
        [shown] = answers()
        assert "удав ползёт по траве" in shown and "+" not in shown.split("\n\n", 1)[1]
        fake.text(OWNER, "/text Раз.")
        fake.wait_for(lambda: len(answers()) == 2)
        fake.text(OWNER, "/text Два.")
        fake.wait_for(lambda: len(answers()) == 3)
        assert answers()[2].startswith("Слишком часто: не больше 4 текстов в минуту")

    assert run_bot(users, "--allow", str(OWNER), "--per-minute", "4", "--lexicon", str(lexicon), "--no-stress")[0] == 0


def test_text_is_read_as_the_run_recorded_it(run_bot, model_dir, tmp_path):
    """No --lexicon/--no-stress: the lexicon and stress setting the model's training text was processed with."""
    from rutts.run import record_frontend

    run = tmp_path / "run"
    run.mkdir()
    for name in ("best_model.pth", "config.json"):
        shutil.copy(model_dir / name, run / name)
    lexicon = tmp_path / "corpus_lexicon.txt"
    lexicon.write_text("Питон → удав\n", encoding="utf-8")
    record_frontend(run, lexicon, stress=False)

    def users(fake):
        fake.text(OWNER, "/text Питон ползёт по траве.")
        fake.wait_for(lambda: fake.texts(OWNER))
        [shown] = fake.texts(OWNER)
        assert "удав ползёт по траве" in shown and "+" not in shown.split("\n\n", 1)[1]

    assert run_bot(users, "--allow", str(OWNER), "--model", str(run))[0] == 0


def test_the_vocoder_the_run_names_or_the_flags_choose_is_used(run_bot, model_dir, vocoder_dir, tmp_path, caplog):
    from rutts.run import link_vocoder

    run = tmp_path / "run"
    run.mkdir()
    for name in ("best_model.pth", "config.json"):
        shutil.copy(model_dir / name, run / name)
    link_vocoder(run, vocoder_dir)  # what train_vocoder.py --tts-run does
    vocoder_line = f"Звук: {vocoder_dir / 'best_model.pth'}"

    def one_voice_note(fake):
        fake.text(OWNER, "Проверка вокодера.")
        fake.wait_for(lambda: fake.sent("sendVoice"), 60, "the voice note")
        info, data = voice_of(fake.sent("sendVoice")[0][1])
        assert 0.3 < info.duration < 30 and sf.read(io.BytesIO(data))[0].std() > 0.01

    for model, flags, expected, script in (
        (run, [], vocoder_line, one_voice_note),  # named by the run
        (run, ["--griffin-lim"], "Звук: Гриффин-Лим", lambda fake: None),
        (model_dir, ["--vocoder", str(vocoder_dir)], vocoder_line, lambda fake: None),
    ):
        caplog.clear()
        assert run_bot(script, "--allow", str(OWNER), "--model", str(model), *flags)[0] == 0
        assert expected in caplog.text, flags


def test_flood_control_is_waited_out_and_voice_privacy_gets_an_audio_file(run_bot):
    two_parts = " ".join(f"Это предложение номер {n}, в нём есть слова." for n in range(1, 5))

    def users(fake):
        fake.fail("sendVoice", 429, "Too Many Requests: retry after 1", retry_after=1)
        first = fake.text(OWNER, "Первый текст.")
        fake.wait_for(lambda: fake.refused)
        refused_at = time.monotonic()
        fake.wait_for(lambda: fake.sent("sendVoice"))
        assert time.monotonic() - refused_at > 0.9  # waited as told, then sent again
        assert [m for m, _, _ in fake.replies_to(first)] == ["sendVoice"]  # and apologised to nobody

        fake.voice_forbidden.add(OWNER)  # Settings → Privacy → Voice messages: nobody
        long = fake.text(OWNER, two_parts)
        fake.wait_for(lambda: last_part_sent(fake, long, "sendAudio"), 60, "the long text as audio files")
        again = fake.text(OWNER, "Третий текст.")
        fake.wait_for(lambda: any(m == "sendAudio" for m, _, _ in fake.replies_to(again)))

        [why] = [t for t in fake.texts(OWNER) if not t.startswith("Принял. В очереди")]  # once, not per part or text
        assert "голосовые" in why and "Конфиденциальность" in why
        audios = [(f, files) for m, f, files in fake.replies_to(long) + fake.replies_to(again) if m == "sendAudio"]
        assert len(audios) == 3 and [f.get("caption") for f, _ in audios] == ["1/2", "2/2", None]
        for fields, files in audios:
            info = sf.info(io.BytesIO(files["audio"]))
            assert info.format == "MP3" and 0.3 < info.duration < 30
            assert abs(int(fields["duration"]) - info.duration) < 1
            assert sf.read(io.BytesIO(files["audio"]))[0].std() > 0.01

    assert run_bot(users, "--allow", str(OWNER), "--voice-chars", "120")[0] == 0


def test_other_kinds_of_messages_get_a_short_reply(run_bot, monkeypatch):
    monkeypatch.setenv("TTS_BOT_ALLOWED_IDS", f"{OWNER}, {COLLEAGUE}")
    file = {"file_id": "f", "file_unique_id": "f"}
    sent = {
        "sticker": dict(sticker={**file, "type": "regular", "width": 512, "height": 512,
                                 "is_animated": False, "is_video": False}),
        "photo": dict(photo=[{**file, "width": 90, "height": 90}], caption="Прочитай подпись"),
        "voice": dict(voice={**file, "duration": 3}),
        "emoji": dict(text="😀👍🎉"),
        "dots": dict(text=" ... "),
        "command": dict(text="/read что-нибудь"),
        "help": dict(text="/help"),
    }
    expected = {"sticker": "Стикеры", "photo": "Картинки", "voice": "Голосовые", "emoji": "нечего читать",
                "dots": "нечего читать", "command": "Не знаю такой команды", "help": "/speed 1.2 — скорость речи"}

    def users(fake):
        for content in sent.values():
            fake.send(COLLEAGUE, **content)
        fake.text(COLLEAGUE, "/text В 2024 году курс прошли 150 человек.")
        fake.wait_for(lambda: len(fake.texts(COLLEAGUE)) == len(sent) + 1)
        replies = fake.texts(COLLEAGUE)
        for kind, words in expected.items():
            assert any(words in reply for reply in replies), f"{kind}: {replies}"
        [shown] = [r for r in replies if r.startswith("Так я прочитаю")]
        assert "две тысячи двадцать четвёртом" in shown.replace("+", "") and "сто пятьдесят" in shown.replace("+", "")
        assert "т+ысячи" in shown  # stress marks shown
        assert not fake.sent("sendVoice")

    assert run_bot(users)[0] == 0


def test_speed_is_remembered_across_restarts(run_bot, tmp_path):
    phrase = "Семь раз отмерь, один раз отрежь. Делу время, потехе час."
    durations = {}

    def set_speed(fake):
        normal = fake.text(OWNER, phrase)
        fake.wait_for(lambda: fake.sent("sendVoice"))
        fake.text(OWNER, "/speed 2")
        fake.text(OWNER, "/speed быстро")
        fake.wait_for(lambda: len(fake.texts(OWNER)) == 2)
        durations["1"] = voice_of(fake.replies_to(normal)[0][2])[0].duration

    def after_restart(fake):
        fast = fake.text(OWNER, phrase)
        fake.text(OWNER, "/speed")
        fake.wait_for(lambda: fake.sent("sendVoice") and fake.texts(OWNER))
        durations["2"] = voice_of(fake.replies_to(fast)[0][2])[0].duration
        assert fake.texts(OWNER)[0].startswith("Скорость сейчас: 2.")

    assert run_bot(set_speed, "--allow", str(OWNER))[0] == 0
    assert json.loads((tmp_path / "prefs.json").read_text(encoding="utf-8")) == {str(OWNER): {"speed": 2.0}}
    assert run_bot(after_restart, "--allow", str(OWNER))[0] == 0
    assert durations["2"] < 0.75 * durations["1"]


def test_a_burst_from_five_users_is_served_fairly_and_in_order(run_bot):
    users_ = [2001, 2002, 2003, 2004, 2005]
    sent: dict[int, list[int]] = {}

    def users(fake):
        for user in users_:  # the first user floods first: fairness must still serve the others early
            sent[user] = [fake.text(user, f"Сообщение номер {n} от пользователя.") for n in range(1, 21)]
        every = [m for ids in sent.values() for m in ids]
        fake.wait_for(lambda: all(answered(fake, m) for m in every), 60, "answers to all 100 messages")
        voices = [json.loads(f["reply_parameters"])["message_id"] for f, _ in fake.sent("sendVoice")]
        owner_of = {m: user for user, ids in sent.items() for m in ids}
        assert any(t.startswith("Принял. В очереди: ") for user in users_ for t in fake.texts(user))
        assert {owner_of[m] for m in voices[:5]} == set(users_)  # everyone's first text before anyone's second
        for user, ids in sent.items():
            voiced = [m for m in voices if owner_of[m] == user]
            assert voiced == sorted(voiced) and 1 <= len(voiced) <= 10  # in order, within 10 a minute
            for m in set(ids) - set(voiced):
                [(method, fields, _)] = [r for r in fake.replies_to(m) if "В очереди" not in r[1].get("text", "")]
                assert method == "sendMessage" and ("в работе" in fields["text"] or "Слишком часто" in fields["text"])

    def answered(fake, message_id):
        return any(m == "sendVoice" or "В очереди" not in f.get("text", "") for m, f, _ in fake.replies_to(message_id))

    assert run_bot(users, "--allow", ",".join(map(str, users_)))[0] == 0


def test_a_failed_upload_is_apologised_for_and_the_bot_goes_on(run_bot):
    def users(fake):
        fake.fail("sendVoice", 500, "Internal Server Error")
        fake.text(OWNER, "Первый текст.")
        fake.wait_for(lambda: any("Извините" in t for t in fake.texts(OWNER)))
        second = fake.text(OWNER, "Второй текст.")
        fake.wait_for(lambda: fake.sent("sendVoice"))
        assert [m for m, _, _ in fake.replies_to(second)][-1] == "sendVoice"

    assert run_bot(users, "--allow", str(OWNER))[0] == 0


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM cannot be caught on Windows")
def test_sigterm_finishes_the_current_part_and_cancels_the_rest(run_bot):
    ids = {}

    def users(fake):
        sentences = " ".join(f"Это предложение номер {n}, и в нём есть несколько обычных слов." for n in range(1, 31))
        ids["long"] = fake.text(OWNER, sentences)
        fake.wait_for(lambda: fake.sent("sendChatAction"))
        time.sleep(0.5)  # well into the first part's synthesis (seconds on 2 CPU cores)
        sent = time.monotonic()
        ids["waiting"] = fake.text(COLLEAGUE, "Я подожду своей очереди.")
        fake.wait_for(lambda: fake.replies_to(ids["waiting"]))  # "В очереди: 1"
        ids["latency"] = time.monotonic() - sent

    code, fake = run_bot(users, "--allow", f"{OWNER},{COLLEAGUE}", stop=signal.SIGTERM)
    assert code == 0
    long_replies = fake.replies_to(ids["long"])
    voices = [f for m, f, _ in long_replies if m == "sendVoice"]
    total = int(voices[0]["caption"].split("/")[1])
    assert 1 <= len(voices) < total  # the part being read when the signal came was finished and sent
    assert f"прочитал {len(voices)} из {total} частей" in long_replies[-1][1]["text"]
    assert "не озвучен" in fake.replies_to(ids["waiting"])[-1][1]["text"]
    assert not fake.sent("sendVoice", COLLEAGUE)
    assert ids["latency"] < 1.5  # the event loop was free while the worker thread synthesized (blocked: ~3 s)
