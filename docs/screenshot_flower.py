"""Take docs/flower.png: Flower's workers dashboard with the push, email and sms pools.

Only the picture in docs/monitoring.md needs this script; no test does. It needs Chromium,
which on Debian is installed with

    apt-get update && apt-get install -y chromium

Run it from the repository root with the project's virtualenv:

    .venv/bin/python docs/screenshot_flower.py            # writes docs/flower.png

It runs the embedded setup of `make run` in a temporary directory (SQLite,
kombu's filesystem transport, sandbox providers): migrates, creates an API key,
starts the API, the three channel pools and Flower with a login
(workers/flowerconfig.py), sends a few notifications of each channel, waits
until Flower has seen every delivery succeed, photographs /workers with
headless Chromium, and stops everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SENT = {"push": 7, "email": 5, "sms": 3}  # different counts, so each row reads differently
BODIES = {
    "push": lambda i: {"channel": "push", "to": f"demo-device-{i}",
                       "content": {"title": "Your order shipped", "body": "Arriving Tuesday"}},
    "email": lambda i: {"channel": "email", "to": f"customer{i}@example.com",
                        "content": {"subject": "Your receipt", "body": "Thanks!"}},
    "sms": lambda i: {"channel": "sms", "to": f"+44770090{i:04d}",
                      "content": {"body": "Your table is booked for 8pm"}},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, condition, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if value := condition():
                return value
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"gave up waiting for {what}")


class Processes:
    """Child processes, each in its own process group, stopped together at the end."""

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.env, self.log_dir, self.started = env, log_dir, []
        self.logs = contextlib.ExitStack()

    def run(self, *command: str) -> str:
        return subprocess.run(command, cwd=ROOT, env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def start(self, name: str, *command: str) -> None:
        log = self.logs.enter_context(open(self.log_dir / f"{name}.log", "wb"))  # noqa: SIM115
        self.started.append(subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True))

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.logs.close()


def take(output: Path, chromium: str) -> None:
    work = Path(tempfile.mkdtemp(prefix="herald-flower-shot-"))
    login = ("operator", secrets.token_hex(8))
    api_port, flower_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")}
    env.update(
        HERALD_VAR_DIR=str(work / "var"),
        DATABASE_URL=f"sqlite:///{work / 'var' / 'herald.db'}",
        BROKER_URL="filesystem://",
        QUIET_HOURS="off",
        FLOWER_BASIC_AUTH=":".join(login),
    )
    (work / "var").mkdir()
    processes = Processes(env, work)
    try:
        processes.run(PYTHON, "-m", "flask", "--app", "api", "db", "upgrade")
        key = processes.run(PYTHON, "-m", "flask", "--app", "api", "keys", "create", "screenshot",
                            "--quiet").strip()
        processes.start("api", PYTHON, "-m", "gunicorn", "--bind", f"127.0.0.1:{api_port}",
                        "--workers", "1", "api:create_app()")
        for queue in SENT:
            processes.start(queue, PYTHON, "-m", "celery", "-A", "workers", "worker", "-Q", queue,
                            "-n", f"{queue}@%h", "--concurrency", "1", "--loglevel", "INFO")
        processes.start("flower", PYTHON, "-m", "celery", "-A", "workers", "flower",
                        "--conf=workers/flowerconfig.py", f"--port={flower_port}")

        api, flower = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{flower_port}"
        wait_for("the API", lambda: requests.get(f"{api}/health", timeout=2).ok)
        wait_for("Flower to hear from the three pools", lambda: {
            name.split("@")[0] for name, up in requests.get(
                f"{flower}/api/workers", params={"status": 1}, auth=login, timeout=5).json().items()
            if up} >= set(SENT))

        ids = set()
        for channel, count in SENT.items():
            for i in range(count):
                response = requests.post(f"{api}/v1/notifications", json=BODIES[channel](i),
                                         headers={"Authorization": f"Bearer {key}"}, timeout=10)
                response.raise_for_status()
                ids.add(response.json()["id"])

        def delivered():
            tasks = requests.get(f"{flower}/api/tasks", params={"state": "SUCCESS"}, auth=login,
                                 timeout=5).json().values()
            return {nid for task in tasks for nid in ids if nid in (task.get("args") or "")} == ids

        wait_for("Flower to list every delivery as succeeded", delivered)
        time.sleep(3)  # a heartbeat after the last task, so every row reads online and idle

        url = f"http://{login[0]}:{login[1]}@127.0.0.1:{flower_port}/workers"
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={work / 'chromium'}", "--hide-scrollbars",
             "--window-size=1400,660", "--virtual-time-budget=5000",
             f"--screenshot={output.resolve()}", url],
            check=True, capture_output=True, timeout=120,
        )
        print(f"wrote {output} ({output.stat().st_size // 1024} KB)")
    finally:
        processes.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "flower.png")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    take(args.output, args.chromium)


if __name__ == "__main__":
    main()
