"""The studio's web server: Python's own ThreadingHTTPServer, one page and a small JSON API.

Every URL starts with /<token>/ (a random token, as Jupyter has one): another user of the machine who finds the
port cannot drive the studio. Files are served only from the package's static/ folder (by exact name) and from
the lesson's studio folder (its takes), never through a symbolic link or outside it.

    GET  /<token>/                  the page             GET  /<token>/api/state   everything the page shows
    GET  /<token>/static/<name>     its script and style GET  /<token>/api/job     the running job's progress
    GET  /<token>/files/<path>      a file of the studio folder (takes/<key>.wav)
    POST /<token>/api/<action>      JSON in, the new state out; 400 bad input, 409 stale version or busy,
                                    413 too long; actions: edit, stress, word, choose, render, take, cancel,
                                    export, save
"""
from __future__ import annotations

import json
import logging
import mimetypes
import secrets
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from rutts.studio.session import Session
from rutts.studio.state import StudioError

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
MAX_BODY = 1 << 20
SERVED_SUFFIXES = {".wav", ".ogg", ".mp3", ".srt"}
TYPES = {".wav": "audio/wav", ".ogg": "audio/ogg", ".mp3": "audio/mpeg", ".srt": "text/plain; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}


def safe_file(root: Path, relative: str) -> Path | None:
    """The file `relative` (already URL-decoded) names under `root`, or None: no "..", no absolute path, no
    backslash or drive, no symbolic link anywhere on the way, only the suffixes in SERVED_SUFFIXES."""
    if not relative or "\\" in relative or "\x00" in relative or ":" in relative:
        return None
    parts = PurePosixPath(relative).parts
    if relative.startswith("/") or any(part in ("..", ".", "") for part in parts):
        return None
    path = root
    for part in parts:
        path = path / part
        if path.is_symlink():
            return None
    if path.suffix.lower() not in SERVED_SUFFIXES or not path.is_file():
        return None
    if not path.resolve().is_relative_to(root.resolve()):
        return None
    return path


class StudioServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], session: Session, token: str | None = None):
        super().__init__(address, Handler)
        self.session = session
        self.token = token or secrets.token_urlsafe(24)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/{self.token}/"


class Handler(BaseHTTPRequestHandler):
    server: StudioServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # -- answers

    def _send(self, status: int, body: bytes, kind: str, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")  # the token is in the URL
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: dict) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _route(self) -> str | None:
        """The path after /<token>/ (still URL-encoded), or None after answering a wrong token."""
        path = urlsplit(self.path).path
        token, _, rest = path.lstrip("/").partition("/")
        if not secrets.compare_digest(token.encode(), self.server.token.encode()):
            self._error(HTTPStatus.FORBIDDEN, "нет доступа: откройте адрес с ключом, который напечатала студия")
            return None
        if path.lstrip("/") == token:  # /<token> without the slash: relative links need it
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", f"/{token}/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return rest

    # -- GET

    def do_HEAD(self) -> None:
        self._answer(self._get)

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_POST(self) -> None:
        self._answer(self._post)

    def _answer(self, work) -> None:
        try:
            work()
        except Exception as error:  # a bug: the page gets one line, the terminal the traceback
            log.exception("studio request failed: %s", self.requestline)
            self.close_connection = True
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"внутренняя ошибка студии: {error}")

    def _get(self) -> None:
        rest = self._route()
        if rest is None:
            return
        session = self.server.session
        if rest in ("", "index.html"):
            return self._static("index.html")
        if rest.startswith("static/"):
            return self._static(unquote(rest[len("static/"):]))
        if rest == "api/state":
            return self._json(HTTPStatus.OK, session.state())
        if rest == "api/job":
            return self._json(HTTPStatus.OK, {"job": session.worker.status()})
        if rest.startswith("files/"):
            path = safe_file(session.manifest.folder, unquote(rest[len("files/"):]))
            if path is None:
                return self._error(HTTPStatus.NOT_FOUND, "такого файла нет")
            # a take's name is the hash of what it holds: it never changes
            return self._send(HTTPStatus.OK, path.read_bytes(), TYPES[path.suffix.lower()],
                              "private, max-age=31536000, immutable")
        self._error(HTTPStatus.NOT_FOUND, "такой страницы нет")

    def _static(self, name: str) -> None:
        allowed = {p.name: p for p in STATIC.iterdir() if p.is_file()}
        if name not in allowed:
            return self._error(HTTPStatus.NOT_FOUND, "такого файла нет")
        kind = TYPES.get(allowed[name].suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        self._send(HTTPStatus.OK, allowed[name].read_bytes(), kind)

    # -- POST

    def _post(self) -> None:
        rest = self._route()
        if rest is None:
            return
        action = rest[len("api/"):] if rest.startswith("api/") else None
        handler = ACTIONS.get(action)
        if handler is None:
            return self._error(HTTPStatus.NOT_FOUND, "такого действия нет")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            return self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"запрос больше {MAX_BODY} байт")
        try:
            body = json.loads(self.rfile.read(length).decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError):
            return self._error(HTTPStatus.BAD_REQUEST, "тело запроса — не JSON в UTF-8")
        if not isinstance(body, dict):
            return self._error(HTTPStatus.BAD_REQUEST, "тело запроса — не объект JSON")
        session = self.server.session
        try:
            message = handler(session, body)
        except StudioError as error:
            return self._json(error.status, {"error": str(error), "state": session.state()})
        except OSError as error:
            return self._json(HTTPStatus.INTERNAL_SERVER_ERROR,
                              {"error": f"не записалось: {error.strerror or error}", "state": session.state()})
        self._json(HTTPStatus.OK, {"message": message or "", "state": session.state()})


def _field(body: dict, name: str):
    if name not in body:
        raise StudioError(f"в запросе нет поля {name!r}")
    return body[name]


def _backup_message(session: Session, body: dict) -> str:
    backup = session.save_lesson(_field(body, "version"))
    return f"урок записан, прежний — {backup.name}" if backup else "в файле урока уже этот текст"


ACTIONS = {
    "edit": lambda s, b: s.edit(_field(b, "version"), _field(b, "index"), b.get("text"), b.get("speed"),
                                b.get("pause")),
    "stress": lambda s, b: s.stress(_field(b, "version"), _field(b, "index"), _field(b, "offset")),
    "word": lambda s, b: s.add_word(_field(b, "version"), _field(b, "word"), _field(b, "reading")),
    "choose": lambda s, b: s.choose(_field(b, "version"), _field(b, "index"), _field(b, "seed")),
    "render": lambda s, b: s.render(b.get("indices")) and None,
    "take": lambda s, b: s.another_take(_field(b, "version"), _field(b, "index")) and None,
    "cancel": lambda s, b: "отменяю" if s.worker.cancel() else "нечего отменять",
    "export": lambda s, b: s.export() and None,
    "save": _backup_message,
}
