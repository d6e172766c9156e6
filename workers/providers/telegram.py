"""Telegram messages through the Bot API's sendMessage, every failure turned into a TransientError or PermanentError.

The bot token is part of every request's path (`/bot<token>/sendMessage`), so
no URL, and no exception of requests or urllib3 (which quote the URL), ever
leaves this module: errors carry Herald's own words, raised `from None`.
"""

from __future__ import annotations

import logging
import threading

import requests
import urllib3
from requests.adapters import HTTPAdapter

from common.channels.telegram import mask_chat
from common.config import TelegramSettings
from workers.providers.base import (DeliveryRequest, PermanentError, Receipt, TransientError,
                                    retry_after_seconds)

log = logging.getLogger(__name__)

# The Bot API's `description` of a 400 that names a chat the bot cannot reach.
CHAT_NOT_FOUND = "chat not found"
# Unauthorized (a revoked token), or Not Found (a token of the wrong shape):
# the bot's credentials, not this chat, are wrong.
AUTH_STATUSES = frozenset({401, 404})


class TelegramProvider:
    """Sends one message per `send()`; safe to call from many threads (one session each)."""

    def __init__(self, settings: TelegramSettings, *, timeout: float, retry_after_cap: float):
        token = settings.bot_token.get_secret_value() if settings.bot_token else ""
        self._send_url = f"{settings.api_base.rstrip('/')}/bot{token}/sendMessage"
        self.timeout = timeout
        self.retry_after_cap = retry_after_cap
        self._setup_problem = None if token else "TELEGRAM_BOT_TOKEN is empty"
        self._auth_rejected: str | None = None
        # requests does not promise that a Session is thread-safe: each pool
        # thread keeps its own, with its one kept-alive connection.
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    def credential_problem(self) -> str | None:
        """What stops this bot from sending: no token, or the Bot API's last refusal of it."""
        return self._setup_problem or self._auth_rejected

    def send(self, request: DeliveryRequest) -> Receipt:
        chat = mask_chat(request.recipient)
        if self._setup_problem:
            raise TransientError("telegram_misconfigured", self._setup_problem)
        payload = {"chat_id": _chat_id(request.recipient), "text": request.body}
        try:
            response = self._session().post(self._send_url, json=payload, timeout=self.timeout)
        except requests.RequestException as error:
            raise self._network_error(error, request, chat) from None

        answer = _json(response)
        if response.status_code == 200 and answer.get("ok") is True:
            self._auth_rejected = None
            message_id = _message_id(answer)
            log.info("telegram accepted %s to %s as message %s", request.notification_id, chat, message_id)
            return Receipt(provider_message_id=message_id)
        raise self._failure(response.status_code, answer, request, chat)

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # No urllib3 retries: one send is one request, and Herald's retry policy decides.
            adapter = HTTPAdapter(max_retries=0, pool_connections=1, pool_maxsize=1)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def _network_error(self, error: requests.RequestException, request: DeliveryRequest,
                       chat: str) -> TransientError:
        if _timed_out(error):
            log.warning("telegram did not answer within %ss for %s to %s",
                        self.timeout, request.notification_id, chat)
            return TransientError("telegram_timeout", f"no answer from the Bot API within {self.timeout}s")
        # Refused, reset, DNS, TLS. The exception's text quotes the URL, and so the token.
        log.warning("telegram unreachable for %s to %s: %s", request.notification_id, chat,
                    type(error).__name__)
        return TransientError("telegram_connection_error",
                              f"the Bot API is unreachable: {type(error).__name__}")

    def _failure(self, status: int, answer: dict, request: DeliveryRequest, chat: str) -> Exception:
        description = str(answer.get("description") or f"HTTP {status}")[:300]
        parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
        context = f"{request.notification_id} to {chat}: HTTP {status}: {description}"

        if status == 403:  # blocked by the user, kicked from the group, the user deleted
            log.warning("telegram refused %s", context)
            return PermanentError("telegram_bot_blocked", description)
        if status == 400 and CHAT_NOT_FOUND in description.lower():
            log.warning("telegram refused %s", context)
            return PermanentError("telegram_chat_not_found", description)
        if status == 400 and "migrate_to_chat_id" in parameters:
            # The new id is the recipient's address: said to exist, not quoted.
            log.warning("telegram refused %s", context)
            return PermanentError("telegram_chat_migrated",
                                  "the group became a supergroup with a new chat id; send to that id")
        if status == 429:
            retry_after = retry_after_seconds(str(parameters.get("retry_after") or ""), self.retry_after_cap)
            log.warning("telegram throttled %s (retry after %ss)", context, retry_after)
            return TransientError("telegram_throttled", description, retry_after=retry_after)
        if status in AUTH_STATUSES:
            self._auth_rejected = f"the Bot API rejected the bot token (HTTP {status}: {description})"
            log.error("TELEGRAM AUTHENTICATION FAILED (HTTP %s: %s): check TELEGRAM_BOT_TOKEN; "
                      "%s will be retried", status, description, request.notification_id)
            return TransientError("telegram_auth_failed", self._auth_rejected)
        if status >= 500:
            log.warning("telegram unavailable for %s", context)
            return TransientError("telegram_unavailable", description)
        if 400 <= status < 500:  # the message itself: too long, empty, not allowed in this chat
            log.warning("telegram refused %s", context)
            return PermanentError(f"telegram_{status}", description)
        # A 200 that is not `ok`, a redirect we do not follow: not the recipient's fault.
        log.warning("telegram answered unexpectedly for %s", context)
        return TransientError("telegram_unexpected_response", description)


def _chat_id(chat: str) -> int | str:
    """A numeric chat id travels as a JSON number, as the Bot API documents it; a username as text."""
    return chat if chat.startswith("@") else int(chat)


def _json(response: requests.Response) -> dict:
    """The Bot API's JSON answer, or {} for anything else (a proxy's HTML page)."""
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _message_id(answer: dict) -> str | None:
    # Telegram accepted the message; a result we cannot read must not turn into a retry (a repeat).
    result = answer.get("result")
    message_id = result.get("message_id") if isinstance(result, dict) else None
    if message_id is None:
        log.warning("telegram accepted a message but its answer carried no message_id")
        return None
    return str(message_id)


def _timed_out(error: requests.RequestException) -> bool:
    # A read that stalls after the headers surfaces as a ConnectionError
    # wrapping urllib3's ReadTimeoutError, not as requests.Timeout.
    if isinstance(error, requests.Timeout):
        return True
    return any(isinstance(arg, urllib3.exceptions.TimeoutError) for arg in error.args)


def from_settings(config, channel: str) -> TelegramProvider:
    """The telegram channel's vendor, as the channel registry builds it."""
    return TelegramProvider(config.telegram, timeout=config.provider_timeout,
                            retry_after_cap=config.retry_after_cap)
