"""GET /metrics (Prometheus) and GET /v1/metrics (a service's event counts over a period)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from common import lifecycle, metrics
from common.celery_app import create_celery
from common.config import settings
from common.db import db
from common.models import ApiKey, Notification, NotificationEvent, utcnow
from common.statuses import Status
from tests.api.helpers import assert_error
from tests.support.broker import purge
from tests.support.clock import days_ahead, naive
from tests.support.factories import email_body, push_body, sms_body
from tests.support.settings import replace

STATUSES = [s.value for s in Status]


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def accepted(client, channel: str) -> float:
    return scrape(client).get(("herald_notifications_accepted_total", (("channel", channel),)), 0)


def create(client, auth, body: dict, **headers) -> str:
    response = client.post("/v1/notifications", json=body, headers={**auth, **headers})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


# --- /metrics --------------------------------------------------------------------------------------

def test_metrics_is_the_prometheus_text_format_with_every_herald_series(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    for family, kind in [("herald_notifications_accepted_total", "counter"),
                         ("herald_deliveries_total", "counter"), ("herald_retries_total", "counter"),
                         ("herald_quiet_hours_shifts_total", "counter"),
                         ("herald_relay_published_total", "counter"),
                         ("herald_sweeper_recovered_total", "counter"),
                         ("herald_provider_call_seconds", "histogram"),
                         ("herald_delivery_lateness_seconds", "histogram"),
                         ("herald_immediate_send_seconds", "histogram"),
                         ("herald_deliveries_in_progress", "gauge"),
                         ("herald_queue_depth", "gauge"), ("herald_queue_consumers", "gauge"),
                         ("herald_queue_probe_success", "gauge")]:
        assert f"# TYPE {family} {kind}" in text, family


def test_openmetrics_is_served_to_who_asks_for_it(client):
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})

    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).endswith("# EOF\n")


def test_each_notification_created_counts_once_by_channel(client, auth):
    before = {c: accepted(client, c) for c in ("push", "email", "sms")}

    create(client, auth, push_body())
    create(client, auth, push_body("device-token-2"))
    create(client, auth, sms_body())
    # A replay of an idempotent request creates nothing, and counts nothing.
    create(client, auth, email_body(), **{"Idempotency-Key": "k-1"})
    create(client, auth, email_body(), **{"Idempotency-Key": "k-1"})
    # Nor does a request refused.
    assert client.post("/v1/notifications", json=sms_body("12"), headers=auth).status_code == 422

    after = {c: accepted(client, c) for c in ("push", "email", "sms")}
    assert {c: after[c] - before[c] for c in after} == {"push": 2, "email": 1, "sms": 1}


def test_a_quiet_hours_shift_is_counted_when_created(client, auth):
    key = ("herald_quiet_hours_shifts_total", (("channel", "push"),))
    before = scrape(client).get(key, 0)

    # 23:00 in New York: inside the default 22:00-08:00, moved to the morning; noon is not.
    night, noon = (days_ahead(hour=hour, zone="America/New_York") for hour in (23, 12))
    create(client, auth, push_body(send_at=naive(night), timezone="America/New_York"))
    create(client, auth, push_body(send_at=naive(noon), timezone="America/New_York"))

    assert scrape(client)[key] - before == 1


@pytest.fixture
def fresh_queue_probe(app):
    """Forget the probe the API cached, so a scrape asks the broker now."""
    app.extensions.pop("herald_queue_collector", None)
    yield
    app.extensions.pop("herald_queue_collector", None)


def test_queue_depth_is_asked_of_the_broker_at_scrape_time(client, auth, fresh_queue_probe):
    purge("sms")
    for i in range(3):  # no pool runs here: the tasks wait in the queue
        create(client, auth, sms_body(f"+44770090012{i}"))

    try:
        got = scrape(client)
    finally:
        purge("sms")

    assert got[("herald_queue_probe_success", ())] == 1
    assert got[("herald_queue_depth", (("queue", "sms"),))] == 3
    assert got[("herald_queue_consumers", (("queue", "sms"),))] == 0


def test_a_broker_that_is_down_costs_a_scrape_one_short_timeout():
    down = create_celery(replace(settings(), broker_url="amqp://guest:guest@127.0.0.1:1//"))
    collector = metrics.QueueCollector(down, ["push"], timeout=0.5)

    started = time.monotonic()
    families = {f.name: f for f in collector.collect()}

    assert time.monotonic() - started < 3
    assert families["herald_queue_probe_success"].samples[0].value == 0
    assert families["herald_queue_depth"].samples == []


# --- /v1/metrics ---------------------------------------------------------------------------------

def v1_metrics(client, auth, **query):
    response = client.get("/v1/metrics", query_string=query, headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_v1_metrics_needs_an_api_key(client):
    assert_error(client.get("/v1/metrics"), 401)


@pytest.mark.parametrize("period", ["0", "-5", "2592001", "abc", "1.5", "", "²", "9" * 30])
def test_a_period_out_of_range_is_refused_naming_it(client, auth, period):
    error = assert_error(client.get("/v1/metrics", query_string={"period": period}, headers=auth),
                         422, "period")

    assert "2,592,000" in error["fields"]["period"]


def test_the_period_defaults_to_an_hour_and_goes_up_to_thirty_days(client, auth):
    default = v1_metrics(client, auth)
    longest = v1_metrics(client, auth, period=2592000)
    shortest = v1_metrics(client, auth, period=1)

    assert default["period_seconds"] == 3600
    assert (longest["period_seconds"], shortest["period_seconds"]) == (2592000, 1)
    assert default["since"].endswith("Z") and default["until"].endswith("Z")
    assert default["by_status"] == dict.fromkeys(STATUSES, 0)
    assert default["by_worker"] == {}
    assert default["totals"] == {"events": 0, "notifications": 0, "worker_events": 0,
                                 "api_events": 0}


def _claim(nid: str, worker: str) -> Notification:
    row = db.session.get(Notification, uuid.UUID(nid))
    claimed = lifecycle.claim_for_delivery(row.id, row.dispatch_token, worker=worker, now=utcnow(),
                                           lease=timedelta(minutes=2))
    db.session.commit()
    return claimed


def test_counts_every_event_of_the_callers_service_by_status_channel_and_worker(
        client, auth, other_auth):
    sent, retried = create(client, auth, push_body()), create(client, auth, push_body("token-2"))
    failed, cancelled = create(client, auth, email_body()), create(client, auth, sms_body())
    create(client, other_auth, push_body())  # another service's: never counted

    row = _claim(sent, "push@a")
    lifecycle.mark_sent(row.id, row.dispatch_token, provider_message_id="m-1", worker="push@a",
                        now=utcnow())
    row = _claim(retried, "push@b")
    lifecycle.mark_retrying(row.id, error_code="fcm_unavailable", error_message="503",
                            deliver_at=utcnow(), horizon=timedelta(0), now=utcnow(),
                            worker="push@b")
    row = _claim(failed, "email@a")
    lifecycle.mark_failed(row.id, error_code="smtp_rejected", error_message="550", now=utcnow(),
                          worker="email@a")
    db.session.commit()
    assert client.post(f"/v1/notifications/{cancelled}/cancel", headers=auth).status_code == 200

    got = v1_metrics(client, auth)

    def counts(**nonzero):
        return {**dict.fromkeys(STATUSES, 0), **nonzero}

    assert got["by_status"] == counts(scheduled=4, sending=3, sent=1, retrying=1, failed=1,
                                      cancelled=1)
    assert got["by_channel"] == {
        "push": counts(scheduled=2, sending=2, sent=1, retrying=1),
        "email": counts(scheduled=1, sending=1, failed=1),
        "sms": counts(scheduled=1, cancelled=1),
        "inapp": counts(),  # every channel is listed, with or without traffic
    }
    assert got["by_worker"] == {
        "email@a": counts(sending=1, failed=1),
        "push@a": counts(sending=1, sent=1),
        "push@b": counts(sending=1, retrying=1),
    }
    assert got["totals"] == {"events": 11, "notifications": 4, "worker_events": 6,
                             "api_events": 5}
    other = v1_metrics(client, other_auth)
    assert other["by_status"] == counts(scheduled=1)
    assert other["by_worker"] == {}


def test_only_events_within_the_period_count(client, auth):
    nid = create(client, auth, push_body())
    db.session.add(NotificationEvent(notification_id=uuid.UUID(nid), at=utcnow() - timedelta(hours=2),
                                     status="sending", attempt=1, worker="push@earlier"))
    db.session.commit()

    last_hour = v1_metrics(client, auth)
    last_three = v1_metrics(client, auth, period=3 * 3600)

    assert (last_hour["by_status"]["scheduled"], last_hour["by_status"]["sending"]) == (1, 0)
    assert last_hour["by_worker"] == {}
    assert (last_three["by_status"]["scheduled"], last_three["by_status"]["sending"]) == (1, 1)
    assert last_three["by_worker"]["push@earlier"]["sending"] == 1
    assert last_three["totals"]["notifications"] == 1


def test_the_count_reads_events_by_time_through_the_index(db):
    from sqlalchemy import distinct, func, text
    from sqlalchemy.dialects import postgresql

    from api.metrics.service import events_in_period

    until = utcnow()
    live_key = ApiKey(service="test-service", kind="live")
    statement = events_in_period(live_key, until - timedelta(hours=1), until,
                                 func.count(distinct(NotificationEvent.notification_id)))
    compiled = statement.compile(dialect=postgresql.dialect())
    connection = db.session.connection()
    connection.execute(text("SET LOCAL enable_seqscan = off"))  # tiny tables would scan anyway
    try:
        plan = "\n".join(row[0] for row in connection.exec_driver_sql(
            f"EXPLAIN {compiled}", compiled.params))
    finally:
        db.session.rollback()

    assert "ix_notification_events_at" in plan
