"""`python -m bench.inbox_connections`: 10,000 open inbox streams on this machine, idle and with 100 items/s.

Runs against this machine's PostgreSQL and RabbitMQ in a private database and
vhost (dropped at the end): the API under gunicorn, an inapp pool, and the
stream as the Procfile runs it (gunicorn, gevent workers). Client processes
(bench.sse_holder, asyncio on raw sockets) open one stream per recipient,
then the bench measures the stream processes' memory and CPU while idle, and
again while 100 items per second go to random connected recipients, with the
time from each POST to its event's arrival. The client's own CPU is printed
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
from bench.inbox_rig import inbox_rig, mint_tokens, quantile, start_holder


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


def _post_at_rate(rig, recipients, rate, seconds, sent) -> None:
    """One item every 1/rate s to a random recipient, on schedule (a late POST does not shift the next)."""
    interval, started = 1 / rate, time.monotonic()
    for index in range(int(rate * seconds)):
        pause = started + index * interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sent.append(rig.send(random.choice(recipients), f"flow {index}"))


def measure(connections: int, holders: int, streams: int, rate: float, seconds: float) -> None:
    limit = raise_fd_limit(connections + 1000)
    with inbox_rig(streams=streams) as rig:
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
            poster = threading.Thread(target=_post_at_rate, args=(rig, recipients, rate, seconds, sent))
            posting = time.monotonic()
            poster.start()
            poster.join()
            flowing = sampler.stop()
            achieved = len(sent) / (time.monotonic() - posting)
            latencies, lost = [], 0
            for item, posted in sent:
                arrived = _wait_any(clients, item, 30)
                if arrived is None:
                    lost += 1
                else:
                    latencies.append(arrived - posted)
            print(f"{rate:g} items/s for {seconds:g} s ({len(sent)} items, {achieved:.0f}/s "
                  f"achieved): stream memory "
                  f"{resident_mb(stream_sessions):.0f} MB; {flowing.describe()}", flush=True)
            print(f"POST -> event meanwhile: p50 {quantile(latencies, 0.5) * 1000:.1f} ms, "
                  f"p99 {quantile(latencies, 0.99) * 1000:.1f} ms, "
                  f"max {max(latencies) * 1000:.1f} ms; lost {lost}; "
                  f"streams closed meanwhile {sum(len(c.closed) for c in clients)}", flush=True)
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
    args = parser.parse_args()
    measure(args.connections, args.holders, args.streams, args.rate, args.seconds)


if __name__ == "__main__":
    main()
