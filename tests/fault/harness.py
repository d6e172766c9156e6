"""Helpers for the fault tests: the processes one test runs, URLs routed through a proxy, figures."""

from __future__ import annotations

import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from tests.support.factories import status_counts
from tests.support.processes import HeraldProcess, start_beat, start_worker, stop_all
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

# The sweeper and relay at test speed (the defaults are minutes): read from the
# environment by every worker and beat process, see common/config.py.
FAST_RECOVERY = {
    "SENDING_LEASE_SECONDS": "5",
    "SWEEP_INTERVAL_SECONDS": "1",
    "RELAY_INTERVAL_SECONDS": "1",
}


def via_proxy(url: str, proxy: TcpProxy) -> str:
    """The same URL (credentials, database or vhost) with its host and port replaced by the proxy's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def report(title: str, **figures) -> None:
    """Print a test's measured figures on one line (run with -s to see them)."""
    shown = ", ".join(f"{name}={value:.2f}" if isinstance(value, float) else f"{name}={value}"
                      for name, value in figures.items())
    print(f"\n[fault] {title}: {shown}", file=sys.stderr)


class Stopwatch:
    def __init__(self):
        self.started = time.monotonic()

    def __call__(self) -> float:
        """Seconds since the stopwatch started."""
        return time.monotonic() - self.started


class Fleet:
    """The Herald processes one test runs; `stop_all` ends every one of them."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.processes: list[HeraldProcess] = []

    def _keep(self, process: HeraldProcess) -> HeraldProcess:
        self.processes.append(process)
        return process

    def worker(self, queue: str, concurrency: int = 2, env=None,
               log_dir: Path | None = None) -> HeraldProcess:
        return self._keep(start_worker(queue, log_dir or self.log_dir, concurrency, env))

    def workers(self, queues: dict[str, int], env=None) -> dict[str, HeraldProcess]:
        """Several pools at once: each takes seconds to boot, so boot them side by side."""
        with ThreadPoolExecutor(len(queues)) as pool:
            futures = {q: pool.submit(start_worker, q, self.log_dir, c, env) for q, c in queues.items()}
            for future in futures.values():
                if future.exception() is None:  # keep every one that started, for stop_all
                    self._keep(future.result())
            return {queue: future.result() for queue, future in futures.items()}

    def beat(self, env=None, log_dir: Path | None = None) -> HeraldProcess:
        return self._keep(start_beat(log_dir or self.log_dir, env))

    def api(self, env=None, workers: int = 4) -> str:
        """Gunicorn serving the API, as in the Procfile; returns its base URL once it answers.

        A real process, so that its broker connection (a process-wide Celery
        app configured from BROKER_URL) can be routed through a proxy.
        """
        process = self._keep(HeraldProcess(
            "api",
            [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", str(workers),
             # gunicorn 27's control socket has one default path per user: engineers
             # running the suite side by side would fight over it.
             "--no-control-socket", "api:create_app()"],
            self.log_dir, env,
        ))
        process.wait_for_log("Listening at: ")
        base = re.search(r"Listening at: (http://\S+)", process.log()).group(1)
        wait_until(lambda: _answers(f"{base}/health"), timeout=30,
                   message=f"the API did not answer:\n{process.log()[-3000:]}")
        return base

    def stop_all(self) -> None:
        stop_all(self.processes)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def living_members(process_group: int) -> list[int]:
    """Pids still alive (not zombies) in a process group: a killed pool's orphans."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited while we looked
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after it.
        state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == process_group and state != "Z":
            alive.append(int(entry.name))
    return alive


def post_notifications(client, auth, bodies) -> list[str]:
    """POST each body through the in-process API; every one must be accepted."""
    ids = []
    for body in bodies:
        response = client.post("/v1/notifications", json=body, headers=auth)
        assert response.status_code == 202, response.get_json()
        ids.append(response.get_json()["id"])
    return ids


def wait_for_sent(count: int, timeout: float, interval: float = 0.2) -> None:
    """Wait until at least `count` rows are `sent`; a timeout shows where the rows are now."""
    try:
        wait_until(lambda: status_counts().get("sent", 0) >= count, timeout=timeout, interval=interval)
    except AssertionError:
        raise AssertionError(f"fewer than {count} sent after {timeout}s: {status_counts()}") from None
