"""Delivery outcomes with real worker pools: retried and sent, failed for good, out of attempts.

Two pools with quick retries: `push` with the default number of attempts, and
`email` allowed only two, each channel's queue consumed by its own pool so
the two configurations never meet.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.support.broker import purge
from tests.support.factories import email_body, push_body
from tests.support.processes import start_worker, stop_all
from tests.support.waiting import wait_until

RETRY_BASE_DELAY = 0.2
QUICK_RETRIES = {"RETRY_BASE_DELAY_SECONDS": str(RETRY_BASE_DELAY)}
TWO_ATTEMPTS = {**QUICK_RETRIES, "MAX_ATTEMPTS": "2"}
FINISHED = {"sent", "failed"}


@pytest.fixture(scope="module")
def quick_retry_pools(app, log_dir):
    purge("push", "email")  # tasks left by earlier test modules, whose rows are gone
    started = []
    try:
        started.append(start_worker("push", log_dir, concurrency=2, env=QUICK_RETRIES))
        started.append(start_worker("email", log_dir, concurrency=2, env=TWO_ATTEMPTS))
        yield
    finally:
        stop_all(started)



def create(client, auth, body: dict) -> str:
    response = client.post("/v1/notifications", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def finished(client, auth, nid: str) -> dict:
    """The notification as the caller sees it, once it has reached sent or failed."""
    def shown():
        body = client.get(f"/v1/notifications/{nid}", headers=auth).get_json()
        return body if body["status"] in FINISHED else None

    return wait_until(shown, timeout=20, interval=0.1, message=f"{nid} did not finish")


def statuses(shown: dict) -> list[str]:
    return [e["status"] for e in shown["events"]]


def test_transient_failures_are_retried_with_backoff_until_sent(
        client, auth, quick_retry_pools, outbox):
    nid = create(client, auth, push_body("herald-fail-transient-2"))

    shown = finished(client, auth, nid)

    assert (shown["status"], shown["attempts"], shown["error"]) == ("sent", 3, None)
    assert statuses(shown) == ["scheduled", "sending", "retrying", "sending", "retrying", "sending", "sent"]
    events = shown["events"]
    assert [e["attempt"] for e in events] == [0, 1, 1, 2, 2, 3, 3]
    assert [e["error_code"] for e in events if e["status"] == "retrying"] == ["sandbox_unavailable"] * 2
    assert all(e["worker"].startswith("push@") for e in events[1:])
    # Each retry waits at least half its backoff ceiling: base, then twice the base.
    retried_at = [_at(e) for e in events if e["status"] == "retrying"]
    claimed_again_at = [_at(e) for e in events if e["status"] == "sending"][1:]
    waits = [claimed - failed for failed, claimed in zip(retried_at, claimed_again_at)]
    for attempt, wait in enumerate(waits, start=1):
        ceiling = RETRY_BASE_DELAY * 2 ** (attempt - 1)
        assert wait >= timedelta(seconds=ceiling / 2), f"retry {attempt} after only {wait}"
    [line] = outbox.deliveries("push")
    assert (line["notification_id"], line["attempt"]) == (nid, 3)
    assert shown["provider_message_id"] == f"sandbox-{nid}-3"


def test_a_permanent_failure_fails_at_once_without_delivering(
        client, auth, quick_retry_pools, outbox):
    nid = create(client, auth, push_body("herald-fail-permanent"))

    shown = finished(client, auth, nid)

    assert (shown["status"], shown["attempts"]) == ("failed", 1)
    assert shown["error"]["code"] == "sandbox_rejected"
    assert statuses(shown) == ["scheduled", "sending", "failed"]
    assert outbox.counts("push") == {}


def test_running_out_of_attempts_fails_with_the_last_error(client, auth, quick_retry_pools, outbox):
    nid = create(client, auth, email_body("herald-fail-transient-5@example.com"))

    shown = finished(client, auth, nid)

    assert (shown["status"], shown["attempts"]) == ("failed", 2)
    assert shown["error"]["code"] == "sandbox_unavailable"
    assert "gave up after 2 attempts" in shown["error"]["message"]
    assert statuses(shown) == ["scheduled", "sending", "retrying", "sending", "failed"]
    assert outbox.counts("email") == {}


def _at(event: dict) -> datetime:
    return datetime.fromisoformat(event["at"].replace("Z", "+00:00"))
