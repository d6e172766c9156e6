"""The FCM provider: real pyfcm, google-auth and requests against a local FCM v1 API and token endpoint."""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from dataclasses import replace
from email.utils import formatdate

import pytest

from common.config import FcmSettings
from tests.support import fake_fcm
from tests.support.fake_fcm import FakeFcm, Hang, ServiceAccount
from workers.providers.base import DeliveryRequest, PermanentError, TransientError
from workers.providers.fcm import FcmProvider

DEVICE = "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"
TIMEOUT = 0.5
CAP = 30.0


@pytest.fixture(scope="module")
def account():
    return ServiceAccount.generate()  # RSA key generation is the slow part: once per module


@pytest.fixture
def fcm(account):
    with FakeFcm() as server:
        server.tokens.trust(account)
        yield server


@pytest.fixture
def settings(fcm, account, tmp_path):
    return fcm.settings_file(account, tmp_path)


@pytest.fixture
def provider(settings):
    return FcmProvider(settings, timeout=TIMEOUT, retry_after_cap=CAP)


def push(recipient: str = DEVICE, *, priority: str = "normal", options: dict | None = None,
         data: dict | None = None) -> DeliveryRequest:
    return DeliveryRequest(
        notification_id=uuid.uuid4(), channel="push", recipient=recipient, title="Your order",
        body="It has shipped", html=None, data=data, priority=priority, attempt=1, options=options,
    )


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


# --- success, authentication and the token cache -----------------------------------------------

def test_a_send_carries_a_token_from_a_verified_exchange(fcm, account, provider):
    receipt = provider.send(push())

    assert receipt.provider_message_id == "projects/herald-test/messages/1"
    [claims] = fcm.tokens.requests  # the fake verified the RS256 signature before issuing
    assert claims["iss"] == account.client_email
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    [sent] = fcm.messages.sends
    assert sent.project == "herald-test"
    assert sent.bearer == fcm.tokens.issued[0]


def test_the_access_token_is_reused_across_sends(fcm, provider):
    receipts = [provider.send(push()) for _ in range(3)]

    assert [r.provider_message_id for r in receipts] == [f"projects/herald-test/messages/{n}" for n in (1, 2, 3)]
    assert len(fcm.tokens.requests) == 1
    assert {s.bearer for s in fcm.messages.sends} == {fcm.tokens.issued[0]}


def test_credentials_given_as_json_text_work_like_a_file(fcm, account):
    provider = FcmProvider(fcm.settings_json(account), timeout=TIMEOUT, retry_after_cap=CAP)

    assert provider.send(push()).provider_message_id == "projects/herald-test/messages/1"
    assert fcm.messages.sends[0].bearer == fcm.tokens.issued[0]


@pytest.mark.parametrize("credentials", [{}, {"credentials_file": "a.json", "credentials_json": "{}"}])
def test_exactly_one_source_of_credentials_is_required(credentials):
    with pytest.raises(ValueError, match="exactly one"):
        FcmProvider(FcmSettings(project_id="p", **credentials), timeout=1, retry_after_cap=1)


def test_unreadable_credentials_fail_at_construction_without_echoing_them():
    secret = '{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\nc2VjcmV0\\n"'
    with pytest.raises(ValueError, match="could not be loaded") as caught:
        FcmProvider(FcmSettings(project_id="p", credentials_json=secret), timeout=1, retry_after_cap=1)
    assert "c2VjcmV0" not in str(caught.value)


# --- the message -------------------------------------------------------------------------------

def test_a_critical_push_asks_for_immediate_delivery_with_ttl_and_collapse_key(fcm, provider):
    before = int(time.time())
    provider.send(push(priority="critical", options={"ttl_seconds": 600, "collapse_key": "order-42"},
                       data={"order": "42", "count": 3, "gift": True}))

    message = fcm.messages.sends[0].message
    assert message["token"] == DEVICE
    assert message["notification"] == {"title": "Your order", "body": "It has shipped"}
    assert message["data"] == {"order": "42", "count": "3", "gift": "true"}
    assert message["android"] == {"priority": "high", "ttl": "600s", "collapse_key": "order-42",
                                  "notification": {"tag": "order-42"}}
    apns = message["apns"]["headers"]
    assert apns["apns-priority"] == "10"
    assert apns["apns-collapse-id"] == "order-42"
    assert before + 600 <= int(apns["apns-expiration"]) <= int(time.time()) + 600


def test_a_normal_push_without_options_collapses_on_its_notification_id(fcm, provider):
    request = push()
    provider.send(request)

    message = fcm.messages.sends[0].message
    assert "data" not in message
    # No Android collapse_key: FCM keeps only four per device for an offline phone.
    assert message["android"] == {"priority": "normal", "notification": {"tag": str(request.notification_id)}}
    assert message["apns"] == {"headers": {"apns-priority": "5", "apns-collapse-id": str(request.notification_id)}}
    assert fcm.messages.sends[0].body["validate_only"] is False


