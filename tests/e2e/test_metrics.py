"""Metrics end to end: Prometheus counters, /v1/metrics and the database agree exactly.

Real processes: the API under gunicorn with two workers (so /metrics must
merge both), and one pool per channel, each serving its metrics on its own
port in multiprocess mode (two pool processes each), all logging JSON.
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.request
import uuid
from collections import Counter, defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from common.db import db
from common.models import Notification, NotificationEvent
from tests.support.broker import purge
from tests.support.clock import days_ahead, naive
from tests.support.factories import BODIES, status_counts
from tests.support.processes import HeraldProcess, start_worker, stop_all
from tests.support.waiting import wait_until

CHANNELS = ("push", "email", "sms")
NEW_YORK = "America/New_York"
OUTCOMES = ("sent", "retrying", "failed", "deferred")
JSON_LOGS = {"LOG_FORMAT": "json"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, headers: dict | None = None) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
        return r.read()


def post_json(url: str, body: dict, headers: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return json.loads(response.read())


def scrape(url: str) -> list:
    """Every sample at a /metrics URL."""
    return [s for family in text_string_to_metric_families(get(url).decode())
            for s in family.samples]


def total(samples, name: str, **labels) -> float:
    return sum(s.value for s in samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.fixture(scope="module")
def metered_pools(app, log_dir):
    """push@, email@, sms@ with quick retries, metrics on a port each, JSON logs."""
    purge(*CHANNELS)  # tasks left by earlier test modules, whose rows are gone
    started, ports = [], {}
    try:
        for channel in CHANNELS:
            ports[channel] = free_port()
            env = {**JSON_LOGS, "WORKER_METRICS_PORT": str(ports[channel]),
                   "RETRY_BASE_DELAY_SECONDS": "0.2"}
            started.append(start_worker(channel, log_dir, concurrency=2, env=env,
                                        name=f"{channel}-metered"))
        yield {channel: (process, ports[channel]) for channel, process in zip(CHANNELS, started)}
    finally:
        stop_all(started)


@pytest.fixture(scope="module")
def gunicorn_api(app, log_dir):
    """The API as production runs it: gunicorn, two sync workers, gunicorn.conf.py read."""
    port = free_port()
    api = HeraldProcess("api-gunicorn",
                        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                         "--workers", "2", "--access-logfile", "-", "api:create_app()"],
                        log_dir, JSON_LOGS)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(f"{base}/health"), timeout=30,
                   message=f"gunicorn did not start:\n{api.log()[-3000:]}")
        yield base, api
    finally:
        api.stop()


def _answers(url: str) -> bool:
    try:
        return get(url) is not None
    except OSError:
        return False


# What each kind of request ends as, in the sandbox: (final status, failed attempts before it).
FATE = {"fails for good": ("failed", 0), "fails once": ("sent", 1), "goes": ("sent", 0),
        "waits out quiet hours": ("scheduled", 0)}


def requests_to_send() -> list[tuple[str, dict]]:
    """60 notifications, 20 per channel, each with its kind: 2 fail for good, 3 fail once then go,
    the rest go, but one waits out quiet hours."""
    requests = []
    for i in range(20):
        tag = uuid.uuid4().hex[:8]
        if i < 2:
            kind, (push, email, sms) = "fails for good", (
                f"herald-fail-permanent-{tag}", f"herald-fail-permanent-{tag}@example.com",
                "+15005550001")
        elif i < 5:
            kind, (push, email, sms) = "fails once", (
                f"herald-fail-transient-1-{tag}", f"herald-fail-transient-1-{tag}@example.com",
                "+15005550101")
        else:
            kind, (push, email, sms) = "goes", (f"tok-{tag}", f"user-{tag}@example.com",
                                                f"+4477009{i:05d}")
        requests += [(kind, BODIES["push"](push)), (kind, BODIES["email"](email)),
                     (kind, BODIES["sms"](sms))]
    # 23:00 in New York, a month ahead: moved to the morning, so it stays scheduled.
    requests[-3] = ("waits out quiet hours", BODIES["push"](
        f"tok-night-{uuid.uuid4().hex[:6]}", send_at=naive(days_ahead(hour=23, zone=NEW_YORK)),
        timezone=NEW_YORK))
    return requests


def expected_outcomes(kinds: list[str]) -> dict[str, int]:
    """The final statuses and retries that requests of these kinds must end with."""
    finals = Counter(FATE[kind][0] for kind in kinds)
    return {"sent": finals["sent"], "failed": finals["failed"],
            "retrying": sum(FATE[kind][1] for kind in kinds), "scheduled": finals["scheduled"]}


def database_counts() -> dict[str, int]:
    db.session.rollback()  # see the other processes' commits

    def events(status: str, by_worker: bool = True) -> int:
        query = select(func.count()).select_from(NotificationEvent).where(
            NotificationEvent.status == status)
        if by_worker:
            query = query.where(NotificationEvent.worker.is_not(None))
        return db.session.scalar(query)

    return {
        "accepted": db.session.scalar(select(func.count()).select_from(Notification)),
        "quiet_hours_shifts": db.session.scalar(select(func.count()).select_from(Notification)
                                                .where(Notification.schedule_reason == "quiet_hours")),
        "attempts": events("sending"),
        **{outcome: events(outcome) for outcome in ("sent", "retrying", "failed")},
        # A deferral is the only `scheduled` event a worker writes.
        "deferred": events("scheduled"),
        "immediate_sent": db.session.scalar(
            select(func.count()).select_from(Notification)
            .where(Notification.status == "sent", Notification.schedule_reason == "immediate")),
    }


def test_prometheus_v1_metrics_and_the_database_agree_exactly(
        metered_pools, gunicorn_api, auth, capsys):
    base, _api = gunicorn_api
    kinds, bodies = zip(*requests_to_send())
    expected = expected_outcomes(kinds)
    for body in bodies:
        post_json(f"{base}/v1/notifications", body, auth)
    due = expected["sent"] + expected["failed"]  # all but those moved out of quiet hours
    wait_until(lambda: sum(status_counts().get(s, 0) for s in ("sent", "failed")) == due,
               timeout=60, message=f"not all finished: {status_counts()}")

    # Each pool: its own series, from all its processes.
    pools = {channel: scrape(f"http://127.0.0.1:{port}/metrics")
             for channel, (_process, port) in metered_pools.items()}
    for channel, samples in pools.items():
        delivered = {s.labels["channel"] for s in samples if s.name == "herald_deliveries_total"}
        assert delivered == {channel}, f"{channel} pool counted {delivered}"
        assert total(samples, "herald_deliveries_in_progress") == 0
    prometheus = {
        outcome: sum(total(s, "herald_deliveries_total", outcome=outcome) for s in pools.values())
        for outcome in OUTCOMES}
    prometheus["attempts"] = sum(total(s, "herald_provider_call_seconds_count")
                                 for s in pools.values())
    prometheus["immediate_sent"] = sum(total(s, "herald_immediate_send_seconds_count")
                                       for s in pools.values())
    lateness = sum(total(s, "herald_delivery_lateness_seconds_count") for s in pools.values())

    # The API: whichever gunicorn worker answers, it reports both workers' counts.
    scrapes = [scrape(f"{base}/metrics") for _ in range(8)]
    accepted = {total(s, "herald_notifications_accepted_total") for s in scrapes}
    shifts = {total(s, "herald_quiet_hours_shifts_total") for s in scrapes}
    assert len(accepted) == 1 and len(shifts) == 1, (accepted, shifts)
    prometheus["accepted"], prometheus["quiet_hours_shifts"] = accepted.pop(), shifts.pop()
    api_scrape = scrapes[-1]
    assert total(api_scrape, "herald_queue_probe_success") == 1
    for channel in CHANNELS:
        assert total(api_scrape, "herald_queue_consumers", queue=channel) == 1
        assert total(api_scrape, "herald_queue_depth", queue=channel) == 0

    v1 = json.loads(get(f"{base}/v1/metrics?period=3600", auth))
    by_worker = v1["by_worker"]
    from_v1 = {
        "accepted": v1["by_status"]["scheduled"] - sum(w["scheduled"] for w in by_worker.values()),
        "attempts": v1["by_status"]["sending"],
        **{outcome: v1["by_status"][outcome] for outcome in ("sent", "retrying", "failed")},
        "deferred": sum(w["scheduled"] for w in by_worker.values()),
    }

    database = database_counts()

    rows = ["accepted", "quiet_hours_shifts", "attempts", *OUTCOMES, "immediate_sent"]
    with capsys.disabled():
        print(f"\n{'':>20} {'prometheus':>11} {'/v1/metrics':>12} {'database':>9}")
        for row in rows:
            print(f"{row:>20} {prometheus[row]:>11.0f} {from_v1.get(row, '-'):>12} "
                  f"{database[row]:>9}")
    assert database["accepted"] == len(bodies)
    assert {outcome: database[outcome] for outcome in ("sent", "failed", "retrying")} == {
        outcome: expected[outcome] for outcome in ("sent", "failed", "retrying")}
    assert database["quiet_hours_shifts"] == expected["scheduled"]
    # Every attempt ends sent, retrying or failed: none is deferred here.
    assert database["attempts"] == expected["sent"] + expected["retrying"] + expected["failed"]
    for row in rows:
        assert prometheus[row] == database[row], row
        if row in from_v1:
            assert from_v1[row] == database[row], row
    assert lateness == database["sent"]

    # Per pool, too: each pool's counters are what /v1/metrics says its worker wrote.
    for channel, (process, _port) in metered_pools.items():
        [worker] = [w for w in by_worker if w.startswith(f"{channel}-metered@")]
        for outcome in ("sent", "retrying", "failed"):
            assert total(pools[channel], "herald_deliveries_total", outcome=outcome) == \
                by_worker[worker][outcome], (channel, outcome)


def test_every_delivery_task_logs_one_json_line_with_masked_addresses(metered_pools, auth, client):
    addresses = {"push": f"tok-{uuid.uuid4().hex}", "email": f"grace-{uuid.uuid4().hex[:6]}@example.com",
                 "sms": "+447700900777"}
    ids = {}
    for channel, address in addresses.items():
        response = client.post("/v1/notifications", json=BODIES[channel](address), headers=auth)
        assert response.status_code == 202
        ids[channel] = response.get_json()["id"]
    retried = client.post("/v1/notifications", headers=auth,
                          json=BODIES["email"]("herald-fail-transient-1-x@example.com"))
    ids["retried"] = retried.get_json()["id"]
    wait_until(lambda: status_counts().get("sent", 0) >= 4, timeout=30,
               message=f"not all sent: {status_counts()}")

    lines = defaultdict(list)
    for channel, (process, _port) in metered_pools.items():
        log = process.log()
        for address in addresses.values():
            assert address not in log, f"{channel} pool logged a raw address"
        for line in log.splitlines():
            if line.startswith("{"):
                entry = json.loads(line)  # every JSON-looking line parses
                if entry.get("event") == "delivery":
                    lines[entry["notification_id"]].append(entry)

    for channel, address in addresses.items():
        [entry] = lines[ids[channel]]
        assert entry["channel"] == channel
        assert entry["outcome"] == "sent" and entry["reason"] is None
        assert entry["attempt"] == 1
        assert entry["worker"].startswith(f"{channel}-metered@")
        assert entry["to"] and entry["to"] != address
        assert entry["task"] == f"herald.deliver.{channel}" and entry["task_id"]
        assert entry["level"] == "info" and entry["message"].endswith(": sent")
    assert [(e["attempt"], e["outcome"], e["reason"]) for e in lines[ids["retried"]]] == [
        (1, "retrying", "sandbox_unavailable"), (2, "sent", None)]
    assert Counter(e["to"] for e in lines[ids["retried"]]) == {"h***@example.com": 2}


def test_the_api_logs_json_under_gunicorn(gunicorn_api):
    base, api = gunicorn_api
    get(f"{base}/health")

    entries = [json.loads(line) for line in api.log().splitlines() if line.startswith("{")]

    assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in entries)
    assert any(e["logger"] == "gunicorn.access" and "GET /health" in e["message"] for e in entries)
