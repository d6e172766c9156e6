"""Timed POST load from a separate process: wrk when installed, else bench.async_load; with its CPU cost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.environment import HOST, PYTHON

LUA_SCRIPT = Path(__file__).with_name("post.lua")
WRK_THREADS = 2  # one per CPU of this machine; more only steal from the servers
MARKER = "BENCH_RESULT "
GENERATORS = ("wrk", "asyncio")


@dataclass
class LoadResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    client_cpu_seconds: float  # user + system time of the load process

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def client_cores(self) -> float:
        return self.client_cpu_seconds / self.seconds if self.seconds else 0.0


def generator() -> str:
    """The load generator: BENCH_LOAD_GENERATOR if set, else "wrk" when installed, else "asyncio"."""
    chosen = os.environ.get("BENCH_LOAD_GENERATOR")
    if chosen in GENERATORS:
        return chosen
    return "wrk" if shutil.which("wrk") else "asyncio"


def post_load(port: int, path: str, body: bytes, api_key: str | None, *, connections: int,
              seconds: float) -> LoadResult:
    """POST `body` to 127.0.0.1:`port``path` from `connections` closed-loop connections for `seconds`."""
    with tempfile.NamedTemporaryFile(prefix="herald-bench-body-", suffix=".json") as body_file:
        body_file.write(body)
        body_file.flush()
        env = {**os.environ, "BENCH_BODY_FILE": body_file.name, "BENCH_API_KEY": api_key or ""}
        if generator() == "wrk":
            command = ["wrk", "--threads", str(min(WRK_THREADS, connections)), "--connections",
                       str(connections), "--duration", f"{max(1, round(seconds))}s", "--timeout", "10s",
                       "--script", str(LUA_SCRIPT), f"http://{HOST}:{port}{path}"]
        else:
            command = [PYTHON, "-m", "bench.async_load", "--host", HOST, "--port", str(port), "--path", path,
                       "--body-file", body_file.name, "--connections", str(connections),
                       "--seconds", str(seconds)]
        return _run(command, env)


def _run(command: list[str], env: dict[str, str]) -> LoadResult:
    # The load process's CPU is the growth of our reaped children's rusage: the
    # bench reaps no other child while it runs.
    cpu_before = _children_cpu_seconds()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               cwd=Path(__file__).resolve().parent.parent)
    try:
        output, errors = process.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    cpu = _children_cpu_seconds() - cpu_before
    line = next((text for text in output.decode().splitlines() if text.startswith(MARKER)), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"{command[0]} failed ({process.returncode}): {errors.decode()[-2000:]}")
    summary = json.loads(line[len(MARKER):])
    return LoadResult(requests=summary["requests"], seconds=summary["duration_us"] / 1e6,
                      non_2xx=summary["non_2xx"], socket_errors=summary["socket_errors"],
                      p50_ms=summary["p50_us"] / 1000, p99_ms=summary["p99_us"] / 1000,
                      client_cpu_seconds=cpu)


def _children_cpu_seconds() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system

