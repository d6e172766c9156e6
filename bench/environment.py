"""Where the bench runs: its private database and vhost, free ports, and the processes it starts."""

from __future__ import annotations

import http.client
import os
import re
import shlex
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from common.config import PROJECT_ROOT
from tests.support import services
from tests.support.processes import HeraldProcess

HOST = "127.0.0.1"
RUN_ID = uuid.uuid4().hex[:8]
NAME = f"herald_bench_{RUN_ID}"  # the private database and vhost, dropped at the end
PYTHON = sys.executable

# The variables that switch a channel from the sandbox to a real provider: the
# bench must never reach FCM, an SMTP server or Twilio (drain_latency points
# FCM at the local fake, for its own pool only).
PROVIDER_SWITCHES = ("FCM_CREDENTIALS_FILE", "FCM_CREDENTIALS_JSON", "FCM_PROJECT_ID", "FCM_ENDPOINT",
                     "SMTP_HOST", "TWILIO_ACCOUNT_SID")

# `critical` bypasses quiet hours, so every request is due now and published at
# once whatever the time of day: the path being compared with the baseline.
PUSH_REQUEST = {"channel": "push", "to": "bench-device-token", "priority": "critical",
                "content": {"title": "Bench", "body": "Hello from the benchmark"}}

# The bench key's own budgets: far above anything this machine can send, so the
# limiter stays on (its cost is part of the figure) but never refuses.
BENCH_KEY_LIMIT = "1000000/second"


def configure_environment(var_dir: Path) -> None:
    """Point Herald (this process and every child) at the private database and vhost."""
    for name in PROVIDER_SWITCHES:
        os.environ.pop(name, None)
    os.environ.update(
        HERALD_VAR_DIR=str(var_dir),
        OUTBOX_DIR=str(var_dir / "outbox"),
        DATABASE_URL=services.database_url(NAME),
        BROKER_URL=services.broker_url(NAME),
        QUORUM_QUEUES="false",  # the RabbitMQ here may be older than 4.0.1
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until_serving(server: HeraldProcess, port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited early:\n{server.log()[-3000:]}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{server.name} did not answer /health in {timeout}s:\n{server.log()[-3000:]}")


def start_gunicorn(name: str, app_spec: str, workers: int, log_dir: Path,
                   extra: tuple[str, ...] = ()) -> tuple[HeraldProcess, int]:
    port = free_port()
    server = HeraldProcess(name, [PYTHON, "-m", "gunicorn", "--bind", f"{HOST}:{port}",
                                  "--workers", str(workers), *extra, app_spec], log_dir, None)
    try:
        wait_until_serving(server, port)
    except BaseException:
        server.stop()
        raise
    return server, port


def start_pool(name: str, celery_app: str, queue: str, pool_args: list[str], log_dir: Path,
               env: dict[str, str] | None = None) -> HeraldProcess:
    """A Celery worker on one queue; its output (and its " ready." line) in its log file."""
    return HeraldProcess(
        name,
        [PYTHON, "-m", "celery", "-A", celery_app, "worker", "-Q", queue, "-n", f"{name}@%h",
         *pool_args, "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        log_dir, env,
    )


# --- the pool the project recommends ------------------------------------------------------------

@dataclass(frozen=True)
class PoolCommand:
    """A pool as the Procfile starts it: its worker options and the variables set before them."""

    options: list[str]   # after `worker`, without the queue, node name and log level
    env: dict[str, str]  # VAR=value prefixes of the line, without the metrics port

    @property
    def concurrency(self) -> int:
        """Tasks the pool runs at once: --concurrency, else WORKER_CONCURRENCY, else the CPU count."""
        for index, word in enumerate(self.options):
            if word in ("-c", "--concurrency") and index + 1 < len(self.options):
                return int(self.options[index + 1])
            if word.startswith("--concurrency="):
                return int(word.split("=", 1)[1])
        return int(self.env.get("WORKER_CONCURRENCY") or os.environ.get("WORKER_CONCURRENCY")
                   or os.cpu_count() or 1)

    def pinned(self) -> tuple[list[str], dict[str, str]]:
        """Options and environment with the concurrency spelled out, so a bare Celery app gets the
        same as Herald's (which may size itself from WORKER_CONCURRENCY), and no metrics port."""
        concurrency = self.concurrency
        options, skip_next = [], False
        for word in self.options:
            if skip_next:
                skip_next = False
            elif word in ("-c", "--concurrency"):
                skip_next = True
            elif not word.startswith("--concurrency="):
                options.append(word)
        env = {**self.env, "WORKER_CONCURRENCY": str(concurrency), "WORKER_METRICS_PORT": "0"}
        return [*options, "--concurrency", str(concurrency)], env

    def as_is(self) -> tuple[list[str], dict[str, str]]:
        """Options and environment as the line has them, with no metrics port."""
        return list(self.options), {**self.env, "WORKER_METRICS_PORT": "0"}

    def describe(self) -> str:
        assignments = " ".join(f"{name}={value}" for name, value in self.env.items())
        return f"{assignments} {' '.join(self.options)}".strip()


def procfile_pool(channel: str, procfile: Path = PROJECT_ROOT / "Procfile",
                  environ: dict[str, str] | None = None) -> PoolCommand:
    """`channel`'s line in the Procfile (what `make run` starts), with ${VAR:-default} expanded.

    `WORKER_CONCURRENCY=${PUSH_CONCURRENCY:-50} celery ... --pool threads`
    gives the options `--pool threads` and the variable WORKER_CONCURRENCY=50
    (or $PUSH_CONCURRENCY); the queue, node name and log level are the bench's own.
    """
    environ = os.environ if environ is None else environ
    line = next((text for text in procfile.read_text().splitlines() if text.startswith(f"{channel}:")), None)
    if line is None:
        raise LookupError(f"no {channel!r} line in {procfile}")
    words = [_expand(word, environ) for word in shlex.split(line.split(":", 1)[1])]
    env = {}
    while words and re.fullmatch(r"\w+=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        if name != "WORKER_METRICS_PORT":  # the bench never binds the ports `make run` uses
            env[name] = value
    options, skip_next = [], False
    for word in words[words.index("worker") + 1:]:
        if skip_next:
            skip_next = False
        elif word in ("-Q", "--queues", "-n", "--hostname", "-l", "--loglevel"):
            skip_next = True
        elif not word.startswith(("--queues=", "--hostname=", "--loglevel=")):
            options.append(word)
    return PoolCommand(options, env)


def _expand(word: str, environ) -> str:
    """Shell-style ${NAME:-default} and $NAME, as honcho expands the Procfile."""

    def value(match: re.Match) -> str:
        name, default = match.group(1) or match.group(3), match.group(2)
        return environ.get(name) or (default or "")

    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)", value, word)


def bench_pool(channel: str) -> PoolCommand:
    """BENCH_PUSH_POOL (e.g. "--pool threads --concurrency 64") if set, else the Procfile's line."""
    override = os.environ.get(f"BENCH_{channel.upper()}_POOL")
    return PoolCommand(shlex.split(override), {}) if override else procfile_pool(channel)


def pool_origin(channel: str) -> str:
    """Where bench_pool found the options, for the printed notes."""
    variable = f"BENCH_{channel.upper()}_POOL"
    return f"from {variable}" if os.environ.get(variable) else f"the Procfile's {channel} line"
