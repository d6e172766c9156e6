"""Status callbacks end to end: real push, webhooks and maintenance pools, beat, a local receiver.

The schedule of retries is shortened (1 s, 1 s, 2 s, ...), the lease of a
claimed message is a few seconds, and every process reads a service's
endpoints afresh (no cache), so a test's new endpoint is heard at once.
Every callback the receiver got is verified by the independent
`standardwebhooks` package.
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections import Counter, defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from common.db import db as handle
from common.webhooks.models import WebhookAttempt, WebhookMessage
from tests.support.broker import purge
from tests.support.factories import events_of, status_counts
from tests.support.processes import free_port, start_beat, start_worker, stop_all
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import WebhookReceiver

ENV = {
    "WEBHOOK_ENDPOINT_CACHE_SECONDS": "0",
    "WEBHOOK_RETRY_SCHEDULE_SECONDS": "1,1,2,2,3,5",
    "WEBHOOK_LEASE_SECONDS": "4",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "RELAY_INTERVAL_SECONDS": "1",
}


@pytest.fixture(scope="module")
def processes(app, log_dir):
    """The pools and beat; the webhooks and maintenance pools serve their metrics (`ports`)."""
    purge("push", "webhooks", "maintenance")
    started = {}
    ports = {"webhooks": free_port(), "maintenance": free_port()}
    try:
        started["push"] = start_worker("push", log_dir, concurrency=8, env=ENV)
        started["webhooks"] = start_worker(
            "webhooks", log_dir, concurrency=8,
            env={**ENV, "WORKER_METRICS_PORT": str(ports["webhooks"])})
        started["maintenance"] = start_worker(
            "maintenance", log_dir, concurrency=1,
            env={**ENV, "WORKER_POOL": "prefork", "WORKER_METRICS_PORT": str(ports["maintenance"])})
        started["beat"] = start_beat(log_dir, env=ENV)
        started["ports"] = ports
        yield started
    finally:
        stop_all(p for name, p in started.items() if name != "ports")
        purge("push", "webhooks", "maintenance")


def metric(port: int, name: str, **labels) -> float:
    """The sum of a series' samples at a pool's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(s.value for family in text_string_to_metric_families(text) for s in family.samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def endpoint(client, auth, url: str, events: list[str]) -> dict:
    response = client.post("/v1/webhooks", json={"url": url, "event_types": events}, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def batch(client, auth, tokens: list[str]) -> list[str]:
    response = client.post("/v1/notifications/batch", headers=auth, json={
        "defaults": {"content": {"title": "Hi", "body": "Your order shipped"}},
        "items": [{"channel": "push", "to": token} for token in tokens]})
    assert response.status_code == 202, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()["items"]]


def messages() -> list[WebhookMessage]:
    handle.session.rollback()
    return list(handle.session.execute(select(WebhookMessage)).scalars())


def message_states() -> Counter:
    handle.session.rollback()
    return Counter(dict(handle.session.execute(
        select(WebhookMessage.status, func.count()).group_by(WebhookMessage.status)).all()))


def verified(received, secret: str) -> int:
    """Every callback checked by the independent verifier; returns how many."""
    verifier = Webhook(secret)
    for got in received:
        assert verifier.verify(got.body, got.headers) == got.payload
    return len(received)


def test_a_receiver_down_for_a_while_gets_every_message_once_it_is_up(client, auth, processes):
    with WebhookReceiver(answer=503) as receiver:
        hook = endpoint(client, auth, receiver.url(), ["notification.retrying", "notification.sent"])
        flaky = batch(client, auth, [f"herald-fail-transient-1-{i}" for i in range(10)])
        steady = batch(client, auth, [f"device-{i}" for i in range(10)])
        expected = len(flaky) * 2 + len(steady)  # retrying and sent; sent

        def each_failed_twice():
            handle.session.rollback()
            tried = handle.session.execute(
                select(WebhookAttempt.message_id, func.count()).group_by(WebhookAttempt.message_id)
            ).all()
            return len(tried) == expected and all(n >= 2 for _m, n in tried)

        wait_until(each_failed_twice, timeout=60, message=f"not all tried twice: {message_states()}")
        ports = processes["ports"]
        oldest_while_down = wait_until(
            lambda: metric(ports["maintenance"], "herald_webhook_oldest_pending_seconds"),
            timeout=10, message="the relay did not measure the oldest pending message")
        down_attempts = len(receiver.snapshot())
        receiver.answer = 204
        wait_until(lambda: message_states() == Counter({"delivered": expected}), timeout=60,
                   message=f"not all delivered: {message_states()}")
        received = receiver.snapshot()
        wait_until(lambda: metric(ports["maintenance"], "herald_webhook_oldest_pending_seconds") == 0,
                   timeout=10, message="the oldest pending message is still measured")

    attempts_total = "herald_webhook_attempts_total"
    assert metric(ports["webhooks"], attempts_total, outcome="success") == expected
    assert metric(ports["webhooks"], attempts_total, outcome="http_5xx") == len(received) - expected
    assert verified(received, hook["secret"]) == len(received)
    by_id = {got.headers["webhook-id"]: got.payload for got in received}
    stored = messages()
    assert set(by_id) == {f"msg_{m.id.hex}" for m in stored}  # each once after de-duplication
    # Ordered by sequence, each notification's callbacks tell its story as its history does.
    story = defaultdict(list)
    for payload in by_id.values():
        story[payload["data"]["notification_id"]].append(payload["data"])
    for nid in flaky + steady:
        told = [(d["sequence"], d["status"]) for d in sorted(story[nid], key=lambda d: d["sequence"])]
        history = [(i, e.status) for i, e in enumerate(events_of(nid), start=1)
                   if e.status in ("retrying", "sent")]
        assert told == history
        assert [s for _n, s in told] == (["retrying", "sent"] if nid in flaky else ["sent"])
    log = client.get(f"/v1/webhooks/{hook['id']}/messages", query_string={"limit": 100},
                     headers=auth).get_json()["data"]
    assert len(log) == expected
    for message in log:
        codes = [a["status_code"] for a in message["attempts"]]
        assert codes[-1] == 204 and set(codes[:-1]) == {503} and len(codes) >= 3
        assert all(a["next_attempt_at"] for a in message["attempts"][:-1])
    print(f"\nreceiver down: {down_attempts} attempts answered 503; then {len(received) - down_attempts} "
          f"more; {len(by_id)} distinct webhook-ids for {expected} messages, all delivered; "
          f"{len(received)} callbacks verified by standardwebhooks; oldest pending while down "
          f"{oldest_while_down:.1f} s, 0 once up; herald_webhook_attempts_total success={expected}, "
          f"http_5xx={len(received) - expected}")


def test_killing_the_webhooks_pool_mid_run_loses_no_callback(client, auth, processes, log_dir):
    total = 1000
    with WebhookReceiver(delay=0.03) as receiver:
        hook = endpoint(client, auth, receiver.url(), ["notification.sent"])
        batch(client, auth, [f"device-kill-{i}" for i in range(total)])
        wait_until(lambda: len(receiver.snapshot()) >= total // 4, timeout=120,
                   message="the webhooks pool did not get going")
        processes["webhooks"].kill_group()  # kill -9, pool and all
        at_kill = len(receiver.snapshot())
        started = time.monotonic()
        processes["webhooks"] = start_worker("webhooks", log_dir, concurrency=8, env=ENV,
                                             name="webhooks-again")
        wait_until(lambda: message_states() == Counter({"delivered": total}), timeout=240,
                   interval=0.5, message=f"not all delivered: {message_states()}")
        recovery = time.monotonic() - started
        received = receiver.snapshot()

    assert status_counts() == {"sent": total}
    ids = Counter(got.headers["webhook-id"] for got in received)
    assert set(ids) == {f"msg_{m.id.hex}" for m in messages()}  # none lost
    assert verified(received, hook["secret"]) == len(received)
    print(f"\nkill -9 after {at_kill} of {total} callbacks; all {total} delivered "
          f"{recovery:.1f} s after the restart; {len(received)} POSTs, "
          f"{sum(n - 1 for n in ids.values())} repeats (same webhook-id), 0 lost; "
          f"every one verified by standardwebhooks")


def test_500_rejected_notifications_replayed_by_filter_are_each_sent_once(client, auth, processes,
                                                                           outbox):
    total = 500
    nids = batch(client, auth, [f"herald-reject-first-1-{i}" for i in range(total)])
    wait_until(lambda: status_counts() == {"failed": total}, timeout=120,
               message=f"not all failed: {status_counts()}")
    headers = {**auth, "Idempotency-Key": f"replay-{uuid.uuid4()}"}

    first = client.post("/v1/notifications/retry", json={"error_code": "sandbox_rejected"},
                        headers=headers)
    wait_until(lambda: status_counts() == {"sent": total}, timeout=120,
               message=f"not all sent: {status_counts()}")
    deliveries = outbox.counts("push")
    again = client.post("/v1/notifications/retry", json={"error_code": "sandbox_rejected"},
                        headers=headers)
    time.sleep(2)  # anything a second replay had published would be on its way

    assert (first.status_code, first.get_json()) == (202, {"replayed": total, "more": False})
    assert (again.get_json(), again.headers["Idempotent-Replayed"]) == (first.get_json(), "true")
    assert set(deliveries) == set(nids) and set(deliveries.values()) == {1}
    assert outbox.counts("push") == deliveries  # nothing new
    for nid in nids:
        history = events_of(nid)
        assert [e.status for e in history] == ["scheduled", "sending", "failed", "scheduled",
                                               "sending", "sent"]
        assert history[3].detail.startswith("replay requested by key ")
        assert history[2].error_code == "sandbox_rejected"
    print(f"\n{total} failed with sandbox_rejected; one replay by filter: {total} replayed, "
          f"each delivered once, 6 events each; the same request again: {again.get_json()}, "
          "no new delivery")
