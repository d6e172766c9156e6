"""`python -m bench.async_load`: the load generator used when wrk is not installed, one asyncio process.

Closed loop: each connection POSTs the body, reads the answer, and POSTs again
until the time is up. Prints the same one-line summary as bench/post.lua.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from bench.load import parse_head


def request_bytes(host: str, port: int, path: str, body: bytes, api_key: str | None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}"]
    if api_key:
        lines.append(f"Authorization: Bearer {api_key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _one_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status and whether the server keeps the connection open."""
    version, status, headers = parse_head(await reader.readuntil(b"\r\n\r\n"))
    await reader.readexactly(int(headers.get("content-length", "0")))
    keep = version == "HTTP/1.1" and headers.get("connection") != "close"
    return status, keep


async def _client(host, port, payload, stop_at, latencies, counts) -> None:
    reader = writer = None
    while time.perf_counter() < stop_at:
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(payload)
            status, keep = await _one_response(reader)
        except (OSError, asyncio.IncompleteReadError):
            counts["socket_errors"] += 1
            writer = None
            continue
        latencies.append(time.perf_counter() - started)
        counts["requests"] += 1
        counts["non_2xx"] += not 200 <= status < 300
        if not keep:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def run(host: str, port: int, payload: bytes, connections: int, seconds: float) -> dict:
    latencies: list[float] = []
    counts = {"requests": 0, "non_2xx": 0, "socket_errors": 0}
    started = time.perf_counter()
    await asyncio.gather(*(_client(host, port, payload, started + seconds, latencies, counts)
                           for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def micros(quantile: float) -> int:
        return int(latencies[min(len(latencies) - 1, int(quantile * len(latencies)))] * 1e6) if latencies else 0

    return {**counts, "duration_us": int(elapsed * 1e6), "p50_us": micros(0.5), "p99_us": micros(0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.async_load", description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with open(args.body_file, "rb") as file:
        body = file.read()
    payload = request_bytes(args.host, args.port, args.path, body, os.environ.get("BENCH_API_KEY"))
    summary = asyncio.run(run(args.host, args.port, payload, args.connections, args.seconds))
    print("BENCH_RESULT " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
