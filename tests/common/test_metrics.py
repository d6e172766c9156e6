"""The metric recording helpers (common/metrics.py), read back from the default registry."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import REGISTRY

from common import metrics

T0 = datetime.now(timezone.utc)


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """Sample values before and after, so tests do not depend on what ran before them."""

    def __init__(self, *samples: tuple[str, dict]):
        self._samples = samples
        self._before = [value(name, **labels) for name, labels in samples]

    def __call__(self) -> list[float]:
        return [value(name, **labels) - before
                for (name, labels), before in zip(self._samples, self._before)]


def test_an_outcome_counts_by_channel_outcome_and_reason():
    delta = Delta(("herald_deliveries_total", dict(channel="sms", outcome="failed",
                                                    reason="twilio_invalid_number")),
                  ("herald_deliveries_total", dict(channel="sms", outcome="deferred", reason="none")),
                  ("herald_retries_total", dict(channel="sms", reason="twilio_invalid_number")))

    metrics.delivery_recorded("sms", metrics.FAILED, "twilio_invalid_number")
    metrics.delivery_recorded("sms", metrics.DEFERRED)

    assert delta() == [1, 1, 0]


def test_a_retry_also_counts_as_a_retry_by_reason():
    delta = Delta(("herald_deliveries_total", dict(channel="email", outcome="retrying",
                                                    reason="smtp_timeout")),
                  ("herald_retries_total", dict(channel="email", reason="smtp_timeout")))

    metrics.delivery_recorded("email", metrics.RETRYING, "smtp_timeout")

    assert delta() == [1, 1]


def test_a_send_records_its_lateness_and_for_immediate_ones_the_time_since_creation():
    delta = Delta(("herald_deliveries_total", dict(channel="push", outcome="sent", reason="none")),
                  ("herald_delivery_lateness_seconds_count", dict(channel="push")),
                  ("herald_delivery_lateness_seconds_sum", dict(channel="push")),
                  ("herald_immediate_send_seconds_count", dict(channel="push")),
                  ("herald_immediate_send_seconds_sum", dict(channel="push")))

    metrics.delivery_sent("push", deliver_at=T0, created_at=T0 - timedelta(seconds=1),
                          sent_at=T0 + timedelta(seconds=2), schedule_reason="immediate")
    metrics.delivery_sent("push", deliver_at=T0, created_at=T0 - timedelta(hours=3),
                          sent_at=T0 + timedelta(seconds=0.5), schedule_reason="send_at")

    assert delta() == [2, 2, 2.5, 1, 3]


def test_a_clock_slightly_behind_counts_as_no_delay():
    delta = Delta(("herald_delivery_lateness_seconds_sum", dict(channel="email")),
                  ("herald_delivery_lateness_seconds_bucket", dict(channel="email", le="0.01")))

    metrics.delivery_sent("email", deliver_at=T0, created_at=T0, sent_at=T0 - timedelta(seconds=1),
                          schedule_reason="immediate")

    assert delta() == [0, 1]


def test_a_provider_call_is_timed_and_counted_as_under_way_while_it_lasts():
    labels = dict(channel="push", provider="sandbox")
    delta = Delta(("herald_provider_call_seconds_count", labels))
    inside = []

    with metrics.provider_call("push", "sandbox"):
        inside.append(value("herald_deliveries_in_progress", channel="push"))

    assert inside == [1]
    assert value("herald_deliveries_in_progress", channel="push") == 0
    assert delta() == [1]


def test_a_provider_call_that_raises_is_timed_too():
    delta = Delta(("herald_provider_call_seconds_count", dict(channel="sms", provider="twilio")))

    with pytest.raises(TimeoutError):
        with metrics.provider_call("sms", "twilio"):
            raise TimeoutError

    assert delta() == [1]
    assert value("herald_deliveries_in_progress", channel="sms") == 0


def test_acceptance_and_quiet_hours_shifts():
    delta = Delta(("herald_notifications_accepted_total", dict(channel="email")),
                  ("herald_quiet_hours_shifts_total", dict(channel="email")))

    metrics.notification_accepted("email", quiet_hours_shifted=False)
    metrics.notification_accepted("email", quiet_hours_shifted=True)

    assert delta() == [2, 1]


def test_relay_and_sweeper():
    delta = Delta(("herald_relay_published_total", {}),
                  ("herald_sweeper_recovered_total", dict(outcome="retrying")),
                  ("herald_sweeper_recovered_total", dict(outcome="failed")),
                  ("herald_retries_total", dict(channel="push", reason="lease_expired")),
                  ("herald_retries_total", dict(channel="sms", reason="lease_expired")))

    metrics.relay_published(7)
    metrics.relay_published(0)
    metrics.sweeper_recovered(["push", "push", "sms"], failed=2)

    assert delta() == [7, 3, 2, 2, 1]


# --- on_commit -----------------------------------------------------------------------------------

def test_on_commit_records_after_the_commit_and_only_then(db):
    from sqlalchemy import text

    recorded = []
    metrics.on_commit(db.session, lambda: recorded.append("first"))
    db.session.execute(text("SELECT 1"))
    assert recorded == []

    db.session.commit()

    assert recorded == ["first"]
    db.session.commit()
    assert recorded == ["first"]  # once


def test_on_commit_forgets_what_was_rolled_back(db):
    recorded = []
    metrics.on_commit(db.session, lambda: recorded.append("lost"))

    db.session.rollback()
    db.session.commit()

    assert recorded == []


def test_a_savepoint_is_not_the_commit(db):
    recorded = []
    metrics.on_commit(db.session, lambda: recorded.append("outer"))
    with db.session.begin_nested():
        pass
    assert recorded == []

    db.session.commit()

    assert recorded == ["outer"]


def test_a_failing_recorder_never_fails_the_commit(db, caplog):
    metrics.on_commit(db.session, lambda: 1 / 0)

    db.session.commit()

    assert "recording a metric failed" in caplog.text


# --- queue depth ----------------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def samples(collector) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in collector.collect() for s in family.samples}


def test_the_queue_probe_is_cached_for_a_few_seconds(monkeypatch):
    calls = []

    def probe(app, names, timeout):
        calls.append(timeout)
        return {"push": metrics.QueueDepth(messages=4, consumers=2), "sms": None}

    monkeypatch.setattr(metrics, "probe_queues", probe)
    clock = FakeClock()
    collector = metrics.QueueCollector(object(), ["push", "sms"], timeout=0.5, cache_seconds=5,
                                       clock=clock)

    first = samples(collector)
    clock.now = 4.9
    samples(collector)
    clock.now = 5.0
    samples(collector)

    assert calls == [0.5, 0.5]
    assert first == {("herald_queue_probe_success", ()): 1,
                     ("herald_queue_depth", (("queue", "push"),)): 4,
                     ("herald_queue_consumers", (("queue", "push"),)): 2}


def test_a_broker_that_does_not_answer_reports_probe_failure_and_no_depth(monkeypatch):
    def probe(app, names, timeout):
        raise ConnectionRefusedError("no broker")

    monkeypatch.setattr(metrics, "probe_queues", probe)
    collector = metrics.QueueCollector(object(), ["push"], clock=FakeClock())

    assert samples(collector) == {("herald_queue_probe_success", ()): 0}


def test_a_transport_without_consumer_counts_exposes_depth_only(monkeypatch):
    monkeypatch.setattr(metrics, "probe_queues",
                        lambda app, names, timeout: {"email": metrics.QueueDepth(3, None)})

    got = samples(metrics.QueueCollector(object(), ["email"], clock=FakeClock()))

    assert got == {("herald_queue_probe_success", ()): 1,
                   ("herald_queue_depth", (("queue", "email"),)): 3}


def test_concurrent_scrapes_share_one_probe(monkeypatch):
    calls, gate = [], threading.Event()

    def probe(app, names, timeout):
        calls.append(1)
        gate.wait(1)
        return {}

    monkeypatch.setattr(metrics, "probe_queues", probe)
    collector = metrics.QueueCollector(object(), ["push"], clock=FakeClock())
    threads = [threading.Thread(target=samples, args=(collector,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join()

    assert calls == [1]
