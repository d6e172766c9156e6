"""The relay at scale: how long many rows falling due together take to reach the broker,
and what a million far-future rows cost it (nothing in the broker, little per run).

Runnable alone against this machine's PostgreSQL and RabbitMQ, in a private
database and vhost dropped at the end:

    python -m bench.relay                      # 100,000 due rows, then 1,000,000 far-future ones
    python -m bench.relay --rows 20000 --far-future 0

`make bench` calls `measure_relay(rows)` with Herald's environment already
pointing at its own database and vhost. The relay runs here in this process,
run after run as a maintenance worker takes them when beat's ticks have piled
up behind a long backlog: each run bounded by RELAY_RUN_SECONDS, each chunk
of RELAY_BATCH rows its own transaction, published in bulk after its commit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event, text

from bench.cpu import CpuSampler
from common.models import UNENQUEUED_SQL

# Rows as the API writes them, inserted by PostgreSQL itself: the bench times the relay, not us.
_INSERT = text("""
    INSERT INTO notifications (id, service, api_key_id, channel, recipient, title, body, priority,
                               sandbox, deliver_at, schedule_reason, status, attempts, dispatch_token,
                               enqueued_at, created_at, updated_at)
    SELECT gen_random_uuid(), :service, :api_key_id, 'push', 'bench-device-' || i, 'Bench', 'Hello',
           'normal', true, :first_due + (i * :step) * interval '1 millisecond', 'send_at', 'scheduled',
           0, gen_random_uuid(), NULL, now(), now()
    FROM generate_series(1, :rows) AS i
