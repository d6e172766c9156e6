"""What a delivery, the relay and the sweeper record: metrics once committed, one log line per task."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

from flask import current_app
from prometheus_client import REGISTRY
from sqlalchemy import text

from common.config import settings
from common.logs import FIELDS, JsonFormatter
from common.models import utcnow
from common.recovery import relay_due, sweep_expired_leases
from tests.support.factories import fetch
from tests.support.settings import replace
from workers import delivery
from workers.providers.base import Receipt

WORKER = "email@test-host"


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def deliveries() -> dict[tuple, float]:
    """Every herald_deliveries_total sample by (channel, outcome, reason)."""
    return {(s.labels["channel"], s.labels["outcome"], s.labels["reason"]): s.value
            for family in REGISTRY.collect() if family.name == "herald_deliveries"
            for s in family.samples if s.name == "herald_deliveries_total"}


def changes(before: dict, after: dict) -> dict:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def deliver(n, token=None) -> delivery.Outcome:
    return delivery.deliver(n.channel, str(n.id), str(token or n.dispatch_token), WORKER,
                            current_app.config["HERALD_SETTINGS"])


def test_a_send_counts_once_with_its_provider_call_and_delays(db, make_notification, outbox):
    n = make_notification(channel="email", recipient="ada@example.com")
    before = deliveries()
    calls = value("herald_provider_call_seconds_count", channel="email", provider="sandbox")
    lateness = value("herald_delivery_lateness_seconds_count", channel="email")
    immediate = value("herald_immediate_send_seconds_count", channel="email")

    outcome = deliver(n)

    assert outcome.kind == "sent"
    assert changes(before, deliveries()) == {("email", "sent", "none"): 1}
    assert value("herald_provider_call_seconds_count", channel="email", provider="sandbox") == calls + 1
    assert value("herald_delivery_lateness_seconds_count", channel="email") == lateness + 1
    assert value("herald_immediate_send_seconds_count", channel="email") == immediate + 1


def test_failures_and_retries_count_by_error_code(db, make_notification, queues):
    retried = make_notification(channel="email", recipient="herald-fail-transient-1@example.com")
    rejected = make_notification(channel="email", recipient="herald-fail-permanent@example.com")
    exhausted = make_notification(channel="email", recipient="herald-fail-transient-99@example.com",
                                  status="retrying", attempts=settings().max_attempts - 1)
    before = deliveries()
    retries = value("herald_retries_total", channel="email", reason="sandbox_unavailable")

    outcomes = [deliver(retried), deliver(rejected), deliver(exhausted)]

    assert [o.kind for o in outcomes] == ["retrying", "failed", "failed"]
    assert changes(before, deliveries()) == {("email", "retrying", "sandbox_unavailable"): 1,
                                             ("email", "failed", "sandbox_rejected"): 1,
                                             ("email", "failed", "sandbox_unavailable"): 1}
    assert value("herald_retries_total", channel="email", reason="sandbox_unavailable") == retries + 1


def test_a_stale_task_counts_nothing(db, make_notification):
    n = make_notification(channel="email", recipient="ada@example.com")
    before = deliveries()

    outcome = deliver(n, token=uuid.uuid4())
    assert (outcome.kind, outcome.reason) == ("stale", "superseded")

    assert changes(before, deliveries()) == {}


def test_an_outcome_that_lost_its_claim_counts_nothing(db, make_notification, monkeypatch):
    n = make_notification(channel="email", recipient="ada@example.com")

    class Overtaken:
        """The sweeper takes the row over (a new token) while the provider call runs."""

        def send(self, request):
            with db.engine.begin() as connection:
                connection.execute(text("UPDATE notifications SET dispatch_token = :t WHERE id = :id"),
                                   {"t": uuid.uuid4(), "id": n.id})
            return Receipt(provider_message_id="late-1")

    monkeypatch.setattr(delivery, "provider_for", lambda *args: Overtaken())
    before = deliveries()

    outcome = deliver(n)

    assert outcome.kind == "superseded"
    assert changes(before, deliveries()) == {}


def test_a_claim_inside_quiet_hours_counts_as_deferred(db, make_notification, queues):
    now = utcnow()
    window = {"start": (now - timedelta(hours=1)).strftime("%H:%M"),
              "end": (now + timedelta(hours=2)).strftime("%H:%M"), "source": "request",
              "timezone": "UTC"}
    n = make_notification(channel="email", recipient="ada@example.com", quiet_hours=window)
    before = deliveries()

    outcome = deliver(n)

    assert outcome.kind == "deferred" and fetch(str(n.id)).status == "scheduled"
    assert changes(before, deliveries()) == {("email", "deferred", "none"): 1}


def test_the_task_logs_one_line_with_the_facts_and_a_masked_address(
        db, make_notification, outbox, caplog):
    n = make_notification(channel="email", recipient="grace.hopper@example.com")

    with caplog.at_level(logging.INFO, logger="workers.delivery"):
        delivery.DELIVERY_TASKS["email"](str(n.id), str(n.dispatch_token))

    [record] = [r for r in caplog.records if r.name == "workers.delivery"]
    line = JsonFormatter().format(record)
    assert "grace.hopper" not in line and "\n" not in line
    entry = json.loads(line)
    assert {k: entry[k] for k in getattr(record, FIELDS)} == {
        "event": "delivery", "notification_id": str(n.id), "channel": "email", "attempt": 1,
        "worker": None,  # called as a function: no worker node name
        "outcome": "sent", "reason": None, "to": "g***@example.com"}
    assert entry["message"] == f"email {n.id}: sent"


def test_the_relay_counts_what_it_published(db, make_notification, queues):
    now = utcnow()
    for _ in range(3):
        make_notification(enqueued_at=None)
    published = value("herald_relay_published_total")

    assert relay_due(settings(), now) == 3

    assert value("herald_relay_published_total") == published + 3


def test_the_sweeper_counts_what_it_took_back(db, make_notification, queues):
    config = replace(settings(), max_attempts=4, lost_lease_fails=frozenset())
    now = utcnow()
    expired = now - timedelta(seconds=1)
    make_notification(status="sending", attempts=1, lease_expires_at=expired)
    make_notification(channel="sms", recipient="+447700900123", status="sending", attempts=1,
                      lease_expires_at=expired)
    make_notification(status="sending", attempts=4, lease_expires_at=expired)
    before = {o: value("herald_sweeper_recovered_total", outcome=o) for o in ("retrying", "failed")}
    lease_retries = value("herald_retries_total", channel="push", reason="lease_expired")

    assert sweep_expired_leases(config, now, worker="maintenance@test-host") == 3

    after = {o: value("herald_sweeper_recovered_total", outcome=o) for o in ("retrying", "failed")}
    assert {o: after[o] - before[o] for o in after} == {"retrying": 2, "failed": 1}
    assert value("herald_retries_total", channel="push", reason="lease_expired") == lease_retries + 1
