"""`python -m bench.sse_holder`: one process holding many inbox streams, reporting each event's arrival.

Reads "<label> <token>" lines from a file, opens a stream per line (a few
hundred connects at a time), prints `OPEN <n>` once all are open, then one
`EVENT <label> <seq> <item id> <unix time>` line per notification event. On
SIGTERM it prints `CPU <seconds>` (its own user + system time) and exits, so the
bench can say what the client cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
import time
from urllib.parse import quote

from bench.sse_client import StreamClosed, stream

CONNECTS_AT_ONCE = 200


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _hold(host, port, path, label, token, opened, gate, counts) -> None:
    def on_event(event) -> None:
        if event.name == "notification":
            item = json.loads(event.text)
            _say(f"EVENT {label} {item.get('seq', event.id)} {item.get('id')} {time.time():.6f}")

    async with gate:
        waiter = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(stream(host, port, f"{path}?token={quote(token)}", on_event,
                                            on_open=lambda: waiter.done() or waiter.set_result(None)))
        done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        counts["refused"] += 1
        _say(f"CLOSED {label} {task.exception()!r}")
        return
    counts["open"] += 1
    if counts["open"] + counts["refused"] == opened:
        _say(f"OPEN {counts['open']} REFUSED {counts['refused']}")
    try:
        await task
    except (StreamClosed, OSError) as error:
        _say(f"CLOSED {label} {error!r}")


async def run(host: str, port: int, path: str, pairs: list[tuple[str, str]]) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    gate = asyncio.Semaphore(CONNECTS_AT_ONCE)
    counts = {"open": 0, "refused": 0}
    tasks = [asyncio.ensure_future(_hold(host, port, path, label, token, len(pairs), gate, counts))
             for label, token in pairs]
    await stop.wait()
    for task in tasks:
        task.cancel()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _say(f"CPU {usage.ru_utime + usage.ru_stime:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sse_holder", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/v1/inbox/stream")
    parser.add_argument("--tokens-file", required=True)
    args = parser.parse_args()
    with open(args.tokens_file) as file:
        pairs = [tuple(line.split()) for line in file if line.strip()]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(run(args.host, args.port, args.path, pairs))


if __name__ == "__main__":
    main()
