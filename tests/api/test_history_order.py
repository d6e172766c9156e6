"""A notification's history shows what happened in the order it happened, even when requests race.

Send-now and cancel from threads, against real PostgreSQL: a request reads
the clock before it may wait for the row's lock, so its start time is not
when its change happened. History follows the order the changes committed in.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from common import lifecycle
from common.models import utcnow
from common.statuses import Status
from tests.support.factories import push_body

SEND_NOW = "send-now requested"


def create(client, auth) -> str:
    send_at = (utcnow() + timedelta(hours=1)).isoformat()
    response = client.post("/v1/notifications", json=push_body(send_at=send_at), headers=auth)
    assert response.status_code == 202
    return response.get_json()["id"]


def shown(client, auth, nid: str) -> dict:
    response = client.get(f"/v1/notifications/{nid}", headers=auth)
    assert response.status_code == 200
    return response.get_json()


def assert_history_agrees(notification: dict) -> None:
    """The last event is the status now, and times never go back."""
    events = notification["events"]
    assert events[-1]["status"] == notification["status"], events
    times = [datetime.fromisoformat(e["at"]) for e in events]
    assert times == sorted(times), events


def test_a_cancel_that_waited_while_send_now_committed_comes_after_it(app, client, auth, monkeypatch):
    nid = create(client, auth)
    cancel_has_its_time, hurried = threading.Event(), threading.Event()
    transition = lifecycle.transition

    def cancel_held_back(notification_id, target, **kwargs):
        # The cancel request has read its clock; it reaches the row only after send-now committed.
        if target is Status.CANCELLED:
            cancel_has_its_time.set()
            assert hurried.wait(10)
        return transition(notification_id, target, **kwargs)

    monkeypatch.setattr(lifecycle, "transition", cancel_held_back)
    with ThreadPoolExecutor(1) as pool:
        cancelling = pool.submit(app.test_client().post, f"/v1/notifications/{nid}/cancel", headers=auth)
        assert cancel_has_its_time.wait(10)
        send_now = client.post(f"/v1/notifications/{nid}/send-now", headers=auth)
        hurried.set()
        cancel = cancelling.result(timeout=20)

    assert (send_now.status_code, cancel.status_code) == (202, 200)
    notification = shown(client, auth, nid)
    assert notification["status"] == "cancelled"
    assert [(e["status"], e["detail"]) for e in notification["events"]] == [
        ("scheduled", "scheduled: send_at"), ("scheduled", SEND_NOW), ("cancelled", "cancelled by caller")]
    assert_history_agrees(notification)


def test_racing_send_now_and_cancel_always_leave_a_history_that_agrees_with_the_status(app, client, auth):
    ids = [create(client, auth) for _ in range(20)]

    def race(nid: str) -> tuple[int, int]:
        start = threading.Barrier(2)

        def request(action: str) -> int:
            start.wait(10)
            return app.test_client().post(f"/v1/notifications/{nid}/{action}", headers=auth).status_code

        with ThreadPoolExecutor(2) as pool:
            send_now, cancel = pool.map(request, ["send-now", "cancel"])
        return send_now, cancel

    with ThreadPoolExecutor(4) as pool:
        answers = dict(zip(ids, pool.map(race, ids)))

    for nid, (send_now, cancel) in answers.items():
        notification = shown(client, auth, nid)
        assert cancel == 200 and notification["status"] == "cancelled"
        details = [e["detail"] for e in notification["events"]]
        # Send-now either committed before the cancel (202) or found it cancelled (409).
        expected = ["scheduled: send_at"] + ([SEND_NOW] if send_now == 202 else []) + ["cancelled by caller"]
        assert send_now in (202, 409)
        assert details == expected
        assert_history_agrees(notification)
