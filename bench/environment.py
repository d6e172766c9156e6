"""Where the bench runs: its private database and vhost, free ports, and the processes it starts."""

from __future__ import annotations

import http.client
import os
import shlex
import socket
import sys
import time
import uuid
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

def procfile_pool_args(channel: str, procfile: Path = PROJECT_ROOT / "Procfile",
                       environ: dict[str, str] | None = None) -> list[str]:
    """The pool options of `channel`'s line in the Procfile (what `make run` starts), expanded.

    `--concurrency ${PUSH_CONCURRENCY:-1}` becomes `--concurrency 1` (or the
    variable's value); the queue, node name and log level are the bench's own.
    """
    environ = os.environ if environ is None else environ
    line = next((text for text in procfile.read_text().splitlines() if text.startswith(f"{channel}:")), None)
    if line is None:
        raise LookupError(f"no {channel!r} line in {procfile}")
    words = shlex.split(line.split(":", 1)[1])
    options = words[words.index("worker") + 1:]
    kept, skip_next = [], False
    for word in options:
        if skip_next:
            skip_next = False
            continue
        if word in ("-Q", "--queues", "-n", "--hostname", "-l", "--loglevel"):
            skip_next = True
            continue
        if word.startswith(("--queues=", "--hostname=", "--loglevel=")):
            continue
        kept.append(_expand(word, environ))
    return kept


def _expand(word: str, environ) -> str:
    """Shell-style ${NAME:-default} and $NAME, as honcho expands the Procfile."""
    import re

    def value(match: re.Match) -> str:
        name, default = match.group(1) or match.group(3), match.group(2)
        return environ.get(name) or (default or "")

    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)", value, word)


def pool_concurrency(pool_args: list[str]) -> int:
    """How many tasks the pool runs at once: its --concurrency (Celery's default: the CPU count)."""
    for index, word in enumerate(pool_args):
        if word in ("-c", "--concurrency") and index + 1 < len(pool_args):
            return int(pool_args[index + 1])
        if word.startswith("--concurrency="):
            return int(word.split("=", 1)[1])
    return os.cpu_count() or 1


def bench_pool_args(channel: str) -> list[str]:
    """BENCH_PUSH_POOL (e.g. "--pool threads --concurrency 64") if set, else the Procfile's options."""
    override = os.environ.get(f"BENCH_{channel.upper()}_POOL")
    return shlex.split(override) if override else procfile_pool_args(channel)


def pool_origin(channel: str) -> str:
    """Where bench_pool_args found the options, for the printed notes."""
    variable = f"BENCH_{channel.upper()}_POOL"
    return f"from {variable}" if os.environ.get(variable) else f"the Procfile's {channel} line"
