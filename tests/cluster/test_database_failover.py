"""A PostgreSQL failover under load: the API answers 503 with Retry-After, then recovers by itself.

Herald's processes get a libpq multi-host DATABASE_URL (primary, standby,
`target_session_attrs=read-write`). Callers post 1,000 notifications, each
with its own Idempotency-Key and sent again after Retry-After when refused;
a third of the way in, the primary is stopped as a crash would stop it and
the standby promoted a moment later. With synchronous replication every
`202` was on both nodes: none is lost, every one is delivered, none is left
`sending`. With asynchronous replication the figures are printed, not
asserted: what the standby had not received when the primary died is gone.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import requests
from sqlalchemy import func, select

from common.models import Notification
from tests.fault.harness import FAST_RECOVERY, Stopwatch, report
from tests.support.broker import purge
from tests.support.factories import push_body
from tests.support.waiting import wait_until

TOTAL = 1000
CALLERS = 4
FAIL_OVER_AFTER = 300  # accepted notifications
PROMOTE_AFTER_SECONDS = 1.0  # a failover manager's detection time, kept short


class Callers:
    """Threads posting notifications as a calling service would: Retry-After honoured, same key."""

    def __init__(self, base: str, api_key: str, total: int):
        self.base, self.headers, self.total = base, {"Authorization": f"Bearer {api_key}"}, total
        self.accepted: list[str] = []
        self.answers: Counter = Counter()
        self.refused_at: list[float] = []  # monotonic times of the 503s
        self.clock = Stopwatch()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._post_share, args=(n,), daemon=True)
                         for n in range(CALLERS)]

    def start(self):
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float):
        for thread in self._threads:
            thread.join(timeout)
        assert not any(t.is_alive() for t in self._threads), "callers still posting"

    def _post_share(self, n: int):
        with requests.Session() as session:
            for i in range(n, self.total, CALLERS):
                self._post_until_accepted(session, push_body(f"failover-device-{i}"))

    def _post_until_accepted(self, session, body):
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                answer = session.post(f"{self.base}/v1/notifications", json=body, headers=headers,
                                      timeout=30)
            except requests.ConnectionError:
                with self._lock:
                    self.answers["connection error"] += 1
                time.sleep(0.5)
                continue
            with self._lock:
                self.answers[answer.status_code] += 1
                if answer.status_code == 202:
                    self.accepted.append(answer.json()["id"])
                    return
                if answer.status_code == 503:
                    self.refused_at.append(self.clock())
            if answer.status_code != 503:
                return  # counted; the test fails on it
            time.sleep(float(answer.headers["Retry-After"]))
        with self._lock:
            self.answers["gave up"] += 1


class Probe(threading.Thread):
    """One request every 0.1 s through the failover, Retry-After ignored: how long the API refused."""

    def __init__(self, base: str, api_key: str, clock: Stopwatch):
        super().__init__(daemon=True)
        self.base, self.headers, self.clock = base, {"Authorization": f"Bearer {api_key}"}, clock
        self.answers: list[tuple[float, int]] = []
        self.accepted: list[str] = []
        self.stop = threading.Event()

    def run(self):
        with requests.Session() as session:
            n = 0
            while not self.stop.is_set():
                n += 1
                answer = session.post(f"{self.base}/v1/notifications", headers=self.headers,
                                      json=push_body(f"probe-device-{n}"), timeout=30)
                self.answers.append((self.clock(), answer.status_code))
                if answer.status_code == 202:
                    self.accepted.append(answer.json()["id"])
                time.sleep(0.1)

    def seconds_of_503(self) -> float:
        """From the first 503 to the first 202 after the last one."""
        refused = [t for t, status in self.answers if status == 503]
        if not refused:
            return 0.0
        back = next(t for t, status in self.answers if t > refused[-1] and status == 202)
        return back - refused[0]


def _rows(ids: list[str]) -> Counter:
    from common.db import db

    db.session.rollback()
    found = db.session.execute(
        select(Notification.status, func.count()).where(Notification.id.in_([uuid.UUID(i) for i in ids]))
        .group_by(Notification.status)).all()
    return Counter(dict(found))


def test_a_failover_costs_seconds_of_503_and_no_accepted_notification(
        request, broker, standby, standby_app, fleet, outbox):
    from api.keys.service import create_api_key

    mode = "synchronous" if standby.synchronous else "asynchronous"
    purge("push")
    url = standby.url("herald")
    env = {**FAST_RECOVERY, "DATABASE_URL": url}
    with standby_app.app_context():
        _key, secret = create_api_key("failover-service")
    fleet.workers({"push": 8, "maintenance": 1}, env={**env, "WORKER_CONCURRENCY": "8"})
    fleet.beat(env=env)
    base = fleet.api(env=env, workers=2)

    callers = Callers(base, secret, TOTAL)
    callers.start()
    wait_until(lambda: len(callers.accepted) >= FAIL_OVER_AFTER, timeout=120, interval=0.05)
    accepted_before = len(callers.accepted)
    probe = Probe(base, secret, callers.clock)
    probe.start()
    time.sleep(0.5)
    stopped_at = callers.clock()
    standby.stop_primary()
    time.sleep(PROMOTE_AFTER_SECONDS)
    standby.promote_standby()
    promoted_at = callers.clock()
    callers.join(timeout=300)
    probe.stop.set()
    probe.join(timeout=60)

    with standby_app.app_context():
        accepted = list(callers.accepted) + probe.accepted
        wait_until(lambda: _rows(accepted).get("sent", 0) + _lost(accepted) >= len(accepted),
                   timeout=300, interval=1, message=f"not all sent: {_rows(accepted)}")
        rows = _rows(accepted)
    lost = len(accepted) - sum(rows.values())
    delivered = outbox.counts("push")
    refused = callers.refused_at
    report(f"PostgreSQL failover ({mode} replication)", accepted=len(accepted),
           accepted_before_failover=accepted_before, answers=dict(callers.answers),
           primary_stopped_s=stopped_at, standby_promoted_s=promoted_at,
           first_503_s=min(refused, default=0.0), last_503_s=max(refused, default=0.0),
           callers_503_s=(max(refused) - min(refused)) if refused else 0.0,
           probe_answers=dict(Counter(status for _, status in probe.answers)),
           seconds_of_503=probe.seconds_of_503(),
           lost=lost, statuses=dict(rows),
           duplicates=sum(1 for n in delivered.values() if n > 1))
    assert len(callers.accepted) == TOTAL, f"not all accepted: {dict(callers.answers)}"
    assert set(callers.answers) <= {202, 503, "connection error"}, dict(callers.answers)
    assert {status for _, status in probe.answers} <= {202, 503}, probe.answers
    assert probe.seconds_of_503() > 0, "the probe never saw the failover"
    if standby.synchronous:
        assert lost == 0
        assert rows == {"sent": len(accepted)}, f"not all sent, or some stuck in sending: {dict(rows)}"
    else:
        assert rows.get("sending", 0) == 0, dict(rows)


def _lost(ids: list[str]) -> int:
    return len(ids) - sum(_rows(ids).values())
