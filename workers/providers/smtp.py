"""The email provider: sends a text + HTML message over SMTP with smtplib.

One connection per provider instance (one per worker process) is kept open
between deliveries. SMTP replies and network failures become TransientError
or PermanentError with stable codes; the mapping lives in `smtp_errors`.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate

from common.config import SmtpSettings
from common.channels.email import mask_email as mask_address
from workers.providers.base import DeliveryError, DeliveryRequest, PermanentError, Receipt, TransientError
from workers.providers.email_headers import (MAX_DISPLAY_NAME_BYTES, address_problem, mailbox, one_line,
                                             unstructured)
from workers.providers.smtp_errors import classify, reply_code, reply_text, timed_out

log = logging.getLogger(__name__)

# Non-ASCII text goes out quoted-printable or base64, so the message is 7-bit
# clean and any server takes it, with or without 8BITMIME.
_MESSAGE_POLICY = SMTP_POLICY.clone(cte_type="7bit")


class SmtpProvider:
    """Sends email through one SMTP server, keeping one connection open between messages."""

    def __init__(self, settings: SmtpSettings, *, timeout: float):
        configured = {"EMAIL_FROM": settings.from_address or ""}
        if settings.reply_to:
            configured["EMAIL_REPLY_TO"] = settings.reply_to
        for setting, address in configured.items():
            if problem := address_problem(address):
                raise ValueError(f"{setting} is not a usable email address: {problem}")
        if len((settings.from_name or "").encode()) > MAX_DISPLAY_NAME_BYTES:
            raise ValueError(f"EMAIL_FROM_NAME is longer than {MAX_DISPLAY_NAME_BYTES} bytes of UTF-8")
        self.settings = settings
        self.timeout = timeout
        self.domain = _message_id_domain(settings.from_address)
        self._tls = self._tls_context() if settings.security != "plain" else None
        self._smtp: smtplib.SMTP | None = None
        self._credential_problem: str | None = None
        if settings.security == "plain" and settings.username:
            log.warning("SMTP security is plain: the password for %s crosses the network unencrypted",
                        settings.username)

    def send(self, request: DeliveryRequest) -> Receipt:
        # The same on every attempt: a message repeated after a crash is one
        # the receiving side can recognise and drop, not a second email.
        message_id = f"<{request.notification_id}@{self.domain}>"
        masked = mask_address(request.recipient)
        if problem := address_problem(request.recipient):
            failure = PermanentError("smtp_invalid_address", f"the recipient address {problem}")
            self._log_failure(request, failure)
            raise failure
        message = self._compose(request, message_id)
        try:
            self._transmit(message, request.recipient)
        except DeliveryError as failure:
            self._log_failure(request, failure)
            raise
        except Exception as error:
            failure = classify(error)
            if failure is None:
                raise
            self._log_failure(request, failure)
            raise failure from error
        log.info("smtp %s to %s accepted as %s", request.notification_id, masked, message_id)
        return Receipt(provider_message_id=message_id)

    def credential_problem(self) -> str | None:
        """Why the last login failed, until a login succeeds; None when credentials are fine."""
        return self._credential_problem

    def close(self) -> None:
        """Say QUIT and close the kept connection, if any."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    # -- the message ----------------------------------------------------------

    def _compose(self, request: DeliveryRequest, message_id: str) -> EmailMessage:
        settings = self.settings
        # The service's sender settings travel on the row (api/notifications/planning.py).
        chosen = request.options or {}
        from_name = chosen.get("from_name") or settings.from_name
        reply_to = chosen.get("reply_to") or settings.reply_to
        message = EmailMessage(policy=_MESSAGE_POLICY)
        # Headers holding caller or configured text are built by email_headers,
        # never parsed from text (see there why).
        message["From"] = mailbox("From", settings.from_address, from_name)
        message["To"] = mailbox("To", request.recipient)
        if reply_to:
            message["Reply-To"] = mailbox("Reply-To", reply_to)
        if request.title and one_line(request.title):
            message["Subject"] = unstructured("Subject", request.title)
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id
        message.set_content(request.body)
        if request.html:
            message.add_alternative(request.html, subtype="html")
        return message

    # -- the conversation -----------------------------------------------------

    def _transmit(self, message: EmailMessage, recipient: str) -> None:
        sender = self.settings.from_address
        # Addresses outside ASCII need SMTPUTF8 (RFC 6531) end to end.
        international = not (sender + recipient).isascii()
        payload = message.as_bytes(policy=message.policy.clone(utf8=international))
        smtp = self._start_transaction(sender, international)
        try:
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
            code, reply = smtp.data(payload)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as refused:
            # The server is still talking to us: end the transaction, keep the connection.
            if reply_code(refused) == 421 or not self._reset():
                self._discard()
            raise
        except BaseException:
            # Timeouts, drops, anything unexpected: the connection's state is unknown.
            self._discard()
            raise

    def _start_transaction(self, sender: str, international: bool) -> smtplib.SMTP:
        """MAIL FROM on the kept connection, or on a new one if the kept one has dropped.

        Rather than probing with NOOP before every message (a round trip each
        time), MAIL is sent optimistically: a server that closed the idle
        connection shows up right there, as a disconnect or a 421, before it
        has anything of the message, so retrying once on a fresh connection
        cannot deliver the message twice.
        """
        if self._smtp is not None:
            try:
                code, reply = self._mail(sender, international)
            except smtplib.SMTPServerDisconnected as error:
                if timed_out(error):  # a stalled server is not a dropped connection
                    self._discard()
                    raise
                code, reply = None, b""
            except BaseException:
                self._discard()
                raise
            if code is not None and code != 421:
                return self._mail_accepted(code, reply, sender)
            log.info("smtp connection to %s:%s had dropped; reconnecting",
                     self.settings.host, self.settings.port)
            self._discard()
        self._smtp = self._connect()
        try:
            code, reply = self._mail(sender, international)
        except BaseException:
            self._discard()
            raise
        return self._mail_accepted(code, reply, sender)

    def _mail(self, sender: str, international: bool) -> tuple[int, bytes]:
        options: list[str] = []
        if international:
            if not self._smtp.has_extn("smtputf8"):
                raise PermanentError("smtp_utf8_unsupported",
                                     "the address is not ASCII and the server does not offer SMTPUTF8")
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        return self._smtp.mail(sender, options)

    def _mail_accepted(self, code: int, reply: bytes, sender: str) -> smtplib.SMTP:
        if code != 250:
            if code == 421 or not self._reset():
                self._discard()
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        # `timeout` is the socket timeout of every operation: connect, TLS handshake, each reply.
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=self.timeout, context=self._tls)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=self.timeout)
        try:
            smtp.ehlo_or_helo_if_needed()
            if settings.security == "starttls":
                if not smtp.has_extn("starttls"):
                    # Never fall back to plain text: that is what a downgrade attack looks like.
                    raise TransientError("smtp_connection_error",
                                         "the server does not offer STARTTLS; refusing to send unencrypted")
                smtp.starttls(context=self._tls)
                smtp.ehlo_or_helo_if_needed()
            if settings.username:
                self._login(smtp)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _login(self, smtp: smtplib.SMTP) -> None:
        settings = self.settings
        # Where, not as whom: the user name is often a mailbox address, and this text is logged.
        who = f"at {settings.host}:{settings.port}"
        try:
            smtp.login(settings.username, settings.password or "")
        except smtplib.SMTPServerDisconnected:
            raise  # a network failure, not a verdict on the credentials
        except smtplib.SMTPAuthenticationError as error:
            if 400 <= error.smtp_code < 500:
                raise  # the server's temporary trouble, not our credentials
            problem = f"SMTP login {who} rejected: {error.smtp_code} {reply_text(error.smtp_error)}"
        except smtplib.SMTPNotSupportedError:
            problem = f"SMTP login {who} impossible: the server does not offer AUTH"
        except smtplib.SMTPException as error:  # e.g. no mechanism in common
            problem = f"SMTP login {who} impossible: {error}"
        else:
            self._credential_problem = None
            return
        self._credential_problem = problem
        # Herald's misconfiguration, not the recipient's fault: retry the
        # notification, and make an operator fix SMTP_USERNAME / SMTP_PASSWORD.
        log.error("%s -- fix the SMTP credentials; email deliveries are being retried until then", problem)
        raise TransientError("smtp_auth_failed", problem)

    def _reset(self) -> bool:
        """RSET after a refusal; False when the connection is no longer usable."""
        try:
            return self._smtp is not None and self._smtp.rset()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _log_failure(self, request: DeliveryRequest, failure: DeliveryError) -> None:
        masked = mask_address(request.recipient)
        log.warning("smtp %s to %s failed: %s %s", request.notification_id, masked, failure.code,
                    failure.message.replace(request.recipient, masked))

    def _tls_context(self) -> ssl.SSLContext:
        # Verifies the certificate chain and the host name: against the
        # configured CA bundle when given, otherwise the system's trust store.
        return ssl.create_default_context(cafile=self.settings.ca_file)


def _message_id_domain(from_address: str) -> str:
    """The sender's domain, in ASCII as a Message-ID needs it."""
    domain = from_address.rpartition("@")[2]
    try:
        return domain.encode("idna").decode("ascii") or "localhost"
    except UnicodeError:
        return "localhost"


def from_settings(config, channel: str) -> SmtpProvider:
    """The email channel's vendor, as the channel registry builds it."""
    return SmtpProvider(config.smtp, timeout=config.provider_timeout)
