"""A local FCM HTTP v1 API and Google OAuth 2.0 token endpoint, for testing the push provider.

The token endpoint verifies the service account's RS256 JWT assertion with the
public half of a key made here, as Google does; messages:send accepts only the
tokens it issued. Replies to messages:send are scripted per device token:

    with FakeFcm() as fcm:
        account = fcm.service_account()
        settings = fcm.settings_file(account, tmp_path)
        fcm.messages.script("device-1", UNREGISTERED)
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from common.config import FcmSettings

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth signs for Google's token endpoint whatever token_uri says, and Google checks that.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_SEND_PATH = re.compile(r"^/v1/projects/([^/]+)/messages:send$")


# --- what the fake answers ---------------------------------------------------------------------

@dataclass(frozen=True)
class Reply:
    status: int
    body: dict
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Answer nothing for this long (or until the server stops)."""

    seconds: float


def fcm_error(code: int, status: str, message: str, error_code: str | None = None,
              retry_after: str | None = None) -> Reply:
    """FCM v1's error body: google.rpc.Status, with an FcmError detail when FCM names a reason."""
    error = {"code": code, "message": message, "status": status}
    if error_code:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}]
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(code, {"error": error}, headers)


UNREGISTERED = fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
INVALID_ARGUMENT = fcm_error(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token",
                             "INVALID_ARGUMENT")
SENDER_ID_MISMATCH = fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH")
PERMISSION_DENIED = fcm_error(403, "PERMISSION_DENIED", "Permission 'cloudmessaging.messages.create' denied")
UNAVAILABLE = fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
INTERNAL = fcm_error(500, "INTERNAL", "Internal error encountered.", "INTERNAL")
THIRD_PARTY_AUTH_ERROR = fcm_error(401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service",
                                   "THIRD_PARTY_AUTH_ERROR")
UNAUTHENTICATED = fcm_error(
    401, "UNAUTHENTICATED",
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
)


def quota_exceeded(retry_after: str | None = None) -> Reply:
    return fcm_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send messages'.",
                     "QUOTA_EXCEEDED", retry_after)


def unavailable(retry_after: str) -> Reply:
    return fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE", retry_after)


# --- the service account -----------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceAccount:
    """A service-account key made on the spot, as the JSON file Google would hand out."""

    project_id: str
    client_email: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls, project_id: str = "herald-test") -> ServiceAccount:
        return cls(
            project_id=project_id,
            client_email=f"herald-push@{project_id}.iam.gserviceaccount.com",
            private_key_id=secrets.token_hex(20),
            private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        )

    def private_key_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def info(self, token_uri: str) -> dict:
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem(),
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }


# --- the token endpoint ------------------------------------------------------------------------