def test_every_attempt_of_a_push_carries_the_same_collapse_identity(fcm, provider):
    first = push()
    provider.send(first)
    provider.send(replace(first, attempt=2))
    provider.send(push())

    identities = [(s.message["apns"]["headers"]["apns-collapse-id"], s.message["android"]["notification"]["tag"])
                  for s in fcm.messages.sends]
    assert identities[0] == identities[1] == (str(first.notification_id),) * 2
    assert identities[2] != identities[0]
    assert len(identities[0][0].encode()) <= 64  # APNs' limit for apns-collapse-id


def test_a_zero_ttl_means_now_or_never(fcm, provider):
    provider.send(push(options={"ttl_seconds": 0}))

    message = fcm.messages.sends[0].message
    assert message["android"]["ttl"] == "0s"
    assert message["apns"]["headers"]["apns-expiration"] == "0"


# --- failures ----------------------------------------------------------------------------------

def scripted(reply):
    """The fake answers the device's next send with `reply`."""
    def arrange(fcm, settings):
        fcm.messages.script(DEVICE, reply)
        return settings
    return arrange


def unreachable_fcm(fcm, settings):
    return settings.model_copy(update={"endpoint": closed_port_url()})


def unknown_key(fcm, settings):
    fcm.tokens.forget_keys()
    return settings


# mode, arrangement, error class, code, retry_after (cap = 30 s, timeout = 0.5 s)
FAILURE_TABLE = [
    ("UNREGISTERED (404)", scripted(fake_fcm.UNREGISTERED), PermanentError, "fcm_unregistered", None),
    ("INVALID_ARGUMENT (400)", scripted(fake_fcm.INVALID_ARGUMENT), PermanentError, "fcm_invalid_argument", None),
    ("SENDER_ID_MISMATCH (403)", scripted(fake_fcm.SENDER_ID_MISMATCH), PermanentError, "fcm_sender_id_mismatch",
     None),
    ("QUOTA_EXCEEDED (429), Retry-After: 2", scripted(fake_fcm.quota_exceeded("2")), TransientError,
     "fcm_throttled", 2),
    ("QUOTA_EXCEEDED (429), Retry-After: 3600 (over the cap)", scripted(fake_fcm.quota_exceeded("3600")),
     TransientError, "fcm_throttled", CAP),
    ("QUOTA_EXCEEDED (429), no Retry-After", scripted(fake_fcm.quota_exceeded()), TransientError, "fcm_throttled",
     None),
    ("UNAVAILABLE (503), Retry-After: 5", scripted(fake_fcm.unavailable("5")), TransientError, "fcm_unavailable", 5),
    ("UNAVAILABLE (503), no Retry-After", scripted(fake_fcm.UNAVAILABLE), TransientError, "fcm_unavailable", None),
    ("INTERNAL (500)", scripted(fake_fcm.INTERNAL), TransientError, "fcm_unavailable", None),
    ("502 without a Google error body", scripted(fake_fcm.Reply(502, {"html": "Bad Gateway"})), TransientError,
     "fcm_unavailable", None),
    ("THIRD_PARTY_AUTH_ERROR (401, APNs/web push credentials)", scripted(fake_fcm.THIRD_PARTY_AUTH_ERROR),
     TransientError, "fcm_third_party_auth_failed", None),
    ("401 UNAUTHENTICATED on send", scripted(fake_fcm.UNAUTHENTICATED), TransientError, "fcm_auth_failed", None),
    ("403 PERMISSION_DENIED, no FCM errorCode", scripted(fake_fcm.PERMISSION_DENIED), TransientError,
     "fcm_auth_failed", None),
    ("404 NOT_FOUND, no FCM errorCode (wrong project/endpoint)",
     scripted(fake_fcm.fcm_error(404, "NOT_FOUND", "Requested entity was not found.")), TransientError,
     "fcm_unexpected_response", None),
    ("token exchange refused (invalid_grant)", unknown_key, TransientError, "fcm_auth_failed", None),
    ("no answer within the timeout", scripted(Hang(10)), TransientError, "fcm_timeout", None),
    ("connection refused", unreachable_fcm, TransientError, "fcm_connection_error", None),
]


