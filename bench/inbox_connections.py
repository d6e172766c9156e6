"""`python -m bench.inbox_connections`: 10,000 open inbox streams on this machine, idle and with 100 items/s.

Runs against this machine's PostgreSQL and RabbitMQ in a private database and
vhost (dropped at the end): the API under gunicorn, an inapp pool, and the
stream as the Procfile runs it (gunicorn, gevent workers). Client processes
(bench.sse_holder, asyncio on raw sockets) open one stream per recipient,
then the bench measures the stream processes' memory and CPU while idle, and
again while 100 items per second go to random connected recipients (batches
of 10 by default: single POSTs at that rate take more CPU than this shared
machine has left), with the time from each POST to its items' arrival. The client's own CPU is printed
beside, so its share of these 2 cores is visible. The file-descriptor limit is
raised to the hard limit first (every stream is a socket on both sides).

    python -m bench.inbox_connections                      # 10,000 streams, 1 stream process
    python -m bench.inbox_connections --connections 2000 --seconds 10
"""

from __future__ import annotations

import argparse
import random
import resource
import threading
import time
from pathlib import Path

from bench.cpu import CpuSampler
from bench.inbox_rig import delivery_lag, inbox_rig, mint_tokens, quantile, start_holder


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"the hard file-descriptor limit is {hard}; {needed} are needed "
                         "(raise it with ulimit -Hn or in limits.conf)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def resident_mb(sessions: set[int]) -> float:
    """Resident memory of every process in these sessions (a gunicorn master and its workers)."""
    total_kb = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            session = int(stat[stat.rindex(")") + 2:].split()[3])
            if session in sessions:
                status = (entry / "status").read_text()
                total_kb += int(next(line.split()[1] for line in status.splitlines()
                                     if line.startswith("VmRSS:")))
        except (OSError, StopIteration, ValueError):
            continue
    return total_kb / 1024


API_WORKERS = 4
POSTERS = 8  # threads, each with its own connection: a late answer does not hold up the rest


def _post_at_rate(rig, recipients, rate, seconds, batch, sent) -> None:
    """`rate` items a second to random recipients, as batches of `batch` on schedule (a late POST
    does not shift the next): batch i is posted by thread i % POSTERS at its scheduled time."""
    interval, started, total = batch / rate, time.monotonic(), int(rate * seconds / batch)

    def post(first: int) -> None:
        for index in range(first, total, POSTERS):
            pause = started + index * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            if batch == 1:
                sent.append(rig.send(random.choice(recipients), f"flow {index}"))
            else:
                sent.extend(rig.send_batch(random.sample(recipients, batch), f"flow {index}"))

    threads = [threading.Thread(target=post, args=(first,)) for first in range(POSTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def measure(connections: int, holders: int, streams: int, rate: float, seconds: float,
            batch: int) -> None:
    limit = raise_fd_limit(connections + 1000)
    # Sync API workers wait on the database and the broker's confirm for each POST: enough of
    # them that 100 POSTs a second are not held up behind each other.
    with inbox_rig(streams=streams, api_workers=API_WORKERS) as rig:
        recipients = [f"bench-user-{i}" for i in range(connections)]
        tokens = mint_tokens(recipients)
        groups = [[] for _ in range(holders)]
        for index, pair in enumerate(zip(recipients, tokens)):
            groups[index % holders].append(pair)
        stream_sessions = {process.pid for name, process in rig.processes.items()
                           if name.startswith("stream")}
        clients = []
        try:
            opening = time.monotonic()
            for index, group in enumerate(groups):
                port = rig.stream_ports[index % len(rig.stream_ports)]
                clients.append(start_holder(port, group, rig.log_dir))
            for client in clients:
                if not client.opened.wait(600):
                    raise RuntimeError("the streams did not all open in 10 minutes")
            opened = sum(client.open_count for client in clients)
            print(f"{opened} of {connections} streams open in {time.monotonic() - opening:.0f} s "
                  f"({sum(c.refused for c in clients)} refused) on {streams} stream process(es) "
                  f"(gunicorn, 1 gevent worker each), held by {holders} client processes; "
                  f"file-descriptor limit {limit}", flush=True)

            sessions = {process.pid: name for name, process in rig.processes.items()}
            sessions.update({client.process.pid: "SSE clients" for client in clients})
            time.sleep(5)  # let the opening settle
            sampler = CpuSampler(sessions).start()
            time.sleep(seconds)
            idle = sampler.stop()
            print(f"idle, {seconds:g} s: stream memory {resident_mb(stream_sessions):.0f} MB; "
                  f"{idle.describe()}", flush=True)

            sent: list[tuple[str, float]] = []
            sampler = CpuSampler(sessions).start()
            posting = time.monotonic()
            _post_at_rate(rig, recipients, rate, seconds, batch, sent)
            flowing = sampler.stop()
            achieved = len(sent) / (time.monotonic() - posting)
            latencies, lost = [], 0
            for item, posted in sent:
                arrived = _wait_any(clients, item, 30)
                if arrived is None:
                    lost += 1
                else:
                    latencies.append(arrived - posted)
            print(f"{rate:g} items/s for {seconds:g} s ({len(sent)} items in POSTs of {batch}, "
                  f"{achieved:.0f}/s achieved): stream memory "
                  f"{resident_mb(stream_sessions):.0f} MB; {flowing.describe()}", flush=True)
            print(f"POST -> event meanwhile: p50 {quantile(latencies, 0.5) * 1000:.1f} ms, "
                  f"p99 {quantile(latencies, 0.99) * 1000:.1f} ms, "
                  f"max {max(latencies) * 1000:.1f} ms; lost {lost}; "
                  f"streams closed meanwhile {sum(len(c.closed) for c in clients)}", flush=True)
            lag50, lag99 = delivery_lag([item for item, _posted in sent])
            print(f"of which row -> delivered by the inapp pool (created_at -> sent_at): "
                  f"p50 {lag50 * 1000:.1f} ms, p99 {lag99 * 1000:.1f} ms", flush=True)
        finally:
            for client in clients:
                client.stop()


def _wait_any(clients, item: str, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for client in clients:
            if item in client.arrivals:
                return client.arrivals[item]
        time.sleep(0.05)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inbox_connections", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--holders", type=int, default=2, help="client processes")
    parser.add_argument("--streams", type=int, default=1, help="stream processes")
    parser.add_argument("--rate", type=float, default=100.0, help="items per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="each measured window")
    parser.add_argument("--batch", type=int, default=10,
                        help="items per POST (1: single POSTs; more: /v1/notifications/batch)")
    args = parser.parse_args()
    measure(args.connections, args.holders, args.streams, args.rate, args.seconds, args.batch)


if __name__ == "__main__":
    main()
