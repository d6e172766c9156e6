"""`python -m bench.inbox_latency`: from POST to the event at a connected client, over 1,000 items.

Runs against this machine's PostgreSQL and RabbitMQ in a private database and
vhost (dropped at the end): the API under gunicorn, an inapp pool, one stream
process. One client holds one recipient's stream; the bench posts an item,
waits for its event, and posts the next, so each figure is one item's trip
through the API, the broker, the pool, the database and the stream, with
nothing queued ahead of it. Prints p50, p99 and the maximum.

    python -m bench.inbox_latency              # 1,000 items
    python -m bench.inbox_latency --items 200
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.inbox_rig import inbox_rig, quantile, start_holder

ARRIVAL_TIMEOUT = 30.0
WARM_UP = 20  # the first items pay for connections and imports; not counted


def measure(items: int) -> dict:
    with inbox_rig() as rig:
        recipient = "bench-latency-1"
        holder = start_holder(rig.stream_ports[0], [("r0", rig.token(recipient))], rig.log_dir)
        try:
            if not holder.opened.wait(60) or holder.open_count != 1:
                raise RuntimeError(f"the stream did not open: {holder.closed}")
            latencies, lost = [], 0
            started = time.monotonic()
            for index in range(WARM_UP + items):
                item, posted = rig.send(recipient, f"item {index}")
                arrived = holder.wait_for(item, ARRIVAL_TIMEOUT)
                if arrived is None:
                    lost += 1
                elif index >= WARM_UP:
                    latencies.append(arrived - posted)
            elapsed = time.monotonic() - started
        finally:
            holder.stop()
        seqs = holder.seqs.get("r0", [])
    return {"items": items, "lost": lost, "seconds": elapsed,
            "in_order_without_repeats": seqs == sorted(set(seqs)) and len(seqs) == WARM_UP + items,
            "p50_ms": quantile(latencies, 0.50) * 1000, "p99_ms": quantile(latencies, 0.99) * 1000,
            "max_ms": max(latencies) * 1000, "mean_ms": statistics.fmean(latencies) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inbox_latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    figures = measure(args.items)
    print(f"POST -> event at a connected client, {figures['items']} items one after another "
          f"({figures['seconds']:.0f} s): p50 {figures['p50_ms']:.1f} ms, "
          f"p99 {figures['p99_ms']:.1f} ms, max {figures['max_ms']:.1f} ms "
          f"(mean {figures['mean_ms']:.1f} ms); lost {figures['lost']}; "
          f"seqs in order without repeats: {figures['in_order_without_repeats']}; "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
          f"({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
