"""The inbox stream end to end: real inapp pools, two real stream replicas, RabbitMQ, PostgreSQL.

Items are posted through the API (in this process), delivered by `inapp@`
pool processes, announced on the broker and streamed by `realtime` processes
(gunicorn, gevent workers) to clients reading the wire format.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from common.config import settings
from common.inbox import tokens
from common.inbox.store import Inbox
from common.models import utcnow

from tests.e2e.inbox_helpers import (delivered, delivering_workers, inbox_token, new_recipient,
                                     post_items, sent)
from tests.support.broker import purge
from tests.support.processes import start_worker, stop_all
from tests.support.realtime import start_realtime
from tests.support.settings import replace
from tests.support.sse import EventStream
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(300)
# Short, so that "nothing more to send" is seen within a second (a keepalive follows it).
STREAM_ENV = {"INBOX_STREAM_KEEPALIVE_SECONDS": "1"}


def short_token(recipient: str, seconds: int) -> str:
    config = replace(settings(), inbox_token_ttl=timedelta(seconds=seconds))
    token, _expires = tokens.issue(Inbox("test-service", recipient), config, utcnow())
    return token


@pytest.fixture(scope="module")
def inapp_pools(app, log_dir):
    """Two inapp@ pool processes, as two replicas of the pool would be."""
    purge("inapp")
    pools = []
    try:
        for name in ("inapp-1", "inapp-2"):
            pools.append(start_worker("inapp", log_dir, concurrency=2, name=name))
        yield pools
    finally:
        stop_all(pools)


@pytest.fixture(scope="module")
def replicas(app, log_dir):
    """Two stream replicas; each test may kill neither (the kill test starts its own)."""
    started = [start_realtime(log_dir, name, STREAM_ENV) for name in ("realtime-1", "realtime-2")]
    yield [base for _process, base in started]
    stop_all(process for process, _base in started)


def test_items_posted_while_disconnected_arrive_on_reconnect_exactly_once_in_order(
        client, auth, db, inapp_pools, replicas):
    recipient = new_recipient()
    token = inbox_token(client, auth, recipient)
    first = EventStream(replicas[0], token)
    first.wait_subscribed()
    [first_id] = post_items(client, auth, recipient, 1, "first")
    [seen] = first.notifications(1)
    assert seen.data["id"] == first_id
    first.close()

    missed = post_items(client, auth, recipient, 100, "missed")
    wait_until(lambda: sent(missed) == 100, timeout=120, message="the pools did not send all 100")

    again = EventStream(replicas[0], token, last_event_id=seen.id)
    caught_up = again.notifications(100)
    left_over = again.until_keepalive()
    again.close()

    seqs = [event.id for event in caught_up]
    assert seqs == list(range(seen.id + 1, seen.id + 101))  # in order, none twice, none skipped
    assert sorted(event.data["id"] for event in caught_up) == sorted(missed)
    assert [event.data["seq"] for event in caught_up] == seqs
    assert [e for e in left_over if e.event == "notification"] == []
    # Each carries the unread count as it was when it was read: the last one, all 101.
    assert caught_up[-1].data["unread_count"] == 101
    print(f"\nreconnect with Last-Event-ID {seen.id}: {len(caught_up)} items replayed, "
          f"seqs {seqs[0]}..{seqs[-1]}, {len(set(seqs))} distinct, nothing after them")


def test_two_tabs_on_different_replicas_each_get_every_item_from_either_pool(
        client, auth, db, inapp_pools, replicas):
    recipient, stranger = new_recipient(), new_recipient()
    tabs = [EventStream(base, inbox_token(client, auth, recipient)) for base in replicas]
    # The stranger's token lasts 20 s: the stream closes then, and all it ever sent can be read.
    other = EventStream(replicas[1], short_token(stranger, seconds=20))
    for stream in (*tabs, other):
        stream.wait_subscribed()

    posted = post_items(client, auth, recipient, 40)
    received = [tab.notifications(40) for tab in tabs]

    for events in received:
        assert sorted(event.data["id"] for event in events) == sorted(posted)
        assert [event.id for event in events] == list(range(1, 41))
    workers = delivering_workers(posted)
    assert len(workers) == 2, workers  # both pool processes delivered some of them
    # The stranger's stream, open all along until its token expired, got none of them.
    assert [e for e in other.everything() if e.event == "notification"] == []
    for stream in (*tabs, other):
        stream.close()
    print(f"\ntwo tabs on two replicas: each got {[len(r) for r in received]} of 40 items, "
          f"delivered by {len(workers)} pool processes; another recipient's stream got none and closed when its token expired")


def test_a_client_whose_replica_dies_catches_up_on_the_other(
        client, auth, db, inapp_pools, replicas, log_dir):
    doomed, doomed_base = start_realtime(log_dir, "realtime-doomed", STREAM_ENV)
    recipient = new_recipient()
    token = inbox_token(client, auth, recipient)
    stream = EventStream(doomed_base, token)
    stream.wait_subscribed()
    before = post_items(client, auth, recipient, 5, "before")
    got = stream.notifications(5)

    doomed.kill_group()
    doomed.stop()
    during = post_items(client, auth, recipient, 20, "during")
    time.sleep(0.5)  # some are delivered while no stream is open for this recipient anywhere

    resumed = EventStream(replicas[1], token, last_event_id=got[-1].id)
    rest = resumed.notifications(20)
    assert [e for e in resumed.until_keepalive() if e.event == "notification"] == []
    resumed.close()

    assert sorted(e.data["id"] for e in got) == sorted(before)
    assert sorted(e.data["id"] for e in rest) == sorted(during)
    assert [e.id for e in got + rest] == list(range(1, 26))
    assert delivered(recipient) == 25
    print(f"\nreplica killed after {len(got)} items; on the other replica, from Last-Event-ID "
          f"{got[-1].id}: {len(rest)} items, seqs {rest[0].id}..{rest[-1].id}, none lost or twice")


def test_marking_read_in_one_tab_updates_the_count_in_the_others(
        client, auth, db, inapp_pools, replicas):
    recipient = new_recipient()
    token = inbox_token(client, auth, recipient)
    tabs = [EventStream(base, token) for base in replicas]
    for tab in tabs:
        tab.wait_subscribed()
    posted = post_items(client, auth, recipient, 3)
    for tab in tabs:
        tab.notifications(3)

    headers = {"Authorization": f"Bearer {token}"}
    assert client.post(f"/v1/inbox/{posted[0]}/read", headers=headers).get_json()["unread"] == 2
    assert client.post("/v1/inbox/read-all", headers=headers).get_json()["unread"] == 0

    for tab in tabs:
        assert tab.counts(2) == [{"unread": 2, "unseen": 2}, {"unread": 0, "unseen": 0}]
        tab.close()