@pytest.mark.parametrize(
    ("arrange", "error_class", "code", "retry_after"),
    [pytest.param(*row[1:], id=row[0]) for row in FAILURE_TABLE],
)
def test_failure_table(fcm, settings, arrange, error_class, code, retry_after):
    provider = FcmProvider(arrange(fcm, settings), timeout=TIMEOUT, retry_after_cap=CAP)

    with pytest.raises(error_class) as caught:
        provider.send(push())

    assert type(caught.value) is error_class
    assert caught.value.code == code
    assert getattr(caught.value, "retry_after", None) == retry_after
    assert DEVICE not in caught.value.message
    assert len(fcm.messages.sends) <= 1


@pytest.mark.parametrize(
    "reply",
    [fake_fcm.unavailable("2"), fake_fcm.UNAVAILABLE, fake_fcm.Reply(502, {}), fake_fcm.quota_exceeded("2")],
    ids=["503 Retry-After: 2", "503", "502", "429 Retry-After: 2"],
)
def test_one_request_per_send_no_retry_and_no_sleep_for_retry_after(fcm, provider, reply):
    fcm.messages.script(DEVICE, reply)

    started = time.monotonic()
    with pytest.raises(TransientError):
        provider.send(push())

    assert time.monotonic() - started < 1.5  # pyfcm's notify() sleeps the 2 s and sends again
    assert len(fcm.messages.sends) == 1


def test_retry_after_as_an_http_date(fcm, provider):
    fcm.messages.script(DEVICE, fake_fcm.unavailable(formatdate(time.time() + 20, usegmt=True)))

    with pytest.raises(TransientError) as caught:
        provider.send(push())

    assert 17 <= caught.value.retry_after <= 20


def test_a_hanging_fcm_times_out_after_about_the_configured_timeout(fcm, provider):
    fcm.messages.script(DEVICE, Hang(30))

    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        provider.send(push())
    elapsed = time.monotonic() - started

    assert caught.value.code == "fcm_timeout"
    assert TIMEOUT <= elapsed < 3
    assert len(fcm.messages.sends) == 1


def test_a_hanging_token_endpoint_times_out_too(fcm, provider):
    fcm.tokens.hang_for = 30

    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        provider.send(push())

    assert caught.value.code == "fcm_timeout"
    assert time.monotonic() - started < 3
    assert provider.credential_problem() is None
    assert fcm.messages.sends == []


def test_an_unreachable_token_endpoint_is_a_connection_error_not_a_credential_problem(fcm, account):
    info = account.info(token_uri=closed_port_url() + "/token")
    settings = FcmSettings(project_id=account.project_id, credentials_json=json.dumps(info), endpoint=fcm.base_url)
    provider = FcmProvider(settings, timeout=TIMEOUT, retry_after_cap=CAP)

    with pytest.raises(TransientError) as caught:
        provider.send(push())

    assert caught.value.code == "fcm_connection_error"
    assert provider.credential_problem() is None


# --- authentication failures -------------------------------------------------------------------

def test_a_refused_token_exchange_is_reported_as_a_credential_problem(fcm, account, provider, caplog):
    assert provider.credential_problem() is None
    fcm.tokens.forget_keys()

    with caplog.at_level(logging.ERROR, logger="workers.providers.fcm"):
        with pytest.raises(TransientError) as caught:
            provider.send(push())

    assert caught.value.code == "fcm_auth_failed"
    assert fcm.messages.sends == []  # nothing reached FCM without a token
    problem = provider.credential_problem()
    assert "Invalid JWT Signature" in problem and account.client_email in problem
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "OAuth token exchange was refused" in record.getMessage()
    assert "dQw4w9…" in record.getMessage()


def test_a_rejected_access_token_is_dropped_and_exchanged_again_on_the_next_send(fcm, provider):
    provider.send(push())
    fcm.tokens.revoke_issued()

    with pytest.raises(TransientError) as caught:
        provider.send(push())
    assert caught.value.code == "fcm_auth_failed"
    assert "rejected the access token" in provider.credential_problem()

    assert provider.send(push()).provider_message_id == "projects/herald-test/messages/2"
    assert len(fcm.tokens.requests) == 2
    assert provider.credential_problem() is None


def test_failures_log_neither_key_material_nor_tokens(fcm, account, provider, caplog):
    caplog.set_level(logging.DEBUG)
    provider.send(push())
    access_token = fcm.tokens.issued[0]
    fcm.tokens.revoke_issued()
    with pytest.raises(TransientError):
        provider.send(push())  # 401 on send
    fcm.tokens.forget_keys()
    with pytest.raises(TransientError):
        provider.send(push())  # the token exchange refused

    logged = caplog.text
    assert "FCM authentication failed" in logged
    key_lines = account.private_key_pem().splitlines()[1:-1]
    for secret in (*key_lines[5:8], key_lines[-2], "PRIVATE KEY", access_token, DEVICE):
        assert secret not in logged
    assert DEVICE[:6] + "…" in logged
