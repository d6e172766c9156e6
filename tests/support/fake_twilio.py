"""A local stand-in for Twilio's Messages API, and a sender of signed status callbacks.

`FakeTwilio` serves POST /2010-04-01/Accounts/{AccountSid}/Messages.json on
127.0.0.1 the way Twilio does: form-encoded parameters, HTTP Basic auth with
the account SID and auth token, 201 with the Message resource, and Twilio's
JSON error shape. Each destination number can be scripted to fail (an error
code, throttling, an outage, a hang). Every request is recorded.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from twilio.request_validator import RequestValidator

from common.sms_segments import count_segments

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")

# Twilio's own wording for the errors the fake produces by itself.
_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service unavailable",
    21211: "The 'To' number {to} is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {to}.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: {to}, is not currently reachable using the 'From' phone number via SMS.",
    21614: "'To' number {to} is not a valid mobile number",
}


@dataclass(frozen=True)
class Reply:
    """How the fake answers one request. Build one with the functions below."""

    status: int = 201
    error_code: int | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # send nothing at all until the fake stops
    stall_body: bool = False  # send the headers and part of the body, then nothing
    num_segments: str | None = "auto"  # "auto": counted from the body; None: field left out


def accepted(num_segments: str | None = "auto") -> Reply:
    return Reply(num_segments=num_segments)


def twilio_error(code: int, status: int = 400, message: str | None = None) -> Reply:
    return Reply(status=status, error_code=code, message=message)


def throttled(retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(status=429, error_code=20429, headers=headers)


def unavailable(status: int = 503) -> Reply:
    return Reply(status=status, error_code=20503 if status == 503 else 20500)


def hang() -> Reply:
    return Reply(hang=True)


def stall_body() -> Reply:
    return Reply(stall_body=True)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    auth: tuple[str, str] | None
    form: dict[str, str]
    headers: dict[str, str]


class FakeTwilio:
    """Start with `with FakeTwilio(account_sid, auth_token) as fake:`; point the client at `fake.url`."""

    def __init__(self, account_sid: str, auth_token: str):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-twilio", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, to: str, reply: Reply) -> None:
        """Answer every message to `to` with `reply` from now on."""
        with self._lock:
            self._scripts[to] = reply

    def requests_to(self, to: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.form.get("To") == to]

    def start(self) -> FakeTwilio:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- called from the handler threads --

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _reply_for(self, to: str | None) -> Reply:
        with self._lock:
            return self._scripts.get(to or "", accepted())

    def _resource(self, form: dict[str, str], reply: Reply) -> dict:
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=False).replace("-0000", "+0000")
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        via_service = "MessagingServiceSid" in form and "From" not in form
        segments = str(count_segments(form["Body"])[1]) if reply.num_segments == "auto" else reply.num_segments
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": form["Body"],
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            # Through a Messaging Service Twilio picks the sender later: `from` is
            # null and the status `accepted` until then.
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": segments,
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if via_service else "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": form["To"],
            "uri": f"{uri}.json",
        }
        if reply.num_segments is None:
            del resource["num_segments"]
        return resource


def error_body(code: int, status: int, message: str) -> dict:
    """Twilio's JSON error shape."""
    more_info = f"https://www.twilio.com/docs/errors/{code}"
    return {"code": code, "message": message, "more_info": more_info, "status": status}


def _handler_for(fake: FakeTwilio):
    class Handler(BaseHTTPRequestHandler):
        server_version = "fake-twilio"

        def log_message(self, *args):  # keep test output quiet
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = dict(urllib.parse.parse_qsl(raw, keep_blank_values=True))
            auth = _basic_auth(self.headers.get("Authorization"))
            fake._record(RecordedRequest("POST", self.path, auth, form, dict(self.headers)))

            if auth != (fake.account_sid, fake.auth_token):
                return self._error(401, 20003, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
            match = _MESSAGES_PATH.match(urllib.parse.urlsplit(self.path).path)
            if not match or match["account"] != fake.account_sid:
                return self._error(404, 20404)
            to = form.get("To")
            if not to:
                return self._error(400, 21604)
            if not (form.get("From") or form.get("MessagingServiceSid")):
                return self._error(400, 21603)
            if not form.get("Body"):
                return self._error(400, 21602)

            reply = fake._reply_for(to)
            if reply.hang:
                fake._stopping.wait()
                return
            if reply.error_code is not None:
                return self._error(reply.status, reply.error_code, reply.message, reply.headers, to=to)
            self._json(201, fake._resource(form, reply), reply.headers, stall=reply.stall_body)

        def do_GET(self):
            self._error(405, 20004, "Method not allowed")

        def _error(self, status, code, message=None, headers=None, to=None):
            text = message or _MESSAGES.get(code, "Bad request").format(path=self.path, to=to)
            self._json(status, error_body(code, status, text), headers or {})

        def _json(self, status, payload, headers, stall=False):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Twilio-Request-Id", "RQ" + secrets.token_hex(16))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if stall:
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                fake._stopping.wait()
                return
            self.wfile.write(body)

    return Handler


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def status_callback_params(
    message_sid: str,
    status: str,
    *,
    account_sid: str,
    to: str,
    from_: str,
    error_code: str | None = None,
    messaging_service_sid: str | None = None,
) -> dict[str, str]:
    """The form Twilio posts to a StatusCallback: the same fields, in Twilio's names."""
    params = {
        "SmsSid": message_sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": to,
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": "2010-04-01",
    }
    if messaging_service_sid:
        params["MessagingServiceSid"] = messaging_service_sid
    if error_code:
        params["ErrorCode"] = error_code
    return params


def send_status_callback(
    url: str, auth_token: str, params: dict[str, str], valid_signature: bool = True, timeout: float = 5.0
) -> tuple[int, bytes]:
    """POST a status callback to `url` as Twilio would, signed with `auth_token`
    (or, with valid_signature=False, with a signature that does not match).
    Returns the HTTP status and body of the answer."""
    signature = RequestValidator(auth_token).compute_signature(url, params)
    if not valid_signature:
        signature = RequestValidator(auth_token + "-wrong").compute_signature(url, params)
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(params).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
