"""A real SMTP server on 127.0.0.1 (aiosmtpd) for the email provider's tests.

It speaks STARTTLS, implicit TLS or plain SMTP, requires AUTH when given
credentials, records every accepted message, and can be scripted to refuse or
stall a recipient, or to drop its connections, so the provider's error mapping
and reconnects are tested against the wire protocol rather than a mock.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.certificates import SelfSignedCertificate

SERVER_NAME = "fake-smtp.test"  # a fixed greeting name: no DNS lookup for the fqdn


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    message: EmailMessage
    peer: tuple
    tls: bool  # the session was encrypted (STARTTLS or implicit TLS)
    authenticated: bool


@dataclass(frozen=True)
class Script:
    """What the server does for one recipient at one stage (`rcpt` or `data`)."""

    stage: str
    reply: str | None = None  # e.g. "451 4.7.1 try later"
    hang: float | None = None  # seconds to stall before replying


@dataclass
class RecordingHandler:
    """aiosmtpd handler: accepts and records mail unless a script says otherwise."""

    messages: list[ReceivedMessage] = field(default_factory=list)
    # One peer (address, port) per connection that got as far as EHLO.
    peers: set[tuple] = field(default_factory=set)
    scripts: dict[str, Script] = field(default_factory=dict)
    # Replies for the next MAIL commands, used up in order (then accept).
    mail_replies: list[str] = field(default_factory=list)

    def script(self, recipient: str, stage: str, *, reply: str | None = None, hang: float | None = None):
        assert stage in {"rcpt", "data"}, stage
        self.scripts[recipient] = Script(stage, reply, hang)

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses):
        self.peers.add(session.peer)
        session.host_name = hostname  # with this hook, aiosmtpd leaves that to us
        return responses

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str, options):
        if self.mail_replies:
            return self.mail_replies.pop(0)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str, options):
        refusal = await self._scripted(address, "rcpt")
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope):
        for recipient in envelope.rcpt_tos:
            refusal = await self._scripted(recipient, "data")
            if refusal:
                return refusal
        content = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        self.messages.append(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                content=content,
                message=_parse(content, utf8="SMTPUTF8" in envelope.mail_options),
                peer=session.peer,
                tls=server.transport.get_extra_info("ssl_object") is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 2.0.0 Message accepted for delivery"

    async def _scripted(self, recipient: str, stage: str) -> str | None:
        script = self.scripts.get(recipient)
        if script is None or script.stage != stage:
            return None
        if script.hang:
            # Cancelled when the client gives up and closes the connection.
            await asyncio.sleep(script.hang)
        return script.reply


def _parse(content: bytes, utf8: bool) -> EmailMessage:
    if utf8:  # RFC 6531: headers may be raw UTF-8, which the bytes parser would not decode
        return email.message_from_string(content.decode("utf-8"), policy=email.policy.default)
    return email.message_from_bytes(content, policy=email.policy.default)


class SingleUserAuthenticator:
    """aiosmtpd authenticator accepting exactly one username and password."""

    def __init__(self, username: str, password: str):
        self.accept(username, password)

    def accept(self, username: str, password: str) -> None:
        self.expected = LoginPassword(username.encode(), password.encode())

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and auth_data == self.expected:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False makes aiosmtpd answer "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=False, handled=False)


class _ImplicitTlsSMTP(SMTP):
    # aiosmtpd 1.4.6 only counts STARTTLS as TLS, so with implicit TLS and
    # auth_require_tls=True it never offers AUTH (aio-libs/aiosmtpd#281).
    # The whole connection is TLS here, so AUTH is safe to offer.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._auth_require_tls = False


class _Controller(Controller):
    """Controller on a free port that keeps its live sessions so a test can drop them."""

    def __init__(self, *args, smtp_class: type[SMTP] = SMTP, **kwargs):
        super().__init__(*args, **kwargs)
        self.smtp_class = smtp_class
        self.sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        server = self.smtp_class(self.handler, **self.SMTP_kwargs)
        self.sessions.append(server)
        return server

    def _trigger_server(self):
        # Listening on port 0 picks a free port; learn it before the start-up probe connects.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class FakeSmtpServer:
    """An SMTP server on 127.0.0.1 in a background thread; use as a context manager.

    `security` mirrors the provider's setting: "starttls" (STARTTLS required),
    "ssl" (implicit TLS) or "plain". With `credentials` AUTH is required.
    """

    def __init__(
        self,
        security: str = "starttls",
        *,
        certificate: SelfSignedCertificate | None = None,
        credentials: tuple[str, str] | None = None,
        smtputf8: bool = True,
    ):
        if security != "plain" and certificate is None:
            raise ValueError(f"security={security!r} needs a certificate")
        self.handler = RecordingHandler()
        kwargs: dict = {"server_hostname": SERVER_NAME, "enable_SMTPUTF8": smtputf8}
        smtp_class = SMTP
        if security == "starttls":
            kwargs.update(tls_context=certificate.server_context(), require_starttls=True)
        elif security == "ssl":
            kwargs.update(ssl_context=certificate.server_context())
            smtp_class = _ImplicitTlsSMTP
        elif security != "plain":
            raise ValueError(f"unknown security {security!r}")
        self.authenticator = SingleUserAuthenticator(*credentials) if credentials else None
        if self.authenticator:
            kwargs.update(authenticator=self.authenticator, auth_required=True)
        self._controller = _Controller(
            self.handler, hostname="127.0.0.1", port=0, smtp_class=smtp_class, **kwargs
        )

    @property
    def host(self) -> str:
        return self._controller.hostname

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages

    @property
    def connections(self) -> int:
        """How many connections said EHLO (the controller's start-up probe does not)."""
        return len(self.handler.peers)

    def start(self) -> FakeSmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        # aiosmtpd's stop() leaves open connections behind; abort them first.
        self._close_sessions(abort=True)
        self._controller.stop()

    def drop_connections(self) -> None:
        """Close every open session from the server side, as an idle timeout would."""
        self._close_sessions(abort=False)

    def _close_sessions(self, *, abort: bool) -> None:
        done = threading.Event()

        def close_all():
            for session in self._controller.sessions:
                if session.transport is None:
                    continue
                if abort:
                    session.transport.abort()
                else:
                    session.transport.close()
            done.set()

        self._controller.loop.call_soon_threadsafe(close_all)
        assert done.wait(5), "the server loop did not close its sessions"

    def __enter__(self) -> FakeSmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class GreetingServer:
    """A listener that answers every connection with one greeting line and hangs up.

    For the connect stage: "421 4.3.2 too busy" or "554 5.7.1 no service".
    """

    def __init__(self, greeting: str):
        self.greeting = greeting.encode() + b"\r\n"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.host, self.port = self._listener.getsockname()[:2]

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                connection.sendall(self.greeting)

    def __enter__(self) -> GreetingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._listener.close()
