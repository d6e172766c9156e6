"""SMS through Twilio's Messages API, with every Twilio failure turned into a TransientError or a PermanentError."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from common.config import TwilioSettings
from common.channels.sms import mask_phone, twilio_receipt_url
from common.sms_segments import count_segments
from workers.providers.base import (DeliveryRequest, PermanentError, Receipt, TransientError,
                                    retry_after_seconds)

log = logging.getLogger(__name__)

# Refusals of this recipient (or of this sender for this recipient) that the
# next attempt would meet again. Checked before anything else, so they stay
# permanent whatever HTTP status carries them. See twilio.com/docs/api/errors.
PERMANENT_CODES = frozenset(
    {
        21211,  # invalid 'To' phone number
        21217,  # phone number does not appear to be valid
        21408,  # permission to send SMS not enabled for the 'To' region
        21606,  # 'From' is not a message-capable Twilio number for this destination
        21610,  # the recipient replied STOP: unsubscribed from this sender
        21612,  # Twilio cannot route between this 'To' and 'From'
        21614,  # 'To' is not a mobile number (a landline, or invalid)
        21660,  # 'From' does not belong to this account
    }
)
THROTTLED_CODE = 20429
AUTH_FAILED_CODE = 20003
# Twilio messaging service SIDs start so; any other sender is a phone number.
MESSAGING_SERVICE_PREFIX = "MG"

# A phone number inside free text (Twilio's messages quote the 'To' number);
# the lookarounds keep digits inside SIDs and URLs alone.
_PHONE_IN_TEXT = re.compile(r"(?<![\w/.])\+?\d{7,15}(?![\w/])")


class TwilioSmsProvider:
    def __init__(self, settings: TwilioSettings, *, timeout: float, retry_after_cap: float,
                 connections: int = 10):
        self.settings = settings
        self.timeout = timeout
        self.retry_after_cap = retry_after_cap
        self._http = _HttpClient(timeout=timeout, api_base=settings.api_base, connections=connections)
        # One client, and so one pooled requests.Session, for the provider's lifetime.
        self._client = Client(settings.account_sid, settings.auth_token, http_client=self._http)
        self._setup_problem = _setup_problem(settings)
        self._auth_rejected: str | None = None

    def credential_problem(self) -> str | None:
        """What stops this provider from sending: a missing or malformed setting,
        or Twilio's last refusal of the credentials (cleared by the next success).
        None when nothing is known to be wrong."""
        return self._setup_problem or self._auth_rejected

    def send(self, request: DeliveryRequest) -> Receipt:
        to = mask_phone(request.recipient)
        if self._setup_problem:
            log.error("twilio is misconfigured, not sending %s: %s", request.notification_id, self._setup_problem)
            raise TransientError("twilio_misconfigured", self._setup_problem)
        try:
            message = self._client.messages.create(
                to=request.recipient,
                body=request.body,
                status_callback=self._status_callback(request),
                **self._sender(request),
            )
        # `from None` throughout: the library's exceptions quote the full phone
        # number, and a chained traceback would carry it into the logs.
        except (TwilioRestException, TwilioServiceException) as error:
            raise self._rest_error(error, request, to) from None
        except requests.RequestException as error:
            if _timed_out(error):
                log.warning("twilio did not answer within %ss for %s to %s", self.timeout, request.notification_id, to)
                raise TransientError("twilio_timeout", f"no answer from Twilio within {self.timeout}s") from None
            # Refused, reset, DNS, TLS.
            detail = _scrub(f"{type(error).__name__}: {error}")
            log.warning("twilio unreachable for %s to %s: %s", request.notification_id, to, detail)
            raise TransientError("twilio_connection_error", detail) from None

        self._auth_rejected = None
        segments = _reported_segments(message.num_segments) or count_segments(request.body)[1]
        log.info(
            "twilio accepted %s to %s as %s (status=%s, segments=%d)",
            request.notification_id, to, message.sid, message.status, segments,
        )
        return Receipt(provider_message_id=message.sid, segments=segments)

    def _sender(self, request: DeliveryRequest) -> dict[str, str]:
        # The service's own sender, carried on the row (checked against SMS_SENDERS when saved).
        if chosen := (request.options or {}).get("sender"):
            if chosen.startswith(MESSAGING_SERVICE_PREFIX):
                return {"messaging_service_sid": chosen}
            return {"from_": chosen}
        # A Messaging Service picks the sender from its pool (and handles
        # geo-matching and opt-outs), so it wins when both are configured.
        if self.settings.messaging_service_sid:
            return {"messaging_service_sid": self.settings.messaging_service_sid}
        return {"from_": self.settings.from_number}

    def _status_callback(self, request: DeliveryRequest) -> str | None:
        base = self.settings.public_base_url
        if not base:
            return None  # the library leaves None out of the form
        return twilio_receipt_url(base, request.notification_id)

    def _rest_error(self, error, request: DeliveryRequest, to: str):
        status = error.status
        code = error.code if error.code is not None else status
        detail = _scrub(getattr(error, "msg", None) or getattr(error, "detail", None) or getattr(error, "title", ""))
        context = f"{request.notification_id} to {to}: HTTP {status}, code {code}: {detail}"

        if code in PERMANENT_CODES:
            log.warning("twilio refused %s", context)
            return PermanentError(f"twilio_{code}", detail)
        if code == THROTTLED_CODE or status == 429:
            retry_after = retry_after_seconds(self._http.last_headers().get("Retry-After"),
                                              self.retry_after_cap)
            log.warning("twilio throttled %s (retry after %ss)", context, retry_after)
            return TransientError("twilio_throttled", detail, retry_after=retry_after)
        if status == 401 or code == AUTH_FAILED_CODE:
            account = self.settings.account_sid
            self._auth_rejected = f"Twilio rejected the credentials of account {account} (code {code})"
            log.error(
                "TWILIO AUTHENTICATION FAILED for account %s (HTTP %s, code %s): check TWILIO_ACCOUNT_SID and "
                "TWILIO_AUTH_TOKEN; %s will be retried",
                account, status, code, request.notification_id,
            )
            return TransientError("twilio_auth_failed", detail)
        if status >= 500:
            log.warning("twilio unavailable for %s", context)
            return TransientError("twilio_unavailable", detail)
        if 400 <= status < 500:
            log.warning("twilio refused %s", context)
            return PermanentError(f"twilio_{code}", detail)
        # Neither 2xx nor an error status (a redirect we do not follow): not the recipient's fault.
        log.warning("twilio answered unexpectedly for %s", context)
        return TransientError("twilio_unavailable", detail)


class _HttpClient(TwilioHttpClient):
    """The library's own HTTP client, with three additions.

    - An explicit timeout on every request (connect, and each read).
    - `api_base`: every request goes there instead of https://api.twilio.com.
      Twilio's documented way to change where requests go is a custom
      http_client (twilio-python's custom-http-client guide; Twilio support's
      answer in twilio-python#521). Rewriting here, after the client has
      applied any region or edge, covers every Twilio domain; setting a
      domain's `base_url` would be an undocumented attribute on one domain.
    - The last response per thread: TwilioRestException keeps the status and
      code but drops the headers, and Retry-After lives there.
    The library never retries (requests' adapters default to no retries).
    """

    def __init__(self, *, timeout: float, api_base: str | None, connections: int):
        super().__init__(timeout=timeout)
        # The library keeps min(32, CPUs + 4) connections: one per send in flight instead.
        adapter = HTTPAdapter(pool_maxsize=connections)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._base = urlsplit(api_base.rstrip("/")) if api_base else None
        self._local = threading.local()

    def request(self, method, url, *args, **kwargs):
        self._local.response = None
        if self._base is not None:
            target = urlsplit(url)
            url = urlunsplit(
                (self._base.scheme, self._base.netloc, self._base.path + target.path, target.query, target.fragment)
            )
        response = super().request(method, url, *args, **kwargs)
        self._local.response = response
        return response

    def last_headers(self) -> Mapping[str, str]:
        response = getattr(self._local, "response", None)
        return response.headers if response is not None and response.headers is not None else {}


def _scrub(text: str) -> str:
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text or "")


def _setup_problem(settings: TwilioSettings) -> str | None:
    if not settings.account_sid or not settings.account_sid.startswith("AC"):
        return "TWILIO_ACCOUNT_SID must be an account SID (AC...)"
    if not settings.auth_token:
        return "TWILIO_AUTH_TOKEN is empty"
    if not (settings.from_number or settings.messaging_service_sid):
        return "set TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"
    return None


def _timed_out(error: requests.RequestException) -> bool:
    # A read that stalls after the headers surfaces as a ConnectionError
    # wrapping urllib3's ReadTimeoutError, not as requests.Timeout.
    if isinstance(error, requests.Timeout):
        return True
    return any(isinstance(arg, urllib3.exceptions.TimeoutError) for arg in error.args)


def _reported_segments(value) -> int | None:
    """Twilio's num_segments (a string), or None when absent or not yet counted ("0")."""
    try:
        segments = int(value)
    except (TypeError, ValueError):
        return None
    return segments if segments > 0 else None




def from_settings(config, channel: str) -> TwilioSmsProvider:
    """The SMS channel's vendor, as the channel registry builds it."""
    return TwilioSmsProvider(config.twilio, timeout=config.provider_timeout,
                             retry_after_cap=config.retry_after_cap,
                             connections=config.worker_concurrency)
