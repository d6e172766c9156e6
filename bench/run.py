"""`make bench`: Herald beside bare baselines on this machine, as a table and var/bench/results.json."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from pathlib import Path

from bench.environment import BENCH_KEY_LIMIT, HOST, NAME, RUN_ID, configure_environment
from bench.results import RESULTS_PATH, empty_results, table, write_results
from tests.support import services

PHASES = ("api_single", "api_batch", "drain_sandbox", "drain_latency", "end_to_end", "relay")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    quick = os.environ.get("BENCH_QUICK", "").lower() in {"1", "true", "yes"}
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", default=quick,
                        help="short windows, one round, 20,000 relay rows, 15 s end to end (or BENCH_QUICK=1)")
    parser.add_argument("--rounds", type=int, help="alternating baseline/Herald rounds (default 3; quick 1)")
    parser.add_argument("--seconds", type=float, help="each timed API window (default 8; quick 4)")
    parser.add_argument("--clients", type=int, default=16, help="connections of the single-POST load (16)")
    parser.add_argument("--api-workers", type=int, default=4, help="gunicorn sync workers per API (4)")
    parser.add_argument("--only", nargs="+", choices=PHASES, help="run only these phases (the rest null)")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help="where results.json goes")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.seconds = args.seconds or (4 if args.quick else 8)
    return args


def prepare_databases() -> tuple[str, object]:
    """Migrate Herald's schema, create the baseline's table, and make the bench's API key.

    The key gets its own write and read budgets (as `flask keys create
    --write-limit` would), far above this machine's reach: the limiter runs but
    never refuses.
    """
    from api import create_app
    from api.keys.service import create_api_key
    from bench import baseline_app

    services.migrate(os.environ["DATABASE_URL"])
    with create_app().app_context():
        key, secret = create_api_key("bench", write_rate_limit=BENCH_KEY_LIMIT,
                                     read_rate_limit=BENCH_KEY_LIMIT)
        key_id = key.id
    baseline = baseline_app.create_app()
    with baseline.app_context():
        baseline_app.db.create_all()
    return secret, key_id


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


def run(args, var_dir: Path, cleanup: ExitStack) -> dict:
    from api import create_app
    from bench.api_phase import measure_api_batch, measure_api_single
    from bench.context import Bench
    from bench.drain_phase import measure_drain_latency, measure_drain_sandbox
    from bench.end_to_end import measure_end_to_end
    from bench.http_load import generator
    from bench.relay_phase import measure_relay

    services.create_database(NAME)
    cleanup.callback(services.drop_database, NAME)
    services.create_vhost(NAME)
    cleanup.callback(services.delete_vhost, NAME)
    api_key, api_key_id = prepare_databases()
    (var_dir / "logs").mkdir(parents=True, exist_ok=True)
    app = create_app()
    bench = Bench(quick=args.quick, rounds=args.rounds, seconds=args.seconds, api_workers=args.api_workers,
                  clients=args.clients, log_dir=var_dir / "logs", cleanup=cleanup, app=app,
                  api_key=api_key, api_key_id=api_key_id, broker_url=os.environ["BROKER_URL"])
    load = generator()
    print(f"Herald bench on {HOST}: {server_versions()}; {load_average()} at the start.")
    print(f"Load generator: {load}" + ("" if load == "wrk" else
          " (wrk is not installed: `apt-get install wrk` for a lighter client)") +
          ", a separate process; its CPU is shown per phase.")
    print(f"Rate limits: the bench's API key has its own budgets of {BENCH_KEY_LIMIT} for writes and "
          "reads, so the limiter runs but never refuses.")
    print(f"Private database and vhost {NAME}; {'quick' if args.quick else 'full'} run, "
          f"{args.rounds} round(s) of {args.seconds:g} s per API side.", flush=True)

    measures = {"api_single": measure_api_single, "api_batch": measure_api_batch,
                "drain_sandbox": measure_drain_sandbox, "drain_latency": measure_drain_latency,
                "end_to_end": measure_end_to_end, "relay": measure_relay}
    results = empty_results()
    for phase in PHASES:
        section = results[phase]
        if args.only and phase not in args.only:
            section.notes.append("not measured: left out by --only")
            continue
        started = time.monotonic()
        print(f"\n{phase} ...", flush=True)
        try:
            measures[phase](bench, section)
        except Exception as error:  # one broken phase leaves its figures null, not the whole run
            section.notes.append(f"not measured: {type(error).__name__}: {str(error)[:300]}")
            traceback.print_exc()
        print(f"{phase} done in {time.monotonic() - started:.0f} s: "
              + ", ".join(f"{k}={v}" for k, v in section.figures.items()), flush=True)
    return results


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
    results = None
    try:
        with ExitStack() as cleanup:
            results = run(args, var_dir, cleanup)
    finally:
        failed = results is None or any(
            note.startswith("not measured: ") and "--only" not in note and "has not landed" not in note
            for section in (results or {}).values() for note in section.notes)
        if failed:
            print(f"\nprocess logs kept in {var_dir / 'logs'}", file=sys.stderr)
        else:
            shutil.rmtree(var_dir, ignore_errors=True)
    print(table(results))
    path = write_results(results, args.output)
    print(f"\nWritten to {path}. {load_average()} at the end; the machine's other work shows as "
          f"\"other\" in the CPU lines.")
    print(f"Done in {time.monotonic() - started:.0f} s; database and vhost {NAME} dropped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