class TokenIssuer:
    """Google's token endpoint for the JWT bearer grant: verify the assertion, issue an access token."""

    def __init__(self):
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[str, rsa.RSAPublicKey]] = {}  # private_key_id -> (client_email, key)
        self.issued: list[str] = []
        self.requests: list[dict] = []  # the verified claims of each assertion received
        self.hang_for: float | None = None  # answer no exchange for this long

    def trust(self, account: ServiceAccount) -> None:
        with self._lock:
            self._keys[account.private_key_id] = (account.client_email, account.private_key.public_key())

    def forget_keys(self) -> None:
        """Google no longer knows any key (deleted, or rotated away): every exchange is refused."""
        with self._lock:
            self._keys.clear()

    def revoke_issued(self) -> None:
        """Invalidate every access token handed out so far (as if revoked or expired early)."""
        with self._lock:
            self.issued.clear()

    def accepts(self, access_token: str) -> bool:
        with self._lock:
            return access_token in self.issued

    def exchange(self, form: dict[str, str]) -> Reply | Hang:
        if self.hang_for is not None:
            return Hang(self.hang_for)
        if form.get("grant_type") != JWT_BEARER_GRANT:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type", ""))
        claims, problem = self._verify(form.get("assertion", ""))
        with self._lock:
            self.requests.append(claims or {})
            if problem:
                return problem
            token = "ya29.fake-" + secrets.token_urlsafe(24)
            self.issued.append(token)
        return Reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _verify(self, assertion: str) -> tuple[dict | None, Reply | None]:
        try:
            header_part, claims_part, signature_part = assertion.split(".")
            header = json.loads(_b64decode(header_part))
            claims = json.loads(_b64decode(claims_part))
            signature = _b64decode(signature_part)
        except ValueError:
            return None, _oauth_error("invalid_grant", "Invalid JWT: malformed assertion.")
        with self._lock:
            known = self._keys.get(header.get("kid"))
        if header.get("alg") != "RS256" or known is None or known[0] != claims.get("iss"):
            return claims, _oauth_error("invalid_grant", "Invalid JWT Signature.")
        try:
            known[1].verify(signature, f"{header_part}.{claims_part}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return claims, _oauth_error("invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") != GOOGLE_TOKEN_AUDIENCE:
            return claims, _oauth_error("invalid_grant", "Invalid JWT: Failed audience check.")
        now = time.time()
        iat, exp = claims.get("iat", 0), claims.get("exp", 0)
        if not (iat - 300 <= now < exp) or exp - iat > 3600:
            return claims, _oauth_error("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 "
                                        "minutes) and in a reasonable timeframe.")
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            return claims, _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        return claims, None


def _oauth_error(error: str, description: str) -> Reply:
    return Reply(400, {"error": error, "error_description": description})


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


# --- messages:send -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordedSend:
    project: str
    headers: dict[str, str]
    body: dict

    @property
    def message(self) -> dict:
        return self.body["message"]

    @property
    def bearer(self) -> str | None:
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return token if scheme == "Bearer" else None


class MessagesApi:
    """FCM's messages:send: check the bearer token, record the request, answer from the script."""

    def __init__(self, issuer: TokenIssuer):
        self._issuer = issuer
        self._lock = threading.Lock()
        self._script: dict[str, deque[Reply | Hang]] = {}
        self._sent = 0
        self.sends: list[RecordedSend] = []

    def script(self, device_token: str, *replies: Reply | Hang) -> None:
        """The next replies for this device token, in order; success once they run out."""
        with self._lock:
            self._script.setdefault(device_token, deque()).extend(replies)

    def handle(self, project: str, headers: dict[str, str], raw_body: bytes) -> Reply | Hang:
        try:
            body = json.loads(raw_body)
        except ValueError:
            body = {}
        with self._lock:
            self.sends.append(RecordedSend(project, headers, body))
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not self._issuer.accepts(token):
            return UNAUTHENTICATED
        device_token = (body.get("message") or {}).get("token", "")
        with self._lock:
            queued = self._script.get(device_token)
            if queued:
                return queued.popleft()
            self._sent += 1
            return Reply(200, {"name": f"projects/{project}/messages/{self._sent}"})


# --- the server --------------------------------------------------------------------------------

class FakeFcm:
    """Both endpoints on 127.0.0.1 at a random port, served from a background thread."""

    def __init__(self):
        self.tokens = TokenIssuer()
        self.messages = MessagesApi(self.tokens)
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fake-fcm",
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def start(self) -> FakeFcm:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging replies
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeFcm:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()

    def service_account(self, project_id: str = "herald-test", *, trusted: bool = True) -> ServiceAccount:
        """A fresh key; untrusted means Google never heard of it (deleted, or from elsewhere)."""
        account = ServiceAccount.generate(project_id)
        if trusted:
            self.tokens.trust(account)
        return account

    def settings_file(self, account: ServiceAccount, directory: Path) -> FcmSettings:
        """FcmSettings reading the account's JSON from a file written into `directory`."""
        path = Path(directory) / f"{account.private_key_id[:8]}-service-account.json"
        path.write_text(json.dumps(account.info(self.token_uri)))
        return FcmSettings(project_id=account.project_id, credentials_file=str(path), endpoint=self.base_url)

    def settings_json(self, account: ServiceAccount) -> FcmSettings:
        """FcmSettings carrying the account's JSON as text (as FCM_CREDENTIALS_JSON would)."""
        return FcmSettings(project_id=account.project_id, credentials_json=json.dumps(account.info(self.token_uri)),
                           endpoint=self.base_url)

    def respond(self, path: str, headers: dict[str, str], body: bytes) -> Reply | Hang:
        """The reply to a POST."""
        if path == "/token":
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
            return self.tokens.exchange(form)
        match = _SEND_PATH.match(path)
        if match:
            return self.messages.handle(match.group(1), headers, body)
        return fcm_error(404, "NOT_FOUND", f"The requested URL {path} was not found on this server.")

    def wait_while_hanging(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        fake: FakeFcm = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        reply = fake.respond(urllib.parse.urlsplit(self.path).path, dict(self.headers.items()), body)
        if isinstance(reply, Hang):
            fake.wait_while_hanging(reply.seconds)
            self.close_connection = True
            return
        payload = json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass
