"""relay: many rows falling due together, promoted to the broker by the relay under Celery beat."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import text

from bench.context import Bench
from bench.cpu import CpuSampler
from bench.environment import procfile_pool, start_pool
from bench.results import Section
from bench.seed import insert_due
from common.db import db
from tests.support.processes import start_beat

_PROGRESS = text("SELECT count(*) FILTER (WHERE enqueued_at IS NULL) AS waiting, max(enqueued_at) AS last "
                 "FROM notifications")


def measure_relay(bench: Bench, section: Section) -> None:
    rows = 20_000 if bench.quick else 100_000
    cap = 60 if bench.quick else 150  # today's relay needs ~400 s for 100,000: report, don't wait
    bench.reset_notifications()
    options, env = procfile_pool("maintenance").as_is()
    maintenance = start_pool("relay-maintenance", "workers", "maintenance", options, bench.log_dir, env)
    bench.cleanup.callback(maintenance.stop)
    maintenance.wait_for_log(" ready.", timeout=60)
    beat = start_beat(bench.log_dir)
    bench.cleanup.callback(beat.stop)

    with bench.app.app_context():
        insert_due(rows, bench.api_key_id, enqueued=False)  # one commit: all due at once
    due_at = datetime.now(timezone.utc)
    sampler = CpuSampler({maintenance.pid: "maintenance", beat.pid: "beat"}).start()
    stop_at = time.monotonic() + cap
    while True:
        with bench.app.app_context():
            progress = db.session.execute(_PROGRESS).one()
            db.session.rollback()
        if progress.waiting == 0 or time.monotonic() > stop_at:
            break
        time.sleep(0.5)
    split = sampler.stop()
    maintenance.stop()
    beat.stop()
    bench.purge("push")
    section.figures["rows"] = rows
    promoted = rows - progress.waiting
    elapsed = ((progress.last - due_at).total_seconds() if progress.last else cap)
    if progress.waiting == 0:
        section.figures["seconds"] = max(elapsed, 0.0)
        section.notes.append(f"{rows:,} rows promoted at {rows / max(elapsed, 1e-3):,.0f} rows/s")
    else:
        rate = promoted / cap
        section.notes.append(f"not measured to the end: {promoted:,} of {rows:,} promoted in {cap} s "
                             f"({rate:,.0f} rows/s; all would take about "
                             f"{rows / rate:,.0f} s)" if rate else f"nothing promoted in {cap} s")
    section.notes.append(split.describe())
