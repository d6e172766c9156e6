"""`python -m bench.rate_limits`: one service's burst against another's latency, limits off and on.

A real gunicorn API (sync workers) on a free port, PostgreSQL, RabbitMQ and
the limits counted in Redis. A calm service POSTs at a steady pace; its p50
and p99 are measured alone, then while a burster sends 2,000 POSTs from 32
threads plus a loop of list requests (issue 8, defect 6). Printed as a table,
with one of the burster's refusals as it arrived.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import _Connection, post_bytes, run_load
from bench.environment import (HOST, NAME, PUSH_REQUEST, PYTHON, RUN_ID, configure_environment,
                               free_port, wait_until_serving)
from bench.run import load_average
from tests.support import services
from tests.support.processes import HeraldProcess

KEY_PREFIX = f"herald-bench-{RUN_ID}"


@dataclass
class Calm:
    """The calm service's answers: latency in seconds and status of each."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)

    def quantile_ms(self, quantile: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rate_limits", description=__doc__)
    parser.add_argument("--burst", type=int, default=2000, help="the burster's POSTs (default 2000)")
    parser.add_argument("--clients", type=int, default=32, help="the burster's threads (default 32)")
    parser.add_argument("--list-clients", type=int, default=4,
                        help="the burster's threads looping on list requests (default 4)")
    parser.add_argument("--pace", type=float, default=0.04,
                        help="seconds between the calm service's POSTs (default 0.04)")
    parser.add_argument("--alone-seconds", type=float, default=6,
                        help="how long the calm service is timed alone (default 6)")
    parser.add_argument("--api-workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--writes", help="RATE_LIMIT_WRITES for this run (default: the settings')")
    parser.add_argument("--reads", help="RATE_LIMIT_READS for this run (default: the settings')")
    return parser.parse_args(argv)


def get_bytes(port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}",
             *(f"{name}: {value}" for name, value in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def calm_client(port: int, payload: bytes, pace: float, stop: threading.Event) -> Calm:
    """POST every `pace` seconds (closed loop: never two at once) until `stop`."""
    calm, connection = Calm(), _Connection((HOST, port))
    try:
        while not stop.is_set():
            started = time.perf_counter()
            calm.statuses[connection.round_trip(payload)] += 1
            elapsed = time.perf_counter() - started
            calm.latencies.append(elapsed)
            stop.wait(max(0.0, pace - elapsed))
    finally:
        connection.close()
    return calm


def list_loop(port: int, payload: bytes, stop: threading.Event, honour_retry_after: bool) -> Counter:
    answers, connection = Counter(), _Connection((HOST, port))
    try:
        while not stop.is_set():
            status = connection.round_trip(payload)
            answers[status] += 1
            if status == 429 and honour_retry_after:
                stop.wait(float(connection.headers.get("retry-after", "1")))
    finally:
        connection.close()
    return answers


def first_refusal(port: int, key: str, stop: threading.Event) -> dict | None:
    """One of the burster's POSTs answered 429, with its headers and body, as a client sees it."""
    body = json.dumps(PUSH_REQUEST)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    while not stop.wait(0.05):
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        connection.request("POST", "/v1/notifications", body, headers)
        response = connection.getresponse()
        answer = {"status": response.status, "body": response.read().decode(),
                  **{name: response.getheader(name) for name in
                     ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")}}
        connection.close()
        if response.status == 429:
            return answer
    return None


def in_thread(target, *args) -> tuple[threading.Thread, list]:
    result: list = []
    thread = threading.Thread(target=lambda: result.append(target(*args)), daemon=True)
    thread.start()
    return thread, result


def burster(port: int, payload: bytes, tickets, honour_retry_after: bool) -> Counter:
    """POST back to back until the tickets run out; sleep Retry-After on a 429 if told to."""
    answers, connection = Counter(), _Connection((HOST, port))
    try:
        while next(tickets, None) is not None:
            status = connection.round_trip(payload)
            answers[status] += 1
            if status == 429 and honour_retry_after:
                time.sleep(float(connection.headers.get("retry-after", "1")))
    finally:
        connection.close()
    return answers


def burst(args, port: int, key: str, honour_retry_after: bool) -> tuple[Counter, float]:
    payload = post_bytes(HOST, port, "/v1/notifications", json.dumps(PUSH_REQUEST).encode(),
                         {"Authorization": f"Bearer {key}"})
    tickets = iter(range(args.burst))  # next() is atomic: each POST is sent once
    started = time.perf_counter()
    threads = [in_thread(burster, port, payload, tickets, honour_retry_after)
               for _ in range(args.clients)]
    for thread, _ in threads:
        thread.join()
    return sum((answers[0] for _, answers in threads), Counter()), time.perf_counter() - started


def calm_alone(args, port: int, key: str) -> Calm:
    payload = post_bytes(HOST, port, "/v1/notifications", json.dumps(PUSH_REQUEST).encode(),
                         {"Authorization": f"Bearer {key}"})
    # Every gunicorn worker opens its connections first; then the warm-up's
    # requests leave the one-second window, so the calm service starts with its budget.
    run_load(HOST, port, payload, 40, 4)
    time.sleep(2)
    stop = threading.Event()
    thread, result = in_thread(calm_client, port, payload, args.pace, stop)
    time.sleep(args.alone_seconds)
    stop.set()
    thread.join()
    return result[0]


def calm_during_burst(args, port: int, calm_key: str, burst_key: str,
                      honour_retry_after: bool) -> dict:
    calm_post = post_bytes(HOST, port, "/v1/notifications", json.dumps(PUSH_REQUEST).encode(),
                           {"Authorization": f"Bearer {calm_key}"})
    burst_list = get_bytes(port, "/v1/notifications?limit=50", {"Authorization": f"Bearer {burst_key}"})
    stop = threading.Event()
    calm_thread, calm = in_thread(calm_client, port, calm_post, args.pace, stop)
    listers = [in_thread(list_loop, port, burst_list, stop, honour_retry_after)
               for _ in range(args.list_clients)]
    probe_thread, refusal = in_thread(first_refusal, port, burst_key, stop)
    posts, seconds = burst(args, port, burst_key, honour_retry_after)
    stop.set()
    for thread in (calm_thread, probe_thread, *(lister for lister, _ in listers)):
        thread.join()
    return {"calm": calm[0], "posts": posts, "seconds": seconds,
            "lists": sum((answers[0] for _, answers in listers), Counter()),
            "refusal": refusal[0] if refusal else None}


def start_api(args, label: str, env: dict, log_dir: Path, cleanup: ExitStack) -> int:
    port = free_port()
    server = HeraldProcess(
        f"api-{label}",
        [PYTHON, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", str(args.api_workers),
         "--worker-class", "sync", "--no-control-socket", "api:create_app()"],
        log_dir, env,
    )
    cleanup.callback(server.stop)
    wait_until_serving(server, port)
    return port


def statuses(counter: Counter) -> str:
    return ", ".join(f"{count} x {status}" for status, count in sorted(counter.items())) or "none"


def latency(calm: Calm) -> str:
    return f"{calm.quantile_ms(0.5):7.1f} ms {calm.quantile_ms(0.99):8.1f} ms"


def report(args, rows: list[tuple[str, Calm, dict | None]]) -> None:
    print(f"\nCalm service: one POST every {args.pace * 1000:.0f} ms (closed loop). Burster: "
          f"{args.burst} POSTs from {args.clients} threads, plus {args.list_clients} threads "
          "looping on list requests while the POSTs last; one that honours Retry-After sleeps "
          "that long on each 429.")
    print(f"{'':<46}{'calm p50':>10}{'calm p99':>12}  calm answers / burster's POSTs, lists")
    refusal = None
    for label, calm, burst in rows:
        detail = f"{statuses(calm.statuses)}"
        if burst:
            detail += (f" / {statuses(burst['posts'])} in {burst['seconds']:.1f} s, "
                       f"{statuses(burst['lists'])}")
            refusal = refusal or burst["refusal"]
        print(f"{label:<46}{latency(calm)}  {detail}")
    print("\nOne of the burster's refusals, as it arrived:")
    print(json.dumps(refusal, indent=2) if refusal else "  none seen")


def run(args, var_dir: Path, cleanup: ExitStack) -> None:
    from api import create_app
    from api.keys.service import create_api_key
    from common.config import load_settings

    services.create_database(NAME)
    cleanup.callback(services.drop_database, NAME)
    services.create_vhost(NAME)
    cleanup.callback(services.delete_vhost, NAME)
    cleanup.callback(services.delete_redis_keys, KEY_PREFIX)
    services.migrate(os.environ["DATABASE_URL"])
    with create_app().app_context():
        keys = {"calm": create_api_key("calm-service")[1]}
    config = load_settings()
    print(f"Rate limit bench on {HOST}: gunicorn sync -w {args.api_workers}, limits in Redis "
          f"({services.redis_url()}); budgets per service: writes {config.rate_limit_writes}, "
          f"reads {config.rate_limit_reads}. The load client shares the {os.cpu_count()} CPUs; "
          f"{load_average()} at the start.")
    rows = []
    for limits, enabled in (("off", "false"), ("on", "true")):
        port = start_api(args, f"limits-{limits}", {"RATE_LIMITS_ENABLED": enabled},
                         var_dir / "logs", cleanup)
        rows.append((f"limits {limits}: calm alone", calm_alone(args, port, keys["calm"]), None))
        modes = (False,) if limits == "off" else (False, True)
        for honour in modes:
            label = f"limits {limits}: burst" + (
                "" if limits == "off" else " honouring Retry-After" if honour else " ignoring 429s")
            with create_app().app_context():  # a fresh burster: the budgets start full
                burst_key = create_api_key(f"burster-{limits}-{honour}-service")[1]
            result = calm_during_burst(args, port, keys["calm"], burst_key, honour)
            rows.append((label, result["calm"], result))
    report(args, rows)
    print(f"\n{load_average()} at the end.")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = [p for p in (services.postgres_problem(), services.rabbitmq_problem(),
                            services.redis_problem()) if p]
    if problems:
        print("this bench needs PostgreSQL, RabbitMQ and Redis: " + "; ".join(problems), file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    var_dir = Path(tempfile.mkdtemp(prefix=f"herald-bench-{RUN_ID}-"))
    configure_environment(var_dir)
    os.environ.update(RATE_LIMIT_STORAGE_URL=services.redis_url(), RATE_LIMIT_KEY_PREFIX=KEY_PREFIX)
    for name, value in (("RATE_LIMIT_WRITES", args.writes), ("RATE_LIMIT_READS", args.reads)):
        if value:
            os.environ[name] = value
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
    print(f"Database and vhost {NAME} dropped, Redis keys {KEY_PREFIX}* deleted.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
