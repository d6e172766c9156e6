"""The push provider: Firebase Cloud Messaging (HTTP v1) with a service account.

pyfcm builds the v1 message (`parse_payload`); the one HTTP request per send
is made here. pyfcm's own `notify()` would retry 502/503 through urllib3, sleep
for any Retry-After and send again (uncapped, even with `max_retries=0`),
refresh the OAuth token with google-auth's default 120 s timeout, and fold
FCM's errorCode and Retry-After into exception text. Herald's retry policy
decides instead, from the codes and Retry-After mapped below.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from datetime import datetime, timezone

import google.auth.transport.requests
import requests
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2 import service_account
from pyfcm import FCMNotification
from requests.adapters import HTTPAdapter

from common.config import FcmSettings
from common.channels.push import mask_push_token
from workers.providers.base import (DeliveryRequest, PermanentError, Receipt, TransientError,
                                    retry_after_seconds)

log = logging.getLogger(__name__)

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"

# FCM's own verdict (details[].errorCode) -> Herald's code. Only these are permanent.
_PERMANENT = {
    "UNREGISTERED": "fcm_unregistered",
    "INVALID_ARGUMENT": "fcm_invalid_argument",
    "SENDER_ID_MISMATCH": "fcm_sender_id_mismatch",
}
# When FCM names no errorCode, the HTTP status implies one (a 400 carrying
# only google.rpc.BadRequest is still an invalid message). A bare 404 is left
# out on purpose: a wrong project or endpoint must not fail every token for good.
_IMPLIED_BY_STATUS = {400: "INVALID_ARGUMENT", 429: "QUOTA_EXCEEDED", 500: "INTERNAL", 503: "UNAVAILABLE"}


class FcmProvider:
    """Sends one push per `send()`; every failure becomes a TransientError or PermanentError."""

    def __init__(self, settings: FcmSettings, *, timeout: float, retry_after_cap: float,
                 connections: int = 10):
        self.project_id = settings.project_id
        self.timeout = timeout
        self.retry_after_cap = retry_after_cap
        self._credentials = _load_credentials(settings)
        self._fcm = FCMNotification(credentials=self._credentials, project_id=settings.project_id)
        # settings.project_id decides: pyfcm would prefer the service account's own project.
        base = FCMNotification.FCM_END_POINT_BASE
        if settings.endpoint:  # an emulator or a test server instead of Google
            base = f"{settings.endpoint.rstrip('/')}/v1/projects"
        self.send_url = f"{base}/{settings.project_id}/messages:send"

        # No urllib3 retries: one send is one request, for FCM and the token endpoint alike.
        # One kept-alive connection per delivery in flight (`connections`, the
        # pool's concurrency): fewer, and every send beyond them opens and
        # drops a connection of its own.
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_maxsize=connections)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._token_request = functools.partial(
            google.auth.transport.requests.Request(self._session), timeout=timeout
        )
        self._token_lock = threading.Lock()
        self._credential_problem: str | None = None

    def credential_problem(self) -> str | None:
        """Why the last send could not authenticate, or None once FCM accepts the credentials again."""
        return self._credential_problem

    def send(self, request: DeliveryRequest) -> Receipt:
        device = mask_push_token(request.recipient)
        payload = self._fcm.parse_payload(
            fcm_token=request.recipient,
            notification_title=request.title,
            notification_body=request.body,
            data_payload=_string_values(request.data),
            android_config=_android_config(request),
            apns_config=_apns_config(request),
        )
        access_token = self._access_token(device)
        headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"}
        try:
            response = self._session.post(self.send_url, data=payload, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            raise _network_error(error, "FCM") from error

        if response.ok:
            self._credential_problem = None
            return Receipt(provider_message_id=_message_name(response))
        raise self._failure(response, device, access_token)

    def _access_token(self, device: str) -> str:
        """The cached OAuth token, exchanged again (within the timeout) when missing or about to expire."""
        with self._token_lock:
            if not self._credentials.valid:
                try:
                    self._credentials.refresh(self._token_request)
                except RefreshError as error:
                    problem = f"the OAuth token exchange was refused: {error.args[0]}"
                    raise self._auth_failed(problem, device) from error
                except TransportError as error:  # not the credentials' fault: no credential problem
                    raise _network_error(error.__cause__, "the OAuth token endpoint") from error
            return self._credentials.token

    def _failure(self, response: requests.Response, device: str, access_token: str) -> Exception:
        error = _google_error(response)
        status = response.status_code
        verdict = _fcm_error_code(error)
        fcm_code = verdict or _IMPLIED_BY_STATUS.get(status)
        reason = fcm_code or error.get("status") or ""
        detail = f"FCM {status} {reason}: {str(error.get('message', ''))[:300]}"

        if fcm_code == "THIRD_PARTY_AUTH_ERROR":
            # Not our service account: the APNs or web push credentials held by Firebase.
            log.error("Firebase's APNs/web push credentials were rejected (%s); push to %s not sent",
                      detail, device)
            return TransientError("fcm_third_party_auth_failed", detail)
        if status == 401:
            self._forget_token(access_token)
            return self._auth_failed(f"FCM rejected the access token ({detail})", device)
        if verdict:
            self._credential_problem = None  # FCM judged the message, so it accepted our token
        if fcm_code in _PERMANENT:
            return PermanentError(_PERMANENT[fcm_code], detail)
        if status == 403:
            return self._auth_failed(f"the service account may not send for this project ({detail})", device)

        retry_after = retry_after_seconds(response.headers.get("Retry-After"), self.retry_after_cap)
        if fcm_code == "QUOTA_EXCEEDED":
            return TransientError("fcm_throttled", detail, retry_after)
        if fcm_code in ("UNAVAILABLE", "INTERNAL") or status >= 500:
            return TransientError("fcm_unavailable", detail, retry_after)
        return TransientError("fcm_unexpected_response", detail, retry_after)

    def _auth_failed(self, problem: str, device: str) -> TransientError:
        account = getattr(self._credentials, "service_account_email", "?")
        self._credential_problem = (
            f"FCM authentication failed for {account} (project {self.project_id}): {problem}"
        )
        log.error("%s; push to %s not sent", self._credential_problem, device)
        return TransientError("fcm_auth_failed", self._credential_problem)

    def _forget_token(self, access_token: str) -> None:
        # The next send exchanges a fresh token instead of repeating a rejected one.
        with self._token_lock:
            if self._credentials.token == access_token:
                self._credentials.token = None


def _load_credentials(settings: FcmSettings) -> service_account.Credentials:
    if bool(settings.credentials_file) == bool(settings.credentials_json):
        raise ValueError("FCM needs exactly one of credentials_file and credentials_json")
    try:
        if settings.credentials_file:
            return service_account.Credentials.from_service_account_file(
                settings.credentials_file, scopes=[FCM_SCOPE]
            )
        info = json.loads(settings.credentials_json)
        return service_account.Credentials.from_service_account_info(info, scopes=[FCM_SCOPE])
    except (OSError, ValueError) as error:
        # The messages name the file or the missing field, never the key.
        raise ValueError(
            f"FCM service-account credentials could not be loaded: {type(error).__name__}: {error}"
        ) from error


def _collapse_identity(request: DeliveryRequest) -> str:
    """The caller's collapse_key, else the notification id (36 bytes, within APNs' 64).

    A push repeated after a crash then replaces the first on the device
    instead of showing twice.
    """
    return (request.options or {}).get("collapse_key") or str(request.notification_id)


def _android_config(request: DeliveryRequest) -> dict:
    options = request.options or {}
    config = {"priority": "high" if request.priority == "critical" else "normal"}
    if options.get("ttl_seconds") is not None:
        config["ttl"] = f"{int(options['ttl_seconds'])}s"
    if options.get("collapse_key"):
        # Only the caller's: FCM keeps at most four collapse keys per device, so
        # one per notification would drop messages waiting for an offline phone.
        config["collapse_key"] = options["collapse_key"]
    # The tag replaces a shown notification with the same tag, without that limit.
    config["notification"] = {"tag": _collapse_identity(request)}
    return config


def _apns_config(request: DeliveryRequest) -> dict:
    options = request.options or {}
    headers = {"apns-priority": "10" if request.priority == "critical" else "5"}
    if options.get("ttl_seconds") is not None:
        ttl = int(options["ttl_seconds"])
        # APNs wants an absolute UNIX time; 0 means "deliver once, do not store".
        expires = 0 if ttl == 0 else int(datetime.now(timezone.utc).timestamp()) + ttl
        headers["apns-expiration"] = str(expires)
    headers["apns-collapse-id"] = _collapse_identity(request)
    return {"headers": headers}


def _string_values(data: dict | None) -> dict | None:
    """FCM data is a map of strings: other values travel as JSON (3 -> "3", True -> "true")."""
    if not data:
        return None
    return {str(key): value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
            for key, value in data.items()}


def _network_error(error: BaseException | None, what: str) -> TransientError:
    if isinstance(error, requests.Timeout):
        return TransientError("fcm_timeout", f"{what} did not answer in time")
    return TransientError("fcm_connection_error", f"{what} is unreachable: {type(error).__name__}")


def _google_error(response: requests.Response) -> dict:
    """The `error` object of Google's JSON error body, or {} for anything else (a proxy's HTML page)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _fcm_error_code(error: dict) -> str | None:
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and detail.get("@type", "").endswith("google.firebase.fcm.v1.FcmError"):
            return detail.get("errorCode")
    return None


def _message_name(response: requests.Response) -> str | None:
    # FCM accepted the message; a body we cannot read must not turn into a retry (a duplicate push).
    try:
        return response.json().get("name")
    except (ValueError, AttributeError):
        log.warning("FCM accepted a message but its response carried no message name")
        return None


def from_settings(config, channel: str) -> FcmProvider:
    """The push channel's vendor, as the channel registry builds it."""
    return FcmProvider(config.fcm, timeout=config.provider_timeout, retry_after_cap=config.retry_after_cap,
                       connections=config.worker_concurrency)
