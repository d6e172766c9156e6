"""Real vendors' wire protocols end to end: API -> PostgreSQL -> RabbitMQ -> pools -> FCM, SMTP, Twilio.

The push@, email@ and sms@ pools run as real Celery workers configured, through
the environment alone, for FCM (service-account OAuth), SMTP (STARTTLS, AUTH,
a private CA) and Twilio, each pointed at a local fake that speaks the
vendor's protocol. Nothing is mocked: pyfcm and google-auth, smtplib and the
twilio client do the talking. Run with -s to see the measured figures.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from datetime import datetime
from email.utils import formataddr

import pytest
from twilio.request_validator import RequestValidator

from common.config import TwilioSettings, settings
from tests.e2e import vendors
from tests.e2e.vendors import start_pools, start_vendors
from tests.support.processes import stop_all
from tests.support.broker import purge
from tests.support.factories import events_of, fetch, status_counts
from tests.support.settings import replace
from tests.support.fake_fcm import FCM_SCOPE, Hang, quota_exceeded
from tests.support.fake_twilio import status_callback_params
from tests.support.outbox import Outbox
from tests.support.waiting import wait_until

CHANNELS = ("push", "email", "sms")
PER_CHANNEL = 100
PROVIDER_TIMEOUT = 1.0
RETRY_BASE_DELAY = 0.1
POOL_ENV = {
    "PROVIDER_TIMEOUT_SECONDS": str(PROVIDER_TIMEOUT),
    "RETRY_BASE_DELAY_SECONDS": str(RETRY_BASE_DELAY),
}
# SMS bodies whose segment counts are known: GSM-7 fits 160 characters in one
# part and 153 per part beyond; UCS-2 (Cyrillic here) 70 and 67.
SMS_BODIES = (
    ("Your code is 1234", 1),
    ("Your parcel is on its way. " * 8, 2),  # 216 GSM-7 characters
    ("Ваш код подтверждения 1234. " * 4, 2),  # 112 UCS-2 characters
)


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def outbox_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("outbox")


@pytest.fixture(scope="module")
def fakes(tmp_path_factory):
    servers = start_vendors(tmp_path_factory.mktemp("vendors"))
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="module")
def vendor_pools(app, log_dir, fakes, outbox_dir):
    """push@, email@ and sms@ pools, concurrency 2 each, with every vendor configured."""
    purge(*CHANNELS)  # tasks left by earlier test modules, whose rows are gone
    env = {**fakes.worker_env(), **POOL_ENV, "OUTBOX_DIR": str(outbox_dir)}
    started = start_pools(CHANNELS, log_dir, env, concurrency=2)
    try:
        yield started
    finally:
        stop_all(started.values())


@pytest.fixture(scope="module")
def receipts_app(app):
    """The API as deployed with Twilio settings: the same public URL the workers put in StatusCallback."""
    from api import create_app
    from common.db import db as handle

    configured = create_app(replace(settings(), twilio=TwilioSettings(
        account_sid=vendors.TWILIO_ACCOUNT_SID, auth_token=vendors.TWILIO_AUTH_TOKEN,
        from_number=vendors.TWILIO_FROM_NUMBER, public_base_url=vendors.PUBLIC_URL,
    )))
    try:
        yield configured
    finally:
        with configured.app_context():
            handle.engine.dispose()


# --- helpers -------------------------------------------------------------------------------------

def create(client, auth, body: dict) -> str:
    response = client.post("/v1/notifications", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def shown(client, auth, nid: str) -> dict:
    response = client.get(f"/v1/notifications/{nid}", headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def wait_for_status(client, auth, nid: str, status: str, timeout: float = 20) -> dict:
    def reached():
        body = shown(client, auth, nid)
        return body if body["status"] == status else None

    return wait_until(reached, timeout=timeout, interval=0.02,
                      message=f"{nid} did not reach {status}: {shown(client, auth, nid)}")


def at(event: dict) -> datetime:
    return datetime.fromisoformat(event["at"].replace("Z", "+00:00"))


def statuses(body: dict) -> list[str]:
    return [e["status"] for e in body["events"]]


def push_request(token: str, title: str = "Hi", body: str = "Hello", data: dict | None = None) -> dict:
    content = {"title": title, "body": body, **({"data": data} if data else {})}
    return {"channel": "push", "to": token, "content": content}


def receipt_path(nid: str) -> str:
    return f"/v1/receipts/twilio/{nid}"


def twilio_signature(url: str, params: dict, auth_token: str = vendors.TWILIO_AUTH_TOKEN) -> str:
    return RequestValidator(auth_token).compute_signature(url, params)


def post_callback(receipts_client, nid: str, params: dict, signature: str):
    return receipts_client.post(receipt_path(nid), data=params, headers={"X-Twilio-Signature": signature})


MESSAGE_ID = re.compile(r"^<([0-9a-f-]{36})@herald\.example>$")  # the same on every attempt
CALLBACK_ID = re.compile(rf"^{re.escape(vendors.PUBLIC_URL)}/v1/receipts/twilio/([0-9a-f-]{{36}})$")


# --- b. 100 per channel, each at its vendor exactly once ------------------------------------------

def test_every_channel_reaches_its_vendor_exactly_once_authenticated_and_intact(
        client, auth, vendor_pools, fakes, receipts_app):
    fcm, smtp, twilio = fakes.fcm_messages, fakes.smtp, fakes.twilio
    token_exchanges_before, smtp_connections_before = len(fakes.fcm.tokens.requests), smtp.connections
    push_ids, email_ids, sms_ids = {}, {}, {}  # notification id -> what was asked for

    started = time.monotonic()
    for i in range(PER_CHANNEL):
        token = f"e2e-b-device-{i:03d}-{uuid.uuid4().hex[:8]}"
        push = push_request(token, f"Order {i} shipped", f"Parcel {i} is on its way",
                            {"order": str(i), "kind": "shipping"})
        push_ids[create(client, auth, push)] = push
        email = {"channel": "email", "to": f"customer{i:03d}@example.com",
                 "content": {"subject": f"Receipt {i}", "body": f"Thanks for order {i}.",
                             "html": f"<p>Thanks for order <b>{i}</b>.</p>"}}
        email_ids[create(client, auth, email)] = email
        text, segments = SMS_BODIES[i % len(SMS_BODIES)]
        sms = {"channel": "sms", "to": f"+447700900{i:03d}", "content": {"body": text}}
        sms_ids[create(client, auth, sms)] = (sms, segments)
    posted = time.monotonic() - started
    total = 3 * PER_CHANNEL
    wait_until(lambda: status_counts().get("sent") == total, timeout=60, interval=0.05,
               message=f"not all sent: {status_counts()}")
    delivered = time.monotonic() - started

    # Push: one messages:send per notification, with a bearer token from a verified OAuth exchange.
    mine = {body["to"]: nid for nid, body in push_ids.items()}
    push_sends = [s for s in list(fcm.sends) if s.message.get("token") in mine]
    push_counts = Counter(mine[s.message["token"]] for s in push_sends)
    assert set(push_counts) == set(push_ids) and set(push_counts.values()) == {1}, push_counts.most_common(3)
    exchanges = fakes.fcm.tokens.requests[token_exchanges_before:]
    assert exchanges and all(c.get("iss") == fakes.account.client_email for c in exchanges)
    assert all(FCM_SCOPE in c.get("scope", "").split() for c in exchanges)
    issued = set(fakes.fcm.tokens.issued)
    for sent in push_sends:
        nid = mine[sent.message["token"]]
        content = push_ids[nid]["content"]
        assert sent.project == vendors.FCM_PROJECT_ID
        assert sent.bearer in issued, "a send without a token the OAuth endpoint issued"
        assert sent.message["notification"] == {"title": content["title"], "body": content["body"]}
        assert sent.message["data"] == content["data"]
    names = {token: reply.body["name"] for token, reply in list(fcm.answered) if token in mine}
    for nid, body in push_ids.items():
        row = fetch(nid)
        assert (row.status, row.attempts) == ("sent", 1)
        assert row.provider_message_id == names[body["to"]]
    assert len({names[t] for t in mine}) == PER_CHANNEL

    # Email: one message per notification, over STARTTLS, after AUTH, verified against SMTP_CA_FILE.
    received = [m for m in list(smtp.messages) if m.rcpt_tos and m.rcpt_tos[0].startswith("customer")]
    email_counts = Counter(MESSAGE_ID.match(m.message["Message-ID"]).group(1) for m in received)
    assert set(email_counts) == set(email_ids) and set(email_counts.values()) == {1}, \
        email_counts.most_common(3)
    for message in received:
        nid = MESSAGE_ID.match(message.message["Message-ID"]).group(1)
        asked = email_ids[nid]
        # aiosmtpd offers AUTH only once TLS is up (auth_require_tls) and refuses mail without it.
        assert message.tls and message.authenticated
        assert message.mail_from == vendors.EMAIL_FROM and message.rcpt_tos == [asked["to"]]
        headers = message.message
        assert str(headers["From"]) == formataddr((vendors.EMAIL_FROM_NAME, vendors.EMAIL_FROM))
        assert str(headers["Reply-To"]) == vendors.EMAIL_REPLY_TO
        assert str(headers["To"]) == asked["to"]
        assert headers["Subject"] == asked["content"]["subject"]
        assert headers.get_body(("plain",)).get_content().strip() == asked["content"]["body"]
        assert headers.get_body(("html",)).get_content().strip() == asked["content"]["html"]
        row = fetch(nid)
        assert (row.status, row.attempts) == ("sent", 1)
        assert row.provider_message_id == headers["Message-ID"]
    smtp_connections = smtp.connections - smtp_connections_before

    # SMS: one Messages.json POST per notification, Basic auth, its receipt URL under HERALD_PUBLIC_URL.
    numbers = {body["to"] for body, _ in sms_ids.values()}
    sms_requests = [r for r in list(twilio.requests) if r.form.get("To") in numbers]
    sms_counts = Counter(CALLBACK_ID.match(r.form.get("StatusCallback", "")).group(1) for r in sms_requests)
    assert set(sms_counts) == set(sms_ids) and set(sms_counts.values()) == {1}, sms_counts.most_common(3)
    sids = {}
    for form, resource in list(twilio.created):
        match = CALLBACK_ID.match(form.get("StatusCallback", ""))
        if match and match.group(1) in sms_ids:
            sids[match.group(1)] = resource["sid"]
    for request in sms_requests:
        nid = CALLBACK_ID.match(request.form["StatusCallback"]).group(1)
        asked, _segments = sms_ids[nid]
        assert request.auth == (vendors.TWILIO_ACCOUNT_SID, vendors.TWILIO_AUTH_TOKEN)
        assert request.path == f"/2010-04-01/Accounts/{vendors.TWILIO_ACCOUNT_SID}/Messages.json"
        assert request.form["To"] == asked["to"]
        assert request.form["Body"] == asked["content"]["body"]
        assert request.form["From"] == vendors.TWILIO_FROM_NUMBER
        assert "MessagingServiceSid" not in request.form
    for nid, (asked, segments) in sms_ids.items():
        row = fetch(nid)
        assert (row.status, row.attempts) == ("sent", 1)
        assert row.provider_message_id == sids[nid]
        assert row.segments == segments, (asked["content"]["body"], row.segments)
    assert len(set(sids.values())) == PER_CHANNEL

    latencies = {channel: sorted((row.sent_at - row.created_at).total_seconds() * 1000
                                 for row in map(fetch, ids))
                 for channel, ids in (("push", push_ids), ("email", email_ids), ("sms", sms_ids))}
    print(f"\n[b] posted {total} notifications through the API in {posted:.2f}s; all {total} sent "
          f"{delivered:.2f}s after the first post, {delivered - posted:.2f}s after the last")
    print("[b] created -> sent per notification (median / p95 / max ms): " + "; ".join(
        f"{channel} {ms[len(ms) // 2]:.0f} / {ms[int(len(ms) * 0.95)]:.0f} / {ms[-1]:.0f}"
        for channel, ms in latencies.items()))
    print(f"[b] at the vendors: FCM {len(push_sends)} sends for {len(push_counts)} notifications "
          f"({len(exchanges)} OAuth token exchanges); SMTP {len(received)} messages for "
          f"{len(email_counts)} notifications over {smtp_connections} TLS+AUTH connections; "
          f"Twilio {len(sms_requests)} requests for {len(sms_counts)} notifications "
          f"(segments {dict(sorted(Counter(fetch(n).segments for n in sms_ids).items()))})")

    check_twilio_receipts(receipts_app, sms_ids, sids)


def check_twilio_receipts(receipts_app, sms_ids: dict, sids: dict) -> None:
    receipts = receipts_app.test_client()
    forged_nid = next(iter(sms_ids))
    forged_to = sms_ids[forged_nid][0]["to"]
    params = status_callback_params(sids[forged_nid], "undelivered", account_sid=vendors.TWILIO_ACCOUNT_SID,
                                    to=forged_to, from_=vendors.TWILIO_FROM_NUMBER, error_code="30003")
    events_before = len(events_of(forged_nid))
    public_url = vendors.PUBLIC_URL + receipt_path(forged_nid)
    wrong_key = twilio_signature(public_url, params, vendors.TWILIO_AUTH_TOKEN + "-wrong")
    # Right key, but over the URL the request arrived at rather than the one Twilio was given.
    wrong_url = twilio_signature("http://localhost" + receipt_path(forged_nid), params)
    for signature in (wrong_key, wrong_url, ""):
        response = post_callback(receipts, forged_nid, params, signature)
        assert response.status_code == 403, response.get_json()
        assert response.get_json()["error"]["code"] == "forbidden"
    row = fetch(forged_nid)
    assert (row.status, row.error_code) == ("sent", None)
    assert len(events_of(forged_nid)) == events_before

    started = time.monotonic()
    for nid, (asked, _segments) in sms_ids.items():
        params = status_callback_params(sids[nid], "delivered", account_sid=vendors.TWILIO_ACCOUNT_SID,
                                        to=asked["to"], from_=vendors.TWILIO_FROM_NUMBER)
        signature = twilio_signature(vendors.PUBLIC_URL + receipt_path(nid), params)
        response = post_callback(receipts, nid, params, signature)
        assert response.status_code == 200, response.get_json()
        assert response.get_json() == {"id": nid, "status": "delivered"}
    took = time.monotonic() - started
    counts = Counter(fetch(nid).status for nid in sms_ids)
    assert counts == {"delivered": PER_CHANNEL}, counts
    assert [e.status for e in events_of(forged_nid)][-2:] == ["sent", "delivered"]
    print(f"[b] receipts: 3 forged callbacks -> 403, row unchanged; {PER_CHANNEL} signed 'delivered' "
          f"callbacks -> 200 in {took:.2f}s; SMS now {dict(counts)}")


# --- c. throttled three times with Retry-After: 2 ------------------------------------------------

def test_a_throttling_vendor_is_retried_after_its_retry_after(client, auth, vendor_pools, fakes):
    token = f"e2e-c-throttled-{uuid.uuid4().hex[:8]}"
    fakes.fcm_messages.script(token, *[quota_exceeded(retry_after="2")] * 3)

    started = time.monotonic()
    nid = create(client, auth, push_request(token))
    body = wait_for_status(client, auth, nid, "sent", timeout=20)
    elapsed = time.monotonic() - started

    assert body["attempts"] == 4
    assert statuses(body) == ["scheduled"] + ["sending", "retrying"] * 3 + ["sending", "sent"]
    retrying = [e for e in body["events"] if e["status"] == "retrying"]
    assert [e["error_code"] for e in retrying] == ["fcm_throttled"] * 3
    claims = [e for e in body["events"] if e["status"] == "sending"]
    waits = [(at(claimed) - at(failed)).total_seconds() for failed, claimed in zip(retrying, claims[1:])]
    # The backoff alone would be 0.05-0.4 s: every wait is Retry-After's 2 s.
    assert all(2.0 <= wait < 2.9 for wait in waits), waits
    replies = fakes.fcm_messages.replies_to(token)
    assert [r.status for r in replies] == [429, 429, 429, 200]
    assert all(r.headers.get("Retry-After") == "2" for r in replies[:3])
    assert body["provider_message_id"] == replies[-1].body["name"]
    assert 6.0 <= elapsed < 9.0, elapsed
    print(f"\n[c] 429 + Retry-After: 2 three times, then 200: sent after {elapsed:.2f}s, attempts "
          f"{body['attempts']}, waits between attempts {', '.join(f'{w:.2f}s' for w in waits)}")


# --- d. a vendor that hangs, once -----------------------------------------------------------------

def test_a_hanging_vendor_times_out_is_retried_and_does_not_stall_the_pool(client, auth, vendor_pools, fakes):
    fcm = fakes.fcm_messages
    token = f"e2e-d-hangs-{uuid.uuid4().hex[:8]}"
    fcm.script(token, Hang(10))

    started = time.monotonic()
    nid = create(client, auth, push_request(token))
    wait_until(lambda: fcm.sends_to(token), timeout=10, interval=0.01, message="the send never arrived")
    hang_began = time.monotonic()

    # While one push@ process waits on FCM, the other delivers what comes in.
    others, other_times = [], []
    for i in range(5):
        posted = time.monotonic()
        other = create(client, auth, push_request(f"e2e-d-other-{i}-{uuid.uuid4().hex[:8]}"))
        wait_for_status(client, auth, other, "sent", timeout=5)
        others.append(other)
        other_times.append(time.monotonic() - posted)
    others_done = time.monotonic() - hang_began

    body = wait_for_status(client, auth, nid, "sent", timeout=20)
    elapsed = time.monotonic() - started

    assert body["attempts"] == 2
    assert statuses(body) == ["scheduled", "sending", "retrying", "sending", "sent"]
    first_claim, timed_out = body["events"][1], body["events"][2]
    assert timed_out["error_code"] == "fcm_timeout"
    first_attempt = (at(timed_out) - at(first_claim)).total_seconds()
    assert PROVIDER_TIMEOUT <= first_attempt < PROVIDER_TIMEOUT + 0.8, first_attempt
    for other in others:
        other_body = shown(client, auth, other)
        assert other_body["attempts"] == 1
        # Sent while the hanging attempt was still waiting for FCM.
        assert at(other_body["events"][-1]) < at(timed_out), (other_body["events"], timed_out)
    assert len(fcm.sends_to(token)) == 2  # the unanswered request and the retry
    assert elapsed < PROVIDER_TIMEOUT + 2.0, elapsed
    print(f"\n[d] FCM hung on attempt 1: it ended after {first_attempt:.2f}s with fcm_timeout "
          f"(PROVIDER_TIMEOUT_SECONDS={PROVIDER_TIMEOUT:g}); sent on attempt 2, {elapsed:.2f}s after the post")
    print(f"[d] during the hang, 5 more pushes were each posted and sent in "
          f"{', '.join(f'{t * 1000:.0f}' for t in other_times)} ms "
          f"(all done {others_done:.2f}s into the hang)")


# --- e. test keys never reach a vendor -------------------------------------------------------------

def test_a_test_key_uses_the_sandbox_even_with_vendors_configured(client, db, vendor_pools, fakes, outbox_dir):
    from api.keys.service import create_api_key

    _key, secret = create_api_key("test-service", kind="test")
    test_auth = {"Authorization": f"Bearer {secret}"}
    fcm, smtp, twilio = fakes.fcm_messages, fakes.smtp, fakes.twilio
    before = (len(fcm.sends), len(fakes.fcm.tokens.requests), len(smtp.messages), smtp.connections,
              len(twilio.requests))
    requests = {
        "push": push_request(f"e2e-e-sandbox-{uuid.uuid4().hex[:8]}", "Sandboxed", "Not for FCM"),
        "email": {"channel": "email", "to": "sandboxed@example.com",
                  "content": {"subject": "Sandboxed", "body": "Not for SMTP"}},
        "sms": {"channel": "sms", "to": "+447700900999", "content": {"body": "Not for Twilio"}},
    }
    started = time.monotonic()
    ids = {channel: create(client, test_auth, body) for channel, body in requests.items()}
    for nid in ids.values():
        wait_for_status(client, test_auth, nid, "sent", timeout=20)
    elapsed = time.monotonic() - started

    outbox = Outbox(outbox_dir)
    for channel, nid in ids.items():
        assert outbox.counts(channel)[nid] == 1
        [line] = [d for d in outbox.deliveries(channel) if d["notification_id"] == nid]
        assert line["to"] == requests[channel]["to"]
        body = shown(client, test_auth, nid)
        assert body["sandbox"] is True
        assert body["provider_message_id"] == f"sandbox-{nid}-1"
        assert all(e["worker"].startswith(f"{channel}@") for e in body["events"][1:])
    after = (len(fcm.sends), len(fakes.fcm.tokens.requests), len(smtp.messages), smtp.connections,
             len(twilio.requests))
    assert after == before, (before, after)
    everything_the_vendors_saw = " ".join(
        [str(s.body) for s in list(fcm.sends)]
        + [m.content.decode(errors="replace") + " ".join(m.rcpt_tos) for m in list(smtp.messages)]
        + [str(r.form) for r in list(twilio.requests)]
    )
    for channel, nid in ids.items():
        assert nid not in everything_the_vendors_saw
        assert requests[channel]["to"] not in everything_the_vendors_saw
    print(f"\n[e] test key: push, email and sms sent to the sandbox outbox in {elapsed:.2f}s; "
          f"vendor logs unchanged (FCM sends/token exchanges, SMTP messages/connections, Twilio requests: "
          f"{after})")
