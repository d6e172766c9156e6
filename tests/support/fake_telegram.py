"""A local stand-in for the Telegram Bot API's sendMessage, over HTTP or HTTPS.

`FakeTelegram` serves POST /bot<token>/sendMessage on 127.0.0.1 the way the
Bot API does: a JSON (or form) body with `chat_id` and `text`, `{"ok": true,
"result": <Message>}` on success, and `{"ok": false, "error_code": ...,
"description": ..., "parameters": {...}}` on failure, with the HTTP status
equal to `error_code`. A wrong token gets 401 Unauthorized, a malformed one 404
Not Found, as from Telegram. Each chat can be scripted to answer with a
sequence of replies (blocked, chat not found, throttled, an outage, a hang);
every request is recorded, and message ids count up per chat.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.certificates import SelfSignedCertificate

_PATH = re.compile(r"^/bot(?P<token>[^/]*)/(?P<method>[A-Za-z]+)$")
_TOKEN_SHAPE = re.compile(r"\d+:[\w-]+")
MAX_TEXT = 4_096


@dataclass(frozen=True)
class Reply:
    """How the fake answers one sendMessage. Build one with the functions below."""

    status: int = 200
    description: str | None = None
    parameters: dict = field(default_factory=dict)
    hang: float = 0.0  # wait this long (or until the fake stops) before answering nothing


def delivered() -> Reply:
    return Reply()


def blocked() -> Reply:
    return Reply(403, "Forbidden: bot was blocked by the user")


def chat_not_found() -> Reply:
    return Reply(400, "Bad Request: chat not found")


def throttled(retry_after: int) -> Reply:
    return Reply(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def unavailable(status: int = 502) -> Reply:
    return Reply(status, "Bad Gateway" if status == 502 else "Internal Server Error")


def hang(seconds: float = 30.0) -> Reply:
    return Reply(hang=seconds)


@dataclass(frozen=True)
class RecordedSend:
    at: float  # time.monotonic() when it arrived
    token: str
    body: dict
    content_type: str

    @property
    def chat_id(self):
        return self.body.get("chat_id")


class FakeTelegram:
    """Start with `with FakeTelegram(bot_token) as fake:`; point the provider at `fake.url`."""

    def __init__(self, bot_token: str, certificate: SelfSignedCertificate | None = None):
        self.bot_token = bot_token
        self.certificate = certificate  # its cert_file is the CA bundle a client should trust
        self.sends: list[RecordedSend] = []
        self.answered: list[tuple[str, int]] = []  # (chat, HTTP status) of every sendMessage answered
        self._scripts: dict[str, deque[Reply]] = {}
        self._message_ids: Counter = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.scheme = "http"
        if certificate is not None:
            self._server.socket = certificate.server_context().wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fake-telegram", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def script(self, chat, *replies: Reply) -> None:
        """Answer the next messages to `chat` with `replies` in turn; delivered once they run out."""
        with self._lock:
            self._scripts[str(chat)] = deque(replies)

    def sends_to(self, chat) -> list[RecordedSend]:
        with self._lock:
            return [s for s in self.sends if str(s.chat_id) == str(chat)]

    def statuses_to(self, chat) -> list[int]:
        with self._lock:
            return [status for answered_chat, status in self.answered if answered_chat == str(chat)]

    def delivered_counts(self) -> Counter:
        """chat -> messages the fake accepted (each got a message_id)."""
        with self._lock:
            return Counter(chat for chat, status in self.answered if status == 200)

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- called from the handler threads --

    def _next_reply(self, chat: str) -> Reply:
        with self._lock:
            queued = self._scripts.get(chat)
            return queued.popleft() if queued else delivered()

    def _answered(self, chat: str, status: int) -> None:
        with self._lock:
            self.answered.append((chat, status))

    def _message(self, chat_id, text: str) -> dict:
        with self._lock:
            self._message_ids[str(chat_id)] += 1
            message_id = self._message_ids[str(chat_id)]
        bot_id = int(self.bot_token.partition(":")[0])
        chat_type = "channel" if str(chat_id).startswith(("@", "-100")) else \
            "group" if str(chat_id).startswith("-") else "private"
        chat = {"id": chat_id, "type": chat_type}
        if chat_type == "channel":
            chat = {"id": -1001000000000 - message_id, "title": "Herald test channel", "type": "channel",
                    **({"username": str(chat_id)[1:]} if str(chat_id).startswith("@") else {})}
        return {"message_id": message_id, "from": {"id": bot_id, "is_bot": True, "first_name": "Herald",
                                                   "username": "herald_test_bot"},
                "chat": chat, "date": int(time.time()), "text": text}


def _handler_for(fake: FakeTelegram):
    class Handler(BaseHTTPRequestHandler):
        server_version = "fake-telegram"
        protocol_version = "HTTP/1.1"  # keep-alive, as the Bot API serves it

        def log_message(self, *args):  # the path holds the token: never print it
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            content_type = self.headers.get("Content-Type", "")
            match = _PATH.match(urllib.parse.urlsplit(self.path).path)
            if not match or not _TOKEN_SHAPE.fullmatch(match["token"]):
                return self._error(404, "Not Found")
            if match["token"] != fake.bot_token:
                return self._error(401, "Unauthorized")
            if match["method"] != "sendMessage":
                return self._error(404, "Not Found: method not found")
            body = _parsed(raw, content_type)
            if body is None:
                return self._error(400, "Bad Request: invalid JSON")
            with fake._lock:
                fake.sends.append(RecordedSend(time.monotonic(), match["token"], body, content_type))
            chat_id, text = body.get("chat_id"), body.get("text")
            chat = str(chat_id)
            if chat_id in (None, ""):
                return self._answer(chat, 400, "Bad Request: chat_id is empty")
            if not isinstance(text, str) or not text.strip():
                return self._answer(chat, 400, "Bad Request: message text is empty")
            if len(text.encode("utf-16-le")) // 2 > MAX_TEXT:
                return self._answer(chat, 400, "Bad Request: message is too long")

            reply = fake._next_reply(chat)
            if reply.hang:
                fake._stopping.wait(reply.hang)
                self.close_connection = True
                return
            if reply.status != 200:
                return self._answer(chat, reply.status, reply.description, reply.parameters)
            fake._answered(chat, 200)
            self._json(200, {"ok": True, "result": fake._message(chat_id, text)})

        def _answer(self, chat, status, description, parameters=None):
            fake._answered(chat, status)
            self._error(status, description, parameters)

        def _error(self, status, description, parameters=None):
            payload = {"ok": False, "error_code": status, "description": description}
            if parameters:
                payload["parameters"] = parameters
            self._json(status, payload)

        def _json(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _parsed(raw: bytes, content_type: str) -> dict | None:
    """The method's parameters, from JSON or a form, as the Bot API takes either."""
    try:
        if content_type.startswith("application/json"):
            body = json.loads(raw or b"{}")
            return body if isinstance(body, dict) else None
        return dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
    except (ValueError, UnicodeDecodeError):
        return None
