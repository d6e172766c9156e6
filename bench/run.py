"""`make bench`: Herald against bare baselines on this machine's PostgreSQL and RabbitMQ, printed as ratios."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.support import services
from tests.support.processes import HeraldProcess

HOST = "127.0.0.1"
RUN_ID = uuid.uuid4().hex[:8]
NAME = f"herald_bench_{RUN_ID}"  # the private database and vhost, dropped at the end
PYTHON = sys.executable

# The variables that switch a channel from the sandbox to a real provider: the
# bench must never reach FCM, an SMTP server or Twilio.
PROVIDER_SWITCHES = ("FCM_CREDENTIALS_FILE", "FCM_CREDENTIALS_JSON", "SMTP_HOST", "TWILIO_ACCOUNT_SID")

# `critical` bypasses quiet hours, so every request is due now and published at
# once whatever the time of day: the path being compared with the baseline.
PUSH_REQUEST = {"channel": "push", "to": "bench-device-token", "priority": "critical",
                "content": {"title": "Bench", "body": "Hello from the benchmark"}}

# (label, gunicorn app, Celery app, queue): the bare baseline first, then Herald.
SIDES = (
    ("baseline", "bench.baseline_app:create_app()", "bench.baseline_tasks", "bench_baseline"),
    ("herald", "api:create_app()", "workers", "push"),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating baseline/Herald rounds per measurement (default 3)")
    parser.add_argument("--requests", type=int, default=4000,
                        help="timed POSTs per API over all rounds (default 4000)")
    parser.add_argument("--warmup", type=int, default=300, help="untimed POSTs per API first (default 300)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads (default 8)")
    parser.add_argument("--api-workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--concurrency", type=int, default=2, help="prefork processes per pool (default 2)")
    parser.add_argument("--drain-tasks", type=int, default=1200,
                        help="tasks timed per pool per round (default 1200)")
    parser.add_argument("--max-seconds", type=float, default=8,
                        help="cap on each timed window, so a busy machine cannot stretch the run (default 8)")
    args = parser.parse_args(argv)
    if args.drain_tasks * args.rounds > args.requests + args.warmup:
        parser.error("the API runs must queue at least --drain-tasks x --rounds tasks")
    return args


def configure_environment(var_dir: Path) -> None:
    """Point Herald (this process and every child) at the private database and vhost."""
    for name in PROVIDER_SWITCHES:
        os.environ.pop(name, None)
    os.environ.update(
        HERALD_VAR_DIR=str(var_dir),
        OUTBOX_DIR=str(var_dir / "outbox"),
        DATABASE_URL=services.database_url(NAME),
        BROKER_URL=services.broker_url(NAME),
        QUORUM_QUEUES="false",  # the RabbitMQ here may be older than 4.0.1
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until_serving(server: HeraldProcess, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log()[-3000:]}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{server.name} did not answer /health in {timeout}s:\n{server.log()[-3000:]}")


def prepare_databases() -> str:
    """Migrate Herald's schema, create the baseline's table, and return a Herald API key."""
    from api import create_app
    from api.keys.service import create_api_key
    from bench import baseline_app

    services.migrate(os.environ["DATABASE_URL"])
    with create_app().app_context():
        _key, secret = create_api_key("bench")
    baseline = baseline_app.create_app()
    with baseline.app_context():
        baseline_app.db.create_all()
    return secret


def check_published_at_once(port: int, api_key: str) -> None:
    """The timed requests must take the publish-now path, or the comparison means nothing."""
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    connection.request("POST", "/v1/notifications", json.dumps(PUSH_REQUEST),
                       {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
    response = connection.getresponse()
    body = json.loads(response.read() or b"{}")
    connection.close()
    due = body.get("deliver_at")
    if response.status != 202 or not due or \
            datetime.fromisoformat(due.replace("Z", "+00:00")) > datetime.now(timezone.utc) + timedelta(seconds=5):
        raise RuntimeError(f"Herald did not accept the bench request for immediate delivery: "
                           f"{response.status} {body}")


def measure_api(args, api_key: str, log_dir: Path, cleanup: ExitStack) -> dict[str, list]:
    """Both APIs up at once, warmed, then timed in alternating rounds so drift hits both alike."""
    from bench.load import post_bytes, run_load

    body = json.dumps(PUSH_REQUEST).encode()
    servers, payloads = {}, {}
    for label, app_spec, _celery_app, _queue in SIDES:
        port = free_port()
        server = HeraldProcess(
            f"{label}-gunicorn",
            [PYTHON, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", str(args.api_workers),
             "--worker-class", "sync", app_spec],
            log_dir, None,
        )
        cleanup.callback(server.stop)
        wait_until_serving(server, port)
        headers = {"Authorization": f"Bearer {api_key}"} if label == "herald" else {}
        servers[label] = (server, port)
        payloads[label] = post_bytes(HOST, port, "/v1/notifications", body, headers)

    check_published_at_once(servers["herald"][1], api_key)

    def load(label: str, total: int, max_seconds: float | None):
        server, port = servers[label]
        result = run_load(HOST, port, payloads[label], total, args.clients, max_seconds)
        if set(result.statuses) != {202}:
            raise RuntimeError(f"{label}: expected only 202s, got {dict(result.statuses)}; "
                               f"log: {server.log_path}")
        return result

    for label in servers:  # every gunicorn worker opens its database and broker connections
        load(label, args.warmup, None)
    results = {label: [] for label in servers}
    for _round in range(args.rounds):
        for label in servers:
            results[label].append(load(label, args.requests // args.rounds, args.max_seconds))
    for server, _port in servers.values():
        server.stop()
    return results


def measure_drains(args, log_dir: Path, cleanup: ExitStack) -> dict[str, list]:
    """Each pool drains the tasks its API queued, a fresh pool per round, alternating."""
    from bench.drain import measure_drain

    def pool_starter(name: str, celery_app: str, queue: str):
        def start_pool() -> HeraldProcess:
            pool = HeraldProcess(
                name,
                [PYTHON, "-m", "celery", "-A", celery_app, "worker", "-Q", queue, "-n", f"{name}@%h",
                 "--pool", "prefork", "--concurrency", str(args.concurrency),
                 "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
                log_dir, None,
            )
            cleanup.callback(pool.stop)
            return pool
        return start_pool

    results = {label: [] for label, *_ in SIDES}
    for round_number in range(args.rounds):
        for label, _app_spec, celery_app, queue in SIDES:
            outcome = measure_drain(os.environ["BROKER_URL"], queue,
                                    pool_starter(f"{label}-{round_number}", celery_app, queue),
                                    max_tasks=args.drain_tasks, max_seconds=args.max_seconds)
            if outcome is None:
                continue  # a short API run queued too few tasks for this round
            result, pool = outcome
            pool.stop()  # a warm shutdown: tasks in progress finish, reserved ones go back
            results[label].append(result)
    if not all(results.values()):
        raise RuntimeError("a pool had no tasks to drain: raise --requests or lower --drain-tasks")
    return results


def herald_delivery_check() -> str:
    """What the drained pools left behind: each claimed notification sent, and written once."""
    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ["DATABASE_URL"])
    try:
        with engine.connect() as connection:
            counts = dict(connection.execute(
                text("SELECT status, count(*) FROM notifications GROUP BY status")).all())
    finally:
        engine.dispose()
    outbox = Path(os.environ["OUTBOX_DIR"]) / "push.jsonl"
    ids = [json.loads(line)["notification_id"] for line in outbox.open()] if outbox.exists() else []
    problems = []
    if set(counts) - {"sent", "scheduled"}:
        problems.append(f"unexpected statuses {counts}")
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} duplicate deliveries in the outbox")
    if len(set(ids)) != counts.get("sent", 0):
        problems.append(f"{len(set(ids))} delivered but {counts.get('sent', 0)} marked sent")
    if problems:
        raise RuntimeError("Herald's drain went wrong: " + "; ".join(problems))
    return (f"{counts.get('sent', 0)} sent (each once in the sandbox outbox), "
            f"{counts.get('scheduled', 0)} still scheduled")


def server_versions() -> str:
    import celery
    import psycopg2
    from kombu import Connection

    with psycopg2.connect(host=services.PG_HOST, port=services.PG_PORT, user=services.PG_USER,
                          dbname=NAME) as connection, connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    connection.close()
    with Connection(os.environ["BROKER_URL"]) as broker:
        broker.connect()
        rabbit = broker.connection.server_properties.get("version", "?")
        rabbit = rabbit.decode() if isinstance(rabbit, bytes) else rabbit
    return (f"{os.cpu_count()} CPUs, Python {platform.python_version()}, Celery {celery.__version__}, "
            f"PostgreSQL {postgres}, RabbitMQ {rabbit}")


def load_average() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


def report(title: str, unit: str, names: dict[str, str], results: dict[str, list], extra=None) -> None:
    """Median rate per side over the rounds, and the median of the per-round ratios."""
    print(f"\n{title}")
    for label, runs in results.items():
        rates = [run.per_second for run in runs]
        detail = extra(runs) if extra else ""
        print(f"  {names[label]:<28}{statistics.median(rates):8,.0f} {unit}"
              f"   (rounds: {', '.join(f'{rate:,.0f}' for rate in rates)}){detail}")
    ratios = [h.per_second / b.per_second for b, h in zip(results["baseline"], results["herald"])
              if b.per_second]
    print(f"  {'Herald / baseline':<28}{statistics.median(ratios):8.2f}"
          f"   (rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)})")


def latencies(runs) -> str:
    merged = sorted(latency for run in runs for latency in run.latencies)

    def milliseconds(quantile: float) -> float:
        return merged[min(len(merged) - 1, int(quantile * len(merged)))] * 1000

    return f"  p50 {milliseconds(0.5):.0f} ms, p99 {milliseconds(0.99):.0f} ms"


def run(args, var_dir: Path, cleanup: ExitStack) -> None:
    log_dir = var_dir / "logs"
    services.create_database(NAME)
    cleanup.callback(services.drop_database, NAME)
    services.create_vhost(NAME)
    cleanup.callback(services.delete_vhost, NAME)
    api_key = prepare_databases()
    print(f"Herald bench on {HOST}: {server_versions()}")
    print(f"Baseline and Herald alternate in {args.rounds} rounds; the client shares the CPUs; "
          f"{load_average()} at the start.")

    # Every accepted request leaves one task in its side's queue: those are what the pools drain.
    api = measure_api(args, api_key, log_dir, cleanup)
    report(f"API accept: POST /v1/notifications, gunicorn sync -w {args.api_workers}, "
           f"{args.clients} client threads, up to {args.requests} timed requests per side",
           "req/s", {"baseline": "baseline (insert + publish)", "herald": "Herald"}, api, latencies)

    drains = measure_drains(args, log_dir, cleanup)
    report(f"Worker drain: pre-published tasks, prefork -c {args.concurrency}, acks_late, prefetch 1, "
           f"up to {args.drain_tasks} tasks per round", "tasks/s",
           {"baseline": "baseline (no-op task)", "herald": "Herald push pool (sandbox)"}, drains)
    print(f"  Herald check: {herald_delivery_check()}")
    print(f"\n{load_average()} at the end.")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = [p for p in (services.postgres_problem(), services.rabbitmq_problem()) if p]
    if problems:
        print("bench needs PostgreSQL and RabbitMQ: " + "; ".join(problems), file=sys.stderr)
        return 2
    # SIGTERM unwinds like Ctrl-C, so the cleanup below still runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    var_dir = Path(tempfile.mkdtemp(prefix=f"herald-bench-{RUN_ID}-"))
    configure_environment(var_dir)
    started = time.monotonic()
    succeeded = False
    try:
        with ExitStack() as cleanup:
            run(args, var_dir, cleanup)
        succeeded = True
    finally:
        if succeeded:
            shutil.rmtree(var_dir, ignore_errors=True)
        else:
            print(f"\nbench failed; process logs kept in {var_dir / 'logs'}", file=sys.stderr)
    print(f"Done in {time.monotonic() - started:.0f} s; database and vhost {NAME} dropped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
