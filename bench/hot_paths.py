"""Herald's own CPU per accepted POST and per delivery, with the round trips each makes.

    .venv/bin/python -m bench.hot_paths [--posts 1000] [--rounds 3] [--deliveries 2000]

CPU time per operation moves far less than requests a second when other work
shares the machine, so it is the figure to compare from change to change.

- API: single `POST /v1/notifications` (a push due now) through Flask's test
  client in this process, against PostgreSQL, RabbitMQ and Redis (the rate
  limit on, with a budget of its own far above the load): this process's CPU
  per POST, and per POST the SQL statements, broker publishes, broker socket
  reads (waits for confirms) and Redis commands.
- Worker: a push pool as the Procfile starts it (the sandbox provider)
  emptying a queue of due deliveries: the pool process's CPU per delivery,
  from /proc, once the first 50 are sent.

A private database and vhost, dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.support import services

NAME = f"herald_hot_{uuid.uuid4().hex[:8]}"
BENCH_LIMIT = "10000000/second"  # far above the load: the limiter counts, never refuses
PUSH = {"channel": "push", "to": "bench-device-token", "priority": "critical",
        "content": {"title": "Bench", "body": "Hello from the benchmark"}}
TICK = os.sysconf("SC_CLK_TCK")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.hot_paths", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=1000, help="timed POSTs a round (1000)")
    parser.add_argument("--rounds", type=int, default=3, help="API rounds (3)")
    parser.add_argument("--deliveries", type=int, default=2000, help="deliveries drained (2000)")
    return parser.parse_args(argv)


@contextmanager
def counting(engine) -> Counter:
    """Count SQL statements, AMQP publishes and socket reads, and Redis commands meanwhile."""
    import amqp.channel
    import amqp.connection
    import amqp.spec
    import redis.connection
    from sqlalchemy import event

    counts = Counter()
    send_method = amqp.channel.Channel.send_method
    drain_events = amqp.connection.Connection.drain_events
    send_command = redis.connection.Connection.send_command

    def sending(channel, method, *args, **kwargs):  # every publish, whoever wrapped basic_publish
        if method == amqp.spec.Basic.Publish:
            counts["broker publishes"] += 1
        return send_method(channel, method, *args, **kwargs)

    def reading(connection, *args, **kwargs):
        counts["broker reads"] += 1
        return drain_events(connection, *args, **kwargs)

    def commanding(connection, *args, **kwargs):
        counts["redis commands"] += 1
        return send_command(connection, *args, **kwargs)

    amqp.channel.Channel.send_method = sending
    amqp.connection.Connection.drain_events = reading
    redis.connection.Connection.send_command = commanding

    def statement(*_args, **_kwargs):
        counts["SQL statements"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        amqp.channel.Channel.send_method = send_method
        amqp.connection.Connection.drain_events = drain_events
        redis.connection.Connection.send_command = send_command


def measure_api(args) -> None:
    from api import create_app
    from api.keys.service import create_api_key
    from common.db import db

    app = create_app()
    with app.app_context():
        _key, secret = create_api_key("hot-paths", write_rate_limit=BENCH_LIMIT,
                                      read_rate_limit=BENCH_LIMIT)
        engine = db.engine
    client, headers = app.test_client(), {"Authorization": f"Bearer {secret}"}

    def post() -> None:
        response = client.post("/v1/notifications", json=PUSH, headers=headers)
        if response.status_code != 202:
            raise RuntimeError(f"expected 202, got {response.status_code}: {response.get_data(True)}")

    for _ in range(200):  # connections opened, statements compiled
        post()
    with counting(engine) as counts:
        for _ in range(100):
            post()
    print("API, per POST: " + ", ".join(f"{counts[label] / 100:.2f} {label}" for label in
                                        ("SQL statements", "broker publishes", "broker reads",
                                         "redis commands")) + " (besides the commit)")
    for round_number in range(args.rounds):
        cpu, wall = time.process_time(), time.monotonic()
        for _ in range(args.posts):
            post()
        print(f"  round {round_number + 1}: {1000 * (time.process_time() - cpu) / args.posts:.2f} ms "
              f"CPU per POST ({1000 * (time.monotonic() - wall) / args.posts:.2f} ms wall)")


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def measure_worker(args, log_dir: Path) -> None:
    from sqlalchemy import text

    from api import create_app
    from api.keys.service import create_api_key
    from bench.environment import bench_pool, start_pool
    from bench.seed import queue_due
    from common.db import db

    app = create_app()
    with app.app_context():
        key, _secret = create_api_key("hot-paths-worker")
        queue_due(args.deliveries, key.id)

    def sent() -> int:
        with app.app_context():
            count = db.session.execute(text("SELECT count(*) FROM notifications "
                                            "WHERE status = 'sent'")).scalar_one()
            db.session.remove()
        return count

    pool_args, pool_env = bench_pool("push").pinned()
    pool = start_pool("hot-paths-push", "workers", "push", pool_args, log_dir, pool_env)
    try:
        deadline = time.monotonic() + 300
        while (started := sent()) < 50:
            if time.monotonic() > deadline or pool.process.poll() is not None:
                raise RuntimeError(f"the pool delivered nothing; see {pool.log_path}")
            time.sleep(0.05)
        cpu, wall = _cpu_seconds(pool.pid), time.monotonic()
        while (done := sent()) < args.deliveries and time.monotonic() < deadline:
            time.sleep(0.1)
        delivered = done - started
        print(f"Worker: push pool ({' '.join(pool_args)}), {delivered} deliveries on the sandbox: "
              f"{1000 * (_cpu_seconds(pool.pid) - cpu) / delivered:.2f} ms CPU per delivery, "
              f"{delivered / (time.monotonic() - wall):,.0f} deliveries/s")
    finally:
        pool.stop()


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="herald-hot-paths-") as var, ExitStack() as cleanup:
        services.create_database(NAME)
        cleanup.callback(services.drop_database, NAME)
        services.create_vhost(NAME)
        cleanup.callback(services.delete_vhost, NAME)
        os.environ.update(HERALD_VAR_DIR=var, DATABASE_URL=services.database_url(NAME),
                          BROKER_URL=services.broker_url(NAME), QUORUM_QUEUES="false",
                          RATE_LIMIT_STORAGE_URL=services.redis_url(), RATE_LIMIT_KEY_PREFIX=NAME)
        cleanup.callback(services.delete_redis_keys, NAME)
        for switch in ("FCM_CREDENTIALS_FILE", "FCM_CREDENTIALS_JSON"):
            os.environ.pop(switch, None)
        services.migrate(os.environ["DATABASE_URL"])
        (Path(var) / "logs").mkdir()
        measure_api(args)
        measure_worker(args, Path(var) / "logs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
