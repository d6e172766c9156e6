"""Notifications accepted per second through POST /v1/notifications/batch, on gunicorn, PostgreSQL and RabbitMQ.

    .venv/bin/python -m bench.batch_intake [--seconds 10] [--clients 4] [--api-workers 4]

A private database and vhost (dropped at the end); batches of 1,000 pushes due
now (`critical`, so quiet hours never hold one back), each published at once
with confirms. The bench's key gets a write budget far above the load (and
says so), so the rate limit never refuses. It checks that every accepted
notification is stored and published, and prints notifications per second and
the load client's own CPU share.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from tests.support import services
from tests.support.processes import HeraldProcess

HOST = "127.0.0.1"
NAME = f"herald_batch_{uuid.uuid4().hex[:8]}"
BATCH_SIZE = 1000
# Far above anything this machine can take: the bench measures the API, not the budget.
BENCH_WRITE_LIMIT = "10000000/second"


def batch_body(size: int = BATCH_SIZE) -> bytes:
    return json.dumps({
        "defaults": {"channel": "push", "priority": "critical",
                     "content": {"title": "Bench", "body": "Hello from the benchmark"}},
        "items": [{"to": f"bench-device-token-{i}", "reference": f"bench-{i}"} for i in range(size)],
    }).encode()


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.batch_intake", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10, help="timed window (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default 4)")
    parser.add_argument("--api-workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--warmup", type=int, default=8, help="untimed batches first (default 8)")
    return parser.parse_args(argv)


def prepare(var_dir: Path) -> str:
    os.environ.update(HERALD_VAR_DIR=str(var_dir), DATABASE_URL=services.database_url(NAME),
                      BROKER_URL=services.broker_url(NAME), QUORUM_QUEUES="false")
    for switch in ("FCM_CREDENTIALS_FILE", "FCM_CREDENTIALS_JSON", "SMTP_HOST", "TWILIO_ACCOUNT_SID"):
        os.environ.pop(switch, None)
    services.migrate(os.environ["DATABASE_URL"])
    from api import create_app
    from api.keys.service import create_api_key
    from common.db import db

    with create_app().app_context():
        key, secret = create_api_key("bench")
        key.write_rate_limit = BENCH_WRITE_LIMIT
        db.session.commit()
    return secret


TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process we may read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                found[int(entry.name)] = (ppid, (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, IndexError, ValueError):
                pass
    return found


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0.0


def cpu_by_role(api_pid: int) -> dict[str, float]:
    """CPU seconds so far of the API's gunicorn, this database's PostgreSQL backends and RabbitMQ.

    RabbitMQ serves every vhost on the machine: its share includes anyone else's traffic.
    """
    processes = _processes()
    roles = {"API (gunicorn)": [api_pid] + [p for p, (ppid, _) in processes.items() if ppid == api_pid],
             "PostgreSQL (this database)": [p for p, (_, cmd) in processes.items()
                                            if cmd.startswith("postgres:") and f" {NAME} " in cmd],
             "RabbitMQ (whole broker)": [p for p, (_, cmd) in processes.items() if "beam.smp" in cmd]}
    return {role: sum(_cpu(pid) for pid in pids) for role, pids in roles.items()}


def stored_and_queued() -> tuple[int, int]:
    from sqlalchemy import create_engine, text
    from tests.support.broker import queue_depth

    engine = create_engine(os.environ["DATABASE_URL"])
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*) FROM notifications")).scalar_one()
    engine.dispose()
    return stored, queue_depth("push").messages


def run(args, var_dir: Path, cleanup: ExitStack) -> None:
    from bench.load import post_bytes, run_load
    from bench.environment import free_port, wait_until_serving

    services.create_database(NAME)
    cleanup.callback(services.drop_database, NAME)
    services.create_vhost(NAME)
    cleanup.callback(services.delete_vhost, NAME)
    secret = prepare(var_dir)
    port = free_port()
    server = HeraldProcess("batch-gunicorn",
                           [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}",
                            "--workers", str(args.api_workers), "--worker-class", "sync",
                            "api:create_app()"], var_dir / "logs", None)
    cleanup.callback(server.stop)
    wait_until_serving(server, port)
    payload = post_bytes(HOST, port, "/v1/notifications/batch", batch_body(),
                         {"Authorization": f"Bearer {secret}"})

    run_load(HOST, port, payload, args.warmup, args.clients)
    cpu_before, roles_before = time.process_time(), cpu_by_role(server.pid)
    result = run_load(HOST, port, payload, 10**9, args.clients, args.seconds)
    client_cpu = (time.process_time() - cpu_before) / result.seconds
    roles = {role: (seconds - roles_before[role]) / result.seconds
             for role, seconds in cpu_by_role(server.pid).items()}
    if set(result.statuses) != {202}:
        raise RuntimeError(f"expected only 202s, got {dict(result.statuses)}; log: {server.log_path}")
    stored, queued = stored_and_queued()
    expected = (args.warmup + result.requests) * BATCH_SIZE
    latencies = sorted(result.latencies)
    print(f"batch intake: {result.requests} batches of {BATCH_SIZE} in {result.seconds:.1f}s from "
          f"{args.clients} clients, gunicorn sync -w{args.api_workers}; key write budget "
          f"{BENCH_WRITE_LIMIT} (the bench's own)")
    print(f"  herald_nps {result.requests * BATCH_SIZE / result.seconds:,.0f} notifications/s; "
          f"batch latency p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms; load client CPU {client_cpu:.0%} of one core")
    print(f"  stored {stored:,} and queued {queued:,} of {expected:,} accepted (warm-up included)")
    print("  CPU during the window, in cores: " + ", ".join(f"{role} {share:.2f}" for role, share in roles.items())
          + f", load client {client_cpu:.2f}; the machine has {os.cpu_count()}")


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="herald-batch-bench-") as var, ExitStack() as cleanup:
        var_dir = Path(var)
        (var_dir / "logs").mkdir()
        run(args, var_dir, cleanup)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
