"""Soak: 10,000 pushes through one push pool process at full concurrency, several runs.

The FCM fake answers every send after 100 ms. A pool that stalls (two
threads reading one broker connection), loses a result, or sends a message
twice fails here: every row must end `sent`, FCM must have seen each device
exactly once, and each stored message name must be one FCM gave. Slow (about
half a minute per run), so it runs only when asked:

    HERALD_SOAK=3 pytest -s tests/fault/test_soak.py

HERALD_SOAK is the number of runs; SOAK_DELIVERIES and SOAK_CONCURRENCY
change the size. Each run prints its figures as one JSON line.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from common.models import Notification
from tests.fault.harness import report, wait_for_sent
from tests.fault.soak import SoakFigures, cpu_seconds, queue_due_pushes, sent_span, start_slow_fcm
from tests.support.factories import status_counts

RUNS = int(os.environ.get("HERALD_SOAK") or 0)
DELIVERIES = int(os.environ.get("SOAK_DELIVERIES") or 10_000)
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY") or 64)
LATENCY = 0.1

pytestmark = pytest.mark.skipif(not RUNS, reason="a soak: set HERALD_SOAK=<runs> to run it")


@pytest.fixture
def owner(db):
    from api.keys.service import create_api_key

    key, _secret = create_api_key("soak-service")
    return key


@pytest.mark.parametrize("run", range(1, RUNS + 1))
def test_a_push_pool_at_full_concurrency_sends_each_row_once(run, db, owner, fleet, tmp_path):
    fcm, fcm_env = start_slow_fcm(tmp_path, LATENCY)
    try:
        ids = queue_due_pushes(owner, DELIVERIES)
        pool = fleet.worker("push", concurrency=CONCURRENCY,
                            env={**fcm_env, "WORKER_CONCURRENCY": str(CONCURRENCY)})
        wait_for_sent(DELIVERIES, timeout=DELIVERIES / 50 + 60, interval=0.5)
        sent, seconds = sent_span()
        figures = SoakFigures(sent, seconds, CONCURRENCY, LATENCY, fcm.messages.most_in_flight,
                              cpu_seconds(pool.pid), fcm.connections, len(fcm.tokens.requests))
        report(f"soak run {run}", **figures.as_dict())

        assert status_counts() == {"sent": DELIVERIES}
        sends = fcm.messages.sends_per_device()
        assert set(sends) == set(ids), "FCM saw a device that was not queued, or missed one"
        repeated = {device: n for device, n in sends.items() if n != 1}
        assert repeated == {}, f"{len(repeated)} devices got more than one send"
        db.session.rollback()
        stored = db.session.execute(select(Notification.provider_message_id)).scalars().all()
        assert len(set(stored)) == DELIVERIES and None not in stored, \
            "each sent row holds its own FCM message name"
        # Connections kept alive, one per thread at most; one token for the whole run.
        assert figures.connections <= CONCURRENCY and figures.token_exchanges == 1, figures
    finally:
        fcm.stop()


DRAIN_TASKS = int(os.environ.get("SOAK_DRAIN_TASKS") or 4_000)


@pytest.mark.parametrize("run", range(1, RUNS + 1))
def test_a_sandbox_drain_against_a_bare_celery_drain(run, db, owner, fleet, log_dir):
    """Herald's push pool on the sandbox and a no-op Celery task, both threads at CONCURRENCY."""
    import sys

    from bench import baseline_tasks
    from bench.drain import measure_drain
    from tests.support.processes import HeraldProcess

    def pool(name: str, app: str, queue: str, env: dict):
        def start():
            process = HeraldProcess(
                f"{name}-{run}",
                [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queue, "-n", f"{name}-{run}@%h",
                 "--pool", "threads", "--concurrency", str(CONCURRENCY), "--without-mingle",
                 "--without-gossip", "--loglevel", "INFO"], log_dir, env)
            fleet.processes.append(process)
            process.wait_for_log(" ready.", timeout=60)
            return process
        return start

    queue_due_pushes(owner, DRAIN_TASKS)
    herald, _ = measure_drain(os.environ["BROKER_URL"], "push",
                              pool("herald", "workers", "push", {"WORKER_CONCURRENCY": str(CONCURRENCY)}),
                              max_tasks=DRAIN_TASKS, max_seconds=30)
    for i in range(DRAIN_TASKS):
        baseline_tasks.publish(str(i))
    bare, _ = measure_drain(os.environ["BROKER_URL"], baseline_tasks.QUEUE,
                            pool("baseline", "bench.baseline_tasks", baseline_tasks.QUEUE, {}),
                            max_tasks=DRAIN_TASKS, max_seconds=30)
    report(f"sandbox drain run {run}", concurrency=CONCURRENCY, herald_tps=round(herald.per_second, 1),
           baseline_tps=round(bare.per_second, 1), ratio=round(herald.per_second / bare.per_second, 3))
    wait_for_sent(DRAIN_TASKS, timeout=60)
    assert status_counts() == {"sent": DRAIN_TASKS}