""")
# Through the relay's own index, so the check costs the bench little however many rows wait.
_WAITING = text(f"SELECT count(*) FROM notifications WHERE {UNENQUEUED_SQL} AND deliver_at <= now() "
                "AND service = :service")
_SERVICE = "bench-relay"


@dataclass
class RelayRun:
    """What one measurement saw: the figure, and what shows the runs and transactions stayed short."""

    rows: int
    seconds: float
    runs: list[float] = field(default_factory=list)  # seconds of each relay run
    transactions: list[float] = field(default_factory=list)  # seconds of each database transaction
    queued: int = 0  # delivery tasks waiting in the channel queues afterwards
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds used meanwhile, by program


def measure_relay(rows: int = 100_000) -> float:
    """Seconds the relay takes to publish `rows` notifications that all fell due at once."""
    return relay_backlog(rows).seconds


def relay_backlog(rows: int, far_future: int = 0) -> RelayRun:
    """Insert `rows` due now (and `far_future` due in a month), then run the relay until none wait.

    Afterwards the rows are deleted and the queues purged, so a caller's next
    measurement starts clean.
    """
    from common.config import settings
    from common.models import utcnow
    from common.recovery import relay_due

    config = settings()
    with _herald_app() as db:
        owner = _owner(db)
        try:
            _insert(db, owner, rows, due_in_seconds=-1, step_ms=0)
            if far_future:
                _insert(db, owner, far_future, due_in_seconds=30 * 86400, step_ms=1000)
            db.session.execute(text("ANALYZE notifications"))
            db.session.commit()
            result = RelayRun(rows=rows, seconds=0.0)
            with _timing_transactions(db, result.transactions):
                sampler = CpuSampler({}).start()
                started = time.perf_counter()
                while _waiting(db):
                    run_started = time.perf_counter()
                    relay_due(config, utcnow())
                    result.runs.append(time.perf_counter() - run_started)
                result.seconds = time.perf_counter() - started
                split = sampler.stop()
            result.cpu = {("relay (this process)" if group == "bench" else group): cores * split.seconds
                          for group, cores in split.cores.items()}
            result.queued = sum(_queue_depths().values())
            return result
        finally:
            _clean_up(db)


def far_future_cost(rows: int = 1_000_000, runs: int = 10) -> dict:
    """Insert `rows` due in a month, run the relay `runs` times: time per run, queue depths, the plan."""
    from common.config import settings
    from common.models import utcnow
    from common.recovery import _never_enqueued, promotion_query, relay_due

    config = settings()
    with _herald_app() as db:
        owner = _owner(db)
        try:
            inserted = time.perf_counter()
            _insert(db, owner, rows, due_in_seconds=30 * 86400, step_ms=1000)
            db.session.execute(text("ANALYZE notifications"))
            db.session.commit()
            insert_seconds = time.perf_counter() - inserted
            timings, published = [], 0
            for _ in range(runs):
                started = time.perf_counter()
                published += relay_due(config, utcnow())
                timings.append(time.perf_counter() - started)
            query = promotion_query(config, utcnow(), _never_enqueued)
            compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = db.session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
            db.session.rollback()
            return {"rows": rows, "insert_seconds": insert_seconds, "published": published,
                    "run_ms": [t * 1000 for t in timings], "queue_depths": _queue_depths(),
                    "plan": plan}
        finally:
            _clean_up(db)


# --- helpers ------------------------------------------------------------------------------------

@contextmanager
def _herald_app():
    """The caller's app context if there is one, else a bare Herald app's."""
    from flask import has_app_context

    from common.celery_app import celery_init_app
    from common.config import settings
    from common.db import create_base_app, db

    if has_app_context():
        yield db
        return
    app = create_base_app(settings())
    celery_init_app(app)  # the relay publishes through the app's Celery
    with app.app_context():
        yield db


def _owner(db) -> uuid.UUID:
    from api.keys.service import create_api_key

    key, _secret = create_api_key(_SERVICE)
    return key.id


def _insert(db, api_key_id: uuid.UUID, rows: int, due_in_seconds: float, step_ms: int) -> None:
    first_due = db.session.execute(text("SELECT now() + :s * interval '1 second'"),
                                   {"s": due_in_seconds}).scalar_one()
    db.session.execute(_INSERT, {"service": _SERVICE, "api_key_id": api_key_id, "rows": rows,
                                 "first_due": first_due, "step": step_ms})
    db.session.commit()


def _waiting(db) -> int:
    with db.engine.connect() as connection:  # not a session: the transaction timings are the relay's
        return connection.execute(_WAITING, {"service": _SERVICE}).scalar_one()


@contextmanager
def _timing_transactions(db, durations: list[float]):
    """Record how long each of this process's database transactions holds its locks.

    From BEGIN to the COMMIT or ROLLBACK; the publish after a commit is not in it.
    """
    from sqlalchemy.orm import Session

    begun: dict[int, float] = {}

    def on_begin(session, transaction, connection):
        begun[id(session)] = time.perf_counter()

    def on_end(session, *_):
        if id(session) in begun:
            durations.append(time.perf_counter() - begun.pop(id(session)))

    listeners = (("after_begin", on_begin), ("after_commit", on_end), ("after_rollback", on_end))
    for name, listener in listeners:
        event.listen(Session, name, listener)
    try:
        yield
    finally:
        for name, listener in listeners:
            event.remove(Session, name, listener)


def _queue_depths() -> dict[str, int]:
    from kombu import Connection

    from bench.drain import queue_depth
    from common import topology
    from common.config import settings

    with Connection(settings().broker_url) as connection:
        for queue in topology.task_queues(settings().quorum_queues):
            queue(connection.default_channel).declare()  # as the workers declare them
        return {name: queue_depth(connection, name) for name in topology.CHANNELS}


def _clean_up(db) -> None:
    from kombu import Connection

    from common import topology
    from common.config import settings

    db.session.rollback()
    db.session.execute(text("DELETE FROM notifications WHERE service = :service"), {"service": _SERVICE})
    db.session.execute(text("DELETE FROM api_keys WHERE service = :service"), {"service": _SERVICE})
    db.session.commit()
    with Connection(settings().broker_url) as connection:
        for queue in topology.task_queues(settings().quorum_queues):
            if queue.name in topology.CHANNELS:
                queue(connection.default_channel).purge()


# --- alone ----------------------------------------------------------------------------------------

def _describe(result: RelayRun) -> str:
    longest_transaction = max(result.transactions, default=0.0)
    return (f"{result.rows:,} rows due together: published in {result.seconds:.1f} s "
            f"({result.rows / result.seconds:,.0f} rows/s), {len(result.runs)} relay runs "
            f"(longest {max(result.runs, default=0):.2f} s), {len(result.transactions)} transactions "
            f"(longest {longest_transaction * 1000:.0f} ms); {result.queued:,} tasks in the queues; "
            f"CPU meanwhile: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.cpu.items())
            + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows due together (default 100000)")
    parser.add_argument("--far-future", type=int, default=1_000_000,
                        help="far-future rows for the second part; 0 skips it (default 1000000)")
    args = parser.parse_args(argv)

    from tests.support import services

    problems = [p for p in (services.postgres_problem(), services.rabbitmq_problem()) if p]
    if problems:
        print("bench.relay needs PostgreSQL and RabbitMQ: " + "; ".join(problems), file=sys.stderr)
        return 2
    name = f"herald_bench_relay_{uuid.uuid4().hex[:8]}"
    os.environ.update(DATABASE_URL=services.database_url(name), BROKER_URL=services.broker_url(name),
                      QUORUM_QUEUES="false")
    services.create_database(name)
    services.create_vhost(name)
    try:
        services.migrate(os.environ["DATABASE_URL"])
        from common.config import settings

        config = settings()
        print(f"relay: chunks of {config.relay_batch} rows, runs of at most "
              f"{config.relay_run_seconds:g} s (RELAY_BATCH, RELAY_RUN_SECONDS)", flush=True)
        print(_describe(relay_backlog(args.rows)), flush=True)
        if args.far_future:
            cost = far_future_cost(args.far_future)
            print(f"{cost['rows']:,} rows due in a month (inserted in {cost['insert_seconds']:.1f} s): "
                  f"{cost['published']} published by {len(cost['run_ms'])} relay runs of "
                  f"{statistics.median(cost['run_ms']):.1f} ms (median; longest "
                  f"{max(cost['run_ms']):.1f} ms); queue depths {cost['queue_depths']}", flush=True)
            print("the promotion query's plan among them:\n  " + "\n  ".join(cost["plan"]), flush=True)
            print(_describe(relay_backlog(args.rows, far_future=args.far_future)) +
                  f", with {args.far_future:,} far-future rows in the table", flush=True)
    finally:
        services.drop_database(name)
        services.delete_vhost(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
