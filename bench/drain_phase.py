"""drain_sandbox and drain_latency: how fast one pool empties a queue of due deliveries."""

from __future__ import annotations

import statistics
import time

from sqlalchemy import text

from bench import baseline_tasks
from bench.context import Bench
from bench.cpu import CpuSampler
from bench.drain import measure_drain
from bench.environment import bench_pool, pool_origin, start_pool
from bench.results import Section
from bench.seed import queue_due
from common.db import db
from tests.support.fake_fcm import FakeFcm

PROVIDER_LATENCY_MS = 100


def _drain(bench: Bench, name: str, celery_app: str, queue: str, pool_args: list[str], tasks: int,
           max_seconds: float, env=None):
    """Start a pool on a queue holding `tasks` messages and time it; returns the result and CPU split."""
    holder = {}

    def start():
        pool = start_pool(name, celery_app, queue, pool_args, bench.log_dir, env)
        bench.cleanup.callback(pool.stop)
        holder["pool"], holder["sampler"] = pool, CpuSampler({pool.pid: "pool"}).start()
        return pool

    outcome = measure_drain(bench.broker_url, queue, start, max_tasks=tasks, max_seconds=max_seconds)
    if outcome is None:
        raise RuntimeError(f"nothing was queued on {queue!r}")
    result, pool = outcome
    split = holder["sampler"].stop()
    pool.stop()  # a warm shutdown: tasks in progress finish, reserved ones go back
    return result, split


def measure_drain_sandbox(bench: Bench, section: Section) -> None:
    """Herald's push pool on the sandbox against the no-op baseline, same pool options, alternating."""
    pool = bench_pool("push")
    pool_args, pool_env = pool.pinned()
    tasks = 600 if bench.quick else 1500
    rates: dict[str, list[float]] = {"baseline": [], "herald": []}
    cpu = {}
    for round_number in range(bench.rounds):
        bench.reset_notifications()
        for _ in range(tasks):
            baseline_tasks.publish("bench")
        result, cpu["baseline"] = _drain(bench, f"baseline-pool-{round_number}", "bench.baseline_tasks",
                                         baseline_tasks.QUEUE, pool_args, tasks, bench.seconds * 2, pool_env)
        rates["baseline"].append(result.per_second)
        with bench.app.app_context():
            queue_due(tasks, bench.api_key_id)
        result, cpu["herald"] = _drain(bench, f"herald-pool-{round_number}", "workers", "push",
                                       pool_args, tasks, bench.seconds * 2, pool_env)
        rates["herald"].append(result.per_second)
    section.figures.update(
        herald_tps=statistics.median(rates["herald"]), baseline_tps=statistics.median(rates["baseline"]),
        ratio=statistics.median(h / b for h, b in zip(rates["herald"], rates["baseline"])))
    section.notes.append(f"pool {pool.describe()} ({pool_origin('push')}), run as {' '.join(pool_args)} "
                         f"for both; "
                         f"{tasks} tasks per round; rounds: Herald "
                         f"{', '.join(f'{r:,.0f}' for r in rates['herald'])}, baseline "
                         f"{', '.join(f'{r:,.0f}' for r in rates['baseline'])} tasks/s")
    section.notes.append(f"Herald pool {cpu['herald'].describe()}")
    section.notes.append(f"baseline pool {cpu['baseline'].describe()}")
    section.notes.append(f"Herald check: {delivery_check(bench)}")


def delivery_check(bench: Bench) -> str:
    """What the pools left behind: nothing but sent and still-queued rows."""
    with bench.app.app_context():
        counts = dict(db.session.execute(text("SELECT status, count(*) FROM notifications GROUP BY status")).all())
        db.session.rollback()
    if set(counts) - {"sent", "scheduled"}:
        raise RuntimeError(f"Herald's drain left unexpected statuses: {counts}")
    return f"{counts.get('sent', 0)} sent, {counts.get('scheduled', 0)} still scheduled"


class SlowFcm(FakeFcm):
    """The project's FCM fake, answering every messages:send after a fixed delay (a real provider's latency)."""

    def __init__(self, latency_seconds: float):
        super().__init__()
        self.latency_seconds = latency_seconds

    def respond(self, path, headers, body):
        reply = super().respond(path, headers, body)
        if path != "/token":
            time.sleep(self.latency_seconds)  # each connection has its own server thread
        return reply


def measure_drain_latency(bench: Bench, section: Section) -> None:
    """One push pool process, the real FCM provider, the fake answering after 100 ms."""
    pool = bench_pool("push")
    pool_args, pool_env = pool.pinned()
    in_flight = pool.concurrency
    ideal = in_flight * 1000 / PROVIDER_LATENCY_MS
    window = 6 if bench.quick else 15
    tasks = int(min(max(ideal * window * 1.5, 100), 20_000))
    section.figures.update(provider_latency_ms=PROVIDER_LATENCY_MS, in_flight=in_flight, ideal_dps=ideal)
    bench.reset_notifications()
    with SlowFcm(PROVIDER_LATENCY_MS / 1000) as fcm:
        account = fcm.service_account("herald-bench")
        settings = fcm.settings_file(account, bench.log_dir)
        env = {**pool_env, "FCM_CREDENTIALS_FILE": settings.credentials_file,
               "FCM_PROJECT_ID": settings.project_id, "FCM_ENDPOINT": settings.endpoint}
        with bench.app.app_context():
            queue_due(tasks, bench.api_key_id)
        result, split = _drain(bench, "herald-fcm-pool", "workers", "push", pool_args, tasks, window, env)
        sends = len(fcm.messages.sends)
    section.figures.update(herald_dps=result.per_second, ratio=result.per_second / ideal)
    section.notes.append(f"pool {pool.describe()} ({pool_origin('push')}), run as "
                         f"{' '.join(pool_args)}; "
                         f"{result.tasks} deliveries timed in {result.seconds:.1f} s; "
                         f"{sends} requests reached the fake FCM")
    section.notes.append(split.describe())
    section.notes.append(f"Herald check: {delivery_check(bench)}")
