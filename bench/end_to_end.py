"""end_to_end: single POSTs for a fixed time, everything running here; accept→sent from the rows' timestamps."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from sqlalchemy import text

from bench.api_phase import check_published_at_once
from bench.context import Bench
from bench.cpu import CpuSampler
from bench.environment import (PUSH_REQUEST, bench_pool, pool_origin, procfile_pool, start_gunicorn,
                               start_pool)
from bench.http_load import post_load
from bench.results import Section
from common.db import db
from tests.support.processes import start_beat

# Rows accepted inside the window: how many, how many sent by the deadline, and
# the 99th percentile of accept→sent (a row still unsent counts up to the deadline).
_FIGURES = text("""
    SELECT count(*) FILTER (WHERE sent_at >= :start AND sent_at < :end) AS sent_in_window,
           count(*) FILTER (WHERE created_at >= :start AND created_at < :end) AS accepted,
           count(*) FILTER (WHERE created_at >= :start AND created_at < :end AND status = 'sent') AS delivered,
           percentile_cont(0.99) WITHIN GROUP (
               ORDER BY extract(epoch FROM coalesce(sent_at, CAST(:deadline AS timestamptz)) - created_at))
               FILTER (WHERE created_at >= :start AND created_at < :end) AS p99_seconds
    FROM notifications
""")
_UNSENT = text("SELECT count(*) FROM notifications WHERE created_at >= :start AND created_at < :end "
               "AND status <> 'sent'")


def measure_end_to_end(bench: Bench, section: Section) -> None:
    seconds = 15 if bench.quick else 60
    bench.reset_notifications()
    api, port = start_gunicorn("e2e-api", "api:create_app()", bench.api_workers, bench.log_dir)
    bench.cleanup.callback(api.stop)
    push_args, push_env = bench_pool("push").pinned()
    push = start_pool("e2e-push", "workers", "push", push_args, bench.log_dir, push_env)
    bench.cleanup.callback(push.stop)
    maintenance_args, maintenance_env = procfile_pool("maintenance").as_is()
    maintenance = start_pool("e2e-maintenance", "workers", "maintenance", maintenance_args, bench.log_dir,
                             maintenance_env)
    bench.cleanup.callback(maintenance.stop)
    beat = start_beat(bench.log_dir)
    bench.cleanup.callback(beat.stop)
    for pool in (push, maintenance):
        pool.wait_for_log(" ready.", timeout=60)
    check_published_at_once(port, bench.api_key)

    sampler = CpuSampler({api.pid: "API", push.pid: "push pool", maintenance.pid: "maintenance",
                          beat.pid: "beat"}).start()
    start = datetime.now(timezone.utc)
    load = post_load(port, "/v1/notifications", json.dumps(PUSH_REQUEST).encode(), bench.api_key,
                     connections=bench.clients, seconds=seconds)
    end = datetime.now(timezone.utc)
    split = sampler.stop({"load client": load.client_cpu_seconds})
    deadline = _wait_until_sent(bench, start, end, patience=10 if bench.quick else 30)
    with bench.app.app_context():
        row = db.session.execute(_FIGURES, {"start": start, "end": end, "deadline": deadline}).one()
        db.session.rollback()
    window = (end - start).total_seconds()
    section.figures.update(sustained_nps=row.sent_in_window / window, seconds=round(window),
                           p99_accept_to_sent_ms=float(row.p99_seconds or 0) * 1000)
    section.notes.append(f"push pool {' '.join(push_args)} ({pool_origin('push')}), "
                         f"API gunicorn -w {bench.api_workers}, maintenance "
                         f"and beat; {load.requests:,} POSTs from {bench.clients} connections "
                         f"({load.non_2xx} not 2xx), {row.accepted:,} rows accepted, {row.sent_in_window:,} "
                         f"sent inside the window, {row.delivered:,} of the accepted sent by the end")
    section.notes.append(split.describe())


def _wait_until_sent(bench: Bench, start: datetime, end: datetime, patience: float) -> datetime:
    """Give the pool up to `patience` seconds to finish the window's rows; returns when it stopped looking."""
    give_up = time.monotonic() + patience
    while True:
        with bench.app.app_context():
            unsent = db.session.execute(_UNSENT, {"start": start, "end": end}).scalar_one()
            db.session.rollback()
        if unsent == 0 or time.monotonic() > give_up:
            return datetime.now(timezone.utc)
        time.sleep(0.5)
