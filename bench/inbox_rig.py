"""What the inbox benches share: the API, an inapp pool and stream processes on a private database
and vhost, inbox tokens, posting items, and stream holders whose events are timed on arrival."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from bench.environment import (BENCH_KEY_LIMIT, HOST, NAME, PYTHON, RUN_ID, configure_environment,
                               free_port, start_gunicorn, start_pool, wait_until_serving)
from tests.support import services
from tests.support.processes import HeraldProcess

# The stream as the Procfile runs it: gunicorn with gevent workers, one greenlet per stream.
REALTIME_APP = "api.realtime:create_realtime_app()"


@dataclass
class Rig:
    api_port: int
    stream_ports: list[int]
    api_key: str
    log_dir: Path
    processes: dict[str, HeraldProcess]
    _local: threading.local = field(default_factory=threading.local)  # a connection per thread

    def _post(self, path: str, body: dict | None) -> dict:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = http.client.HTTPConnection(
                HOST, self.api_port, timeout=30)
        payload = json.dumps(body or {}).encode()
        connection.request("POST", path, payload, {
            "Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read() or b"{}")
        if response.status >= 300:
            raise RuntimeError(f"POST {path}: {response.status} {answer}")
        return answer

    def token(self, recipient: str) -> str:
        return self._post(f"/v1/recipients/{quote(recipient, safe='')}/inbox-token", None)["token"]

    def send_batch(self, recipients: list[str], title: str) -> list[tuple[str, float]]:
        """POST one batch of in-app items, one per recipient; (id, when the POST began) of each."""
        started = time.time()
        answer = self._post("/v1/notifications/batch", {
            "defaults": {"channel": "inapp"},
            "items": [{"to": recipient, "content": {"title": title, "body": "bench"}}
                      for recipient in recipients]})
        return [(item["id"], started) for item in answer["items"]]

    def send(self, recipient: str, title: str) -> tuple[str, float]:
        """POST one in-app item; its id and the wall-clock time the POST began."""
        started = time.time()
        answer = self._post("/v1/notifications", {
            "channel": "inapp", "to": recipient, "content": {"title": title, "body": "bench"}})
        return answer["id"], started


SERVICE = "bench-inbox"


def delivery_lag(ids: list[str]) -> tuple[float, float]:
    """p50 and p99 seconds from each notification's row (the POST's commit) to the inapp pool's
    delivery (`sent_at`): the part of POST -> arrival spent before the stream hears of it."""
    import psycopg2

    with psycopg2.connect(host=services.PG_HOST, port=services.PG_PORT, user=services.PG_USER,
                          dbname=NAME) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at)),"
            " percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at))"
            " FROM notifications WHERE id = ANY(%s::uuid[])", (ids,))
        p50, p99 = cursor.fetchone()
    connection.close()
    return float(p50 or 0), float(p99 or 0)


def mint_tokens(recipients: list[str]) -> list[str]:
    """Inbox tokens as POST /v1/recipients/{id}/inbox-token makes them, signed here: thousands
    of them in a second instead of thousands of requests (the secret is the rig's var/ one)."""
    from common.config import load_settings
    from common.inbox.store import Inbox
    from common.inbox.tokens import issue
    from common.models import utcnow

    config, now = load_settings(), utcnow()
    return [issue(Inbox(SERVICE, recipient), config, now)[0] for recipient in recipients]


def _prepare_database() -> str:
    from api import create_app
    from api.keys.service import create_api_key

    services.migrate(os.environ["DATABASE_URL"])
    with create_app().app_context():
        _key, secret = create_api_key(SERVICE, write_rate_limit=BENCH_KEY_LIMIT,
                                      read_rate_limit=BENCH_KEY_LIMIT)
    return secret


def start_stream(name: str, log_dir: Path, workers: int = 1) -> tuple[HeraldProcess, int]:
    port = free_port()
    process = HeraldProcess(name, [PYTHON, "-m", "gunicorn", "--bind", f"{HOST}:{port}",
                                   "--worker-class", "gevent", "--workers", str(workers),
                                   "--worker-connections", "20000", REALTIME_APP], log_dir, None)
    wait_until_serving(process, port)
    return process, port


@contextmanager
def inbox_rig(streams: int = 1, pool_concurrency: int = 16, api_workers: int = 2):
    """Everything running, in a private database and vhost that go away at the end."""
    var_dir = Path(tempfile.mkdtemp(prefix=f"herald-bench-{RUN_ID}-"))
    configure_environment(var_dir)
    log_dir = var_dir / "logs"
    log_dir.mkdir(parents=True)
    with ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, var_dir, ignore_errors=True)
        services.create_database(NAME)
        cleanup.callback(services.drop_database, NAME)
        services.create_vhost(NAME)
        cleanup.callback(services.delete_vhost, NAME)
        api_key = _prepare_database()
        processes = {}
        api, api_port = start_gunicorn("inbox-api", "api:create_app()", api_workers, log_dir)
        cleanup.callback(api.stop)
        processes["API"] = api
        pool = start_pool("inapp", "workers", "inapp", ["--pool", "threads", "--concurrency",
                                                        str(pool_concurrency)], log_dir,
                          {"WORKER_CONCURRENCY": str(pool_concurrency)})
        cleanup.callback(pool.stop)
        pool.wait_for_log(" ready.", timeout=60)
        processes["inapp pool"] = pool
        ports = []
        for index in range(streams):
            stream, port = start_stream(f"realtime-{index}", log_dir)
            cleanup.callback(stream.stop)
            processes[f"stream {index}"] = stream
            ports.append(port)
        yield Rig(api_port, ports, api_key, log_dir, processes)


@dataclass
class Holder:
    """A `bench.sse_holder` process: its streams' events with their arrival times, by item id."""

    process: subprocess.Popen
    opened: threading.Event = field(default_factory=threading.Event)
    open_count: int = 0
    refused: int = 0
    closed: list[str] = field(default_factory=list)
    arrivals: dict[str, float] = field(default_factory=dict)
    seqs: dict[str, list[int]] = field(default_factory=dict)
    cpu_seconds: float | None = None
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def _read(self) -> None:
        for line in self.process.stdout:
            kind, *rest = line.split()
            if kind == "EVENT":
                label, seq, item, at = rest
                with self.arrived:
                    self.arrivals[item] = float(at)
                    self.seqs.setdefault(label, []).append(int(seq))
                    self.arrived.notify_all()
            elif kind == "OPEN":
                self.open_count, self.refused = int(rest[0]), int(rest[2])
                self.opened.set()
            elif kind == "CLOSED":
                self.closed.append(" ".join(rest))
            elif kind == "CPU":
                self.cpu_seconds = float(rest[0])

    def wait_for(self, item: str, timeout: float) -> float | None:
        with self.arrived:
            self.arrived.wait_for(lambda: item in self.arrivals, timeout)
            return self.arrivals.get(item)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(30)
        self.reader.join(10)


def start_holder(port: int, pairs: list[tuple[str, str]], work_dir: Path) -> Holder:
    tokens = Path(tempfile.mkstemp(prefix="tokens-", dir=work_dir)[1])
    tokens.write_text("".join(f"{label} {token}\n" for label, token in pairs))
    # Its own session, so CpuSampler can count its CPU apart.
    process = subprocess.Popen([PYTHON, "-m", "bench.sse_holder", "--port", str(port),
                                "--tokens-file", str(tokens)],
                               stdout=subprocess.PIPE, text=True, bufsize=1, start_new_session=True)
    holder = Holder(process)
    holder.reader = threading.Thread(target=holder._read, daemon=True)
    holder.reader.start()
    return holder


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
