"""Real Herald processes for end-to-end and fault tests: the API under gunicorn, worker pools and beat.

Every process writes its output to a log file; `LOG_FILES` lists them all, so
the run can check at its end that none holds an address, a key or a token
(tests/support/log_scan.py).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common.config import PROJECT_ROOT

CELERY = [sys.executable, "-m", "celery", "-A", "workers"]
# Every log file a process of this run wrote.
LOG_FILES: set[Path] = set()


class HeraldProcess:
    """A child process with its output in a log file, stopped at the end of a test."""

    def __init__(self, name: str, command: list[str], log_dir: Path, env: dict[str, str] | None):
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        LOG_FILES.add(self.log_path)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env={**os.environ, **(env or {})},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the pool children go too
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()[-4000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not log {text!r} in {timeout}s:\n{self.log()[-4000:]}")

    def signal_main(self, signum: int) -> None:
        """Signal only the main process (as `kill` would), not its pool children."""
        os.kill(self.process.pid, signum)

    def kill_group(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self, timeout: float = 20) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill_group()
        self.process.wait()
        self._log.close()


def stop_all(processes) -> None:
    """Stop processes side by side: a warm shutdown takes seconds per process."""
    processes = list(processes)
    if processes:
        with ThreadPoolExecutor(len(processes)) as pool:
            list(pool.map(HeraldProcess.stop, processes))


def start_worker(queue: str, log_dir: Path, concurrency: int = 2, env=None,
                 name: str | None = None) -> HeraldProcess:
    """A worker pool consuming one queue, named like production: push@<host>."""
    node = name or queue
    worker = HeraldProcess(
        node,
        [*CELERY, "worker", "-Q", queue, "-n", f"{node}@%h", "--concurrency", str(concurrency),
         "--loglevel", "INFO", "--without-mingle", "--without-gossip"],
        log_dir,
        env,
    )
    worker.wait_for_log(" ready.")
    return worker


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_api(log_dir: Path, env=None, workers: int = 1, name: str = "api",
              options: tuple[str, ...] = ("--access-logfile", "-")) -> tuple[HeraldProcess, str]:
    """The API under gunicorn as production runs it (gunicorn.conf.py read), on a port the OS
    chose; returns the process and its base URL once gunicorn listens."""
    api = HeraldProcess(
        name,
        [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", str(workers),
         *options, "api:create_app()"],
        log_dir,
        env,
    )
    api.wait_for_log("Booting worker")
    return api, re.search(r"Listening at: (http://\S+)", api.log()).group(1)


def start_beat(log_dir: Path, env=None) -> HeraldProcess:
    schedule = Path(log_dir) / "celerybeat-schedule"
    beat = HeraldProcess(
        "beat", [*CELERY, "beat", "--loglevel", "INFO", "--schedule", str(schedule)], log_dir, env
    )
    beat.wait_for_log("beat: Starting")
    return beat
