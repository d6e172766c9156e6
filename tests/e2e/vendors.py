"""The three fake vendors (FCM, SMTP, Twilio) on 127.0.0.1, and worker pools pointed at them.

The fakes are the ones in `tests/support`; the subclasses here only also
remember what each vendor answered (FCM's message name, Twilio's message SID),
so a test can check that Herald stored exactly the id the vendor gave it.
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.certificates import SelfSignedCertificate, create_self_signed_certificate
from tests.support.fake_fcm import FakeFcm, Hang, MessagesApi, RecordedSend, Reply, ServiceAccount
from tests.support.fake_smtp import FakeSmtpServer
from tests.support.fake_twilio import FakeTwilio
from tests.support.processes import HeraldProcess, start_worker, stop_all

TWILIO_ACCOUNT_SID = "AC" + secrets.token_hex(16)
TWILIO_AUTH_TOKEN = secrets.token_hex(16)
TWILIO_FROM_NUMBER = "+15017122661"
# Where Twilio is told to post receipts: Herald's public address, not where the test reaches it.
PUBLIC_URL = "https://herald.example.test"

SMTP_USERNAME = "herald-mailer"
SMTP_PASSWORD = secrets.token_urlsafe(16)
EMAIL_FROM = "notifications@herald.example"
EMAIL_FROM_NAME = "Herald Notifications"
EMAIL_REPLY_TO = "support@herald.example"

FCM_PROJECT_ID = "herald-e2e"


class AnsweringMessagesApi(MessagesApi):
    """FCM's messages:send that also keeps, per device token, the replies it gave."""

    def __init__(self, issuer):
        super().__init__(issuer)
        self.answered: list[tuple[str, Reply | Hang]] = []  # (device token, reply)

    def handle(self, project, headers, raw_body):
        reply = super().handle(project, headers, raw_body)
        try:
            token = (json.loads(raw_body).get("message") or {}).get("token", "")
        except (ValueError, AttributeError):
            token = ""
        with self._lock:
            self.answered.append((token, reply))
        return reply

    def sends_to(self, device_token: str) -> list[RecordedSend]:
        with self._lock:
            return [s for s in self.sends if (s.body.get("message") or {}).get("token") == device_token]

    def replies_to(self, device_token: str) -> list[Reply | Hang]:
        with self._lock:
            return [reply for token, reply in self.answered if token == device_token]


class AnsweringTwilio(FakeTwilio):
    """Twilio's Messages API that also keeps the Message resource of every 201 it sent."""

    def __init__(self, account_sid: str, auth_token: str):
        super().__init__(account_sid, auth_token)
        self.created: list[tuple[dict, dict]] = []  # (form posted, resource returned)

    def _resource(self, form, reply):
        resource = super()._resource(form, reply)
        with self._lock:
            self.created.append((dict(form), resource))
        return resource


@dataclass
class Vendors:
    fcm: FakeFcm
    account: ServiceAccount
    smtp: FakeSmtpServer
    twilio: AnsweringTwilio
    certificate: SelfSignedCertificate
    credentials_file: Path
    _started: list = field(default_factory=list)

    @property
    def fcm_messages(self) -> AnsweringMessagesApi:
        return self.fcm.messages

    def worker_env(self) -> dict[str, str]:
        """The vendor settings every pool gets, exactly as an operator would set them."""
        return {
            "FCM_CREDENTIALS_FILE": str(self.credentials_file),
            "FCM_PROJECT_ID": FCM_PROJECT_ID,
            "FCM_ENDPOINT": self.fcm.base_url,
            "SMTP_HOST": self.smtp.host,
            "SMTP_PORT": str(self.smtp.port),
            "SMTP_SECURITY": "starttls",
            "SMTP_USERNAME": SMTP_USERNAME,
            "SMTP_PASSWORD": SMTP_PASSWORD,
            "SMTP_CA_FILE": str(self.certificate.cert_file),
            "EMAIL_FROM": EMAIL_FROM,
            "EMAIL_FROM_NAME": EMAIL_FROM_NAME,
            "EMAIL_REPLY_TO": EMAIL_REPLY_TO,
            "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": TWILIO_FROM_NUMBER,
            "HERALD_PUBLIC_URL": PUBLIC_URL,
            "TWILIO_API_BASE": self.twilio.url,
        }

    def stop(self) -> None:
        for server in reversed(self._started):
            try:
                server.stop()
            except Exception:  # stop the others regardless
                pass
        self._started.clear()


def start_vendors(directory: Path) -> Vendors:
    """Start FCM (with its OAuth endpoint), SMTP (STARTTLS + AUTH) and Twilio; stop them with `stop()`."""
    started = []
    try:
        fcm = FakeFcm()
        fcm.messages = AnsweringMessagesApi(fcm.tokens)
        fcm.start()
        started.append(fcm)
        account = fcm.service_account(FCM_PROJECT_ID)
        credentials_file = Path(fcm.settings_file(account, directory).credentials_file)

        certificate = create_self_signed_certificate(Path(directory) / "tls")
        smtp = FakeSmtpServer("starttls", certificate=certificate,
                              credentials=(SMTP_USERNAME, SMTP_PASSWORD)).start()
        started.append(smtp)

        twilio = AnsweringTwilio(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN).start()
        started.append(twilio)
    except BaseException:
        for server in reversed(started):
            server.stop()
        raise
    return Vendors(fcm, account, smtp, twilio, certificate, credentials_file, started)


def start_pools(channels, log_dir: Path, env: dict[str, str], concurrency: int = 2) -> dict[str, HeraldProcess]:
    """One pool per channel, started side by side (each takes seconds to boot)."""
    with ThreadPoolExecutor(len(channels)) as pool:
        futures = {c: pool.submit(start_worker, c, log_dir, concurrency, env) for c in channels}
    started, problems = {}, []
    for channel, future in futures.items():
        try:
            started[channel] = future.result()
        except Exception as error:
            problems.append(error)
    if problems:
        stop_all(started.values())
        raise problems[0]
    return started

