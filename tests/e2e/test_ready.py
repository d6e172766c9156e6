"""/ready with a real pool running: its queue shows one consumer, the others their backlog."""

from __future__ import annotations

import pytest

from tests.support.broker import purge
from tests.support.factories import push_body
from tests.support.processes import start_worker
from tests.support.waiting import wait_until

QUEUES = ("push", "email", "sms", "inapp", "maintenance")
BACKLOG = 12


@pytest.fixture
def email_pool(app, log_dir):
    purge(*QUEUES)
    worker = start_worker("email", log_dir, concurrency=2)
    try:
        yield worker
    finally:
        worker.stop()
        purge(*QUEUES)


def test_ready_counts_a_running_pool_and_the_backlog_no_pool_drains(client, auth, email_pool):
    for i in range(BACKLOG):
        assert client.post("/v1/notifications", json=push_body(f"device-{i}"),
                           headers=auth).status_code == 202

    def counted_the_pool():
        body = client.get("/ready").get_json()
        return body if body["queues"]["email"]["consumers"] == 1 else None

    # The pool consumes by the time it logs "ready"; give the broker a moment to count it.
    body = wait_until(counted_the_pool, timeout=10, message="the email pool never showed as a consumer")

    assert body["status"] == "ready"
    assert body["queues"] == {
        "push": {"messages": BACKLOG, "consumers": 0},
        "email": {"messages": 0, "consumers": 1},
        "sms": {"messages": 0, "consumers": 0},
        "inapp": {"messages": 0, "consumers": 0},
        "maintenance": {"messages": 0, "consumers": 0},
    }
    print(f"\n[e2e] /ready with an email pool and {BACKLOG} push tasks waiting: {body}")
