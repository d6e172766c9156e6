"""SMTP failures as delivery errors: a reply code or a network failure becomes TransientError or PermanentError.

4xx replies and anything on the network are worth a retry; 5xx replies are final.
Codes are stable (`smtp_550`, `smtp_timeout`, ...): alerts and callers read them.
"""

from __future__ import annotations

import smtplib

from workers.providers.base import DeliveryError, PermanentError, TransientError


def classify(error: BaseException) -> DeliveryError | None:
    """The domain error for an smtplib or network failure; None for anything else (a bug)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()))
        return by_reply_code(code, reply)
    if isinstance(error, smtplib.SMTPResponseException):
        return by_reply_code(error.smtp_code, error.smtp_error)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        # smtplib reports socket timeouts as a disconnect; the cause tells them apart.
        if timed_out(error):
            return TransientError("smtp_timeout", f"no answer from the SMTP server in time ({error})")
        return TransientError("smtp_connection_error", f"the SMTP server closed the connection ({error})")
    if isinstance(error, TimeoutError):
        return TransientError("smtp_timeout", f"no answer from the SMTP server in time ({error})")
    if isinstance(error, OSError):  # refused, reset, unreachable, name lookup, TLS (ssl.SSLError)
        return TransientError("smtp_connection_error", f"{type(error).__name__}: {error}")
    if isinstance(error, smtplib.SMTPException):
        return TransientError("smtp_protocol_error", f"{type(error).__name__}: {error}")
    return None


def by_reply_code(code: int, reply: bytes | str) -> DeliveryError:
    message = f"{code} {reply_text(reply)}"
    if 400 <= code < 500:
        return TransientError(f"smtp_{code}", message)
    if 500 <= code < 600:
        return PermanentError(f"smtp_{code}", message)
    # smtplib uses -1 for a reply it could not parse.
    return TransientError("smtp_protocol_error", message)


def reply_code(error: Exception) -> int | None:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return next(iter(error.recipients.values()))[0]
    return getattr(error, "smtp_code", None)


def timed_out(error: BaseException) -> bool:
    cause = error.__cause__ or error.__context__
    return isinstance(cause, TimeoutError)


def reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
