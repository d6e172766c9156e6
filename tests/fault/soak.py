"""A push pool at full concurrency against the local FCM fake answering after a fixed latency.

Rows are inserted in one multi-row INSERT and their tasks published before the
pool starts, so the pool drains a full queue: the figures are the pool's, not
the API's. The fake records every request it answered; `SoakFigures` holds
what a run measured.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from common import topology
from common.celery_app import celery_app
from common.db import db
from common.models import Notification, utcnow
from tests.support.fake_fcm import FakeFcm, MessagesApi

PROJECT = "herald-soak"


class SlowMessagesApi(MessagesApi):
    """FCM's messages:send answering every send after `latency` seconds, as a busy FCM might."""

    def __init__(self, issuer, latency: float):
        super().__init__(issuer)
        self.latency = latency
        self.in_flight = 0
        self.most_in_flight = 0
        self._count_lock = threading.Lock()

    def handle(self, project, headers, raw_body):
        with self._count_lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.latency)
            return super().handle(project, headers, raw_body)
        finally:
            with self._count_lock:
                self.in_flight -= 1

    def sends_per_device(self) -> Counter:
        with self._lock:
            return Counter((s.body.get("message") or {}).get("token") for s in self.sends)


class CountingFakeFcm(FakeFcm):
    """The FCM fake that also counts the TCP connections it accepted (one handler thread each)."""

    def __init__(self):
        super().__init__()
        self.connections = 0
        accept = self._server.process_request

        def counted(request, client_address):
            self.connections += 1  # only the server's accepting thread runs this
            return accept(request, client_address)

        self._server.process_request = counted


def start_slow_fcm(directory: Path, latency: float) -> tuple[CountingFakeFcm, dict[str, str]]:
    """The fake and the environment that points a push pool at it."""
    fcm = CountingFakeFcm()
    fcm.messages = SlowMessagesApi(fcm.tokens, latency)
    fcm.start()
    account = fcm.service_account(PROJECT)
    settings = fcm.settings_file(account, directory)
    return fcm, {"FCM_CREDENTIALS_FILE": settings.credentials_file, "FCM_PROJECT_ID": PROJECT,
                 "FCM_ENDPOINT": fcm.base_url}


def queue_due_pushes(owner, count: int) -> dict[str, uuid.UUID]:
    """`count` due push rows (one device token each) and their published tasks: token -> id."""
    now = utcnow()
    rows = [dict(id=uuid.uuid4(), service=owner.service, api_key_id=owner.id, channel="push",
                 recipient=f"soak-device-{i}-{uuid.uuid4().hex[:8]}", title="Hi", body="Hello",
                 priority="normal", deliver_at=now - timedelta(seconds=1),
                 schedule_reason="immediate", status="scheduled", attempts=0,
                 dispatch_token=uuid.uuid4(), enqueued_at=now, created_at=now, updated_at=now)
             for i in range(count)]
    db.session.execute(insert(Notification), rows)
    db.session.commit()
    app = celery_app()
    with app.producer_or_acquire() as producer:
        for row in rows:
            app.send_task(topology.delivery_task_name("push"),
                          args=[str(row["id"]), str(row["dispatch_token"])],
                          queue="push", routing_key="push", producer=producer)
    return {row["recipient"]: row["id"] for row in rows}


@dataclass
class SoakFigures:
    deliveries: int
    seconds: float  # first `sent` to last
    concurrency: int
    latency: float
    most_in_flight: int
    worker_cpu_seconds: float  # the pool process's user + system time over the whole run
    connections: int  # TCP connections the pool opened to FCM (sends and token exchanges)
    token_exchanges: int

    @property
    def per_second(self) -> float:
        return self.deliveries / self.seconds

    @property
    def ideal(self) -> float:
        return self.concurrency / self.latency

    def as_dict(self) -> dict:
        return {"deliveries": self.deliveries, "seconds": round(self.seconds, 2),
                "concurrency": self.concurrency, "provider_latency_ms": int(self.latency * 1000),
                "most_in_flight": self.most_in_flight, "fcm_connections": self.connections,
                "token_exchanges": self.token_exchanges,
                "worker_cpu_ms_per_delivery": round(1000 * self.worker_cpu_seconds / self.deliveries, 2),
                "herald_dps": round(self.per_second, 1),
                "ideal_dps": round(self.ideal, 1), "ratio": round(self.per_second / self.ideal, 3)}

    def __str__(self) -> str:
        return json.dumps(self.as_dict())


def sent_span() -> tuple[int, float]:
    """How many rows are sent, and the seconds from the first `sent_at` to the last."""
    db.session.rollback()
    count, first, last = db.session.execute(
        select(func.count(), func.min(Notification.sent_at), func.max(Notification.sent_at))
        .where(Notification.status == "sent")).one()
    return count, (last - first).total_seconds() if count else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
