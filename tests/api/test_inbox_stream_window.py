"""The stream's subscribe-then-replay window, forced: items delivered between the broker binding
and the database replay reach the client once each, in order (real RabbitMQ and PostgreSQL)."""

from __future__ import annotations

import re
import socket
import time
import uuid

import pytest
from sqlalchemy import update

from api.inbox.stream import inbox_events
from common import dispatch
from common.config import settings
from common.inbox import store
from common.inbox.events import new_item_event
from common.inbox.hub import Hub
from common.inbox.models import InboxItem
from common.inbox.store import Inbox
from common.models import Notification, utcnow
from api.keys.service import create_api_key
from tests.support.settings import replace


def add_notification(db, inbox: Inbox, key_id, n: int) -> uuid.UUID:
    now = utcnow()
    row = Notification(service=inbox.service, api_key_id=key_id, channel="inapp",
                       recipient=inbox.recipient, title=f"item {n}", body=f"item number {n}",
                       deliver_at=now, schedule_reason="immediate", status="sending",
                       created_at=now, updated_at=now)
    db.session.add(row)
    db.session.commit()
    return row.id


def deliver(db, inbox: Inbox, key_id, count: int, start: int) -> list[uuid.UUID]:
    """What the inapp provider does: commit the row, then publish its event."""
    ids = []
    for n in range(start, start + count):
        nid = add_notification(db, inbox, key_id, n)
        dispatch.publish_inbox_event(new_item_event(store.deliver(nid, utcnow())))
        ids.append(nid)
    return ids


def notifications(text: str) -> list[tuple[int, str]]:
    """(id, item id) of each notification event in the stream's text."""
    return [(int(seq), item) for seq, item in re.findall(
        r'id: (\d+)\nevent: notification\ndata: \{"id":"([0-9a-f-]+)"', text)]


class RecordingHub(Hub):
    """A hub that also notes every event its subscriptions hear."""

    heard: list[dict]

    def subscribe(self, inbox, timeout=None):
        subscription = super().subscribe(inbox, timeout)
        put = subscription.events.put
        self.heard = []

        def noted(event, *args, **kwargs):
            self.heard.append(event)
            put(event, *args, **kwargs)

        subscription.events.put = noted
        return subscription


@pytest.fixture
def hub(broker):
    running = RecordingHub(broker)
    yield running
    running.stop()


def test_items_arriving_between_subscribe_and_replay_come_once_each_in_order(db, hub):
    key, _secret = create_api_key("window-service")
    inbox = Inbox("window-service", f"user-{uuid.uuid4().hex[:8]}")
    config = replace(settings(), inbox_stream_keepalive=0.5)
    before = deliver(db, inbox, key.id, 3, 0)  # the client has seen seq 1 only
    window: list[uuid.UUID] = []

    def in_the_window():
        # Subscribed, not yet replayed: these are both announced live and found by the replay.
        window.extend(deliver(db, inbox, key.id, 5, 3))
        time.sleep(0.3)  # their events reach this process's queue before the replay starts

    events = inbox_events(inbox, since=1, expires_at=time.time() + 4, hub=hub, config=config,
                          after_subscribe=in_the_window)
    text = "".join(events)  # until the expiry closes it

    sent = notifications(text)
    assert [seq for seq, _ in sent] == list(range(2, 9))  # each once, in order, no gap
    assert [uuid.UUID(item) for _, item in sent] == before[1:] + window
    assert text.count(": subscribed") == 1 and ": keepalive" in text
    # The window's items were announced live too, after the replay had sent them: dropped.
    assert [event["seq"] for event in hub.heard if event.get("seq")] == list(range(4, 9))
    print(f"\nsubscribe-then-replay window: 2 missed before, {len(window)} delivered in the window; "
          f"streamed seqs {[seq for seq, _ in sent]}")


def test_an_item_delivered_while_streaming_arrives_live(db, hub):
    key, _secret = create_api_key("window-service")
    inbox = Inbox("window-service", f"user-{uuid.uuid4().hex[:8]}")
    config = replace(settings(), inbox_stream_keepalive=0.5)
    events = inbox_events(inbox, since=0, expires_at=time.time() + 6, hub=hub, config=config)

    assert next(events).endswith(": subscribed\n\n")
    [nid] = deliver(db, inbox, key.id, 1, 0)
    started = time.monotonic()
    arrived = next(text for text in events if "event: notification" in text)
    took = time.monotonic() - started

    assert notifications(arrived) == [(1, str(nid))]
    events.close()
    assert hub.connected() == 0  # a closed stream leaves no subscription behind
    print(f"\nlive item on an open stream: {took * 1000:.0f} ms from commit to the stream's text")


def test_on_the_embedded_broker_the_stream_polls_the_database(db):
    key, _secret = create_api_key("window-service")
    key_id = key.id  # read now: the stream closes the session
    inbox = Inbox("window-service", f"user-{uuid.uuid4().hex[:8]}")
    config = replace(settings(), inbox_stream_poll=0.2, inbox_stream_keepalive=0.5)
    events = inbox_events(inbox, since=0, expires_at=time.time() + 5, hub=None, config=config)
    assert next(events).endswith(": subscribed\n\n")
    next(text for text in events if text == ": keepalive\n\n")  # replayed, now polling

    [nid] = deliver(db, inbox, key_id, 1, 0)
    started = time.monotonic()
    arrived = next(text for text in events if "event: notification" in text)
    took = time.monotonic() - started
    next(text for text in events if text == ": keepalive\n\n")  # polling on, nothing new
    db.session.execute(update(InboxItem).where(InboxItem.id == nid).values(read_at=utcnow()))
    db.session.commit()
    counted = next(text for text in events if "event: count" in text)
    events.close()

    assert notifications(arrived) == [(1, str(nid))]
    assert '"unread":0' in counted
    print(f"\nembedded (polling every 0.2 s): item reached the stream {took * 1000:.0f} ms after "
          f"its commit")


def test_after_losing_the_broker_connection_the_hub_rebinds_and_tells_every_stream(db, hub):
    key, _secret = create_api_key("window-service")
    key_id = key.id
    inbox = Inbox("window-service", f"user-{uuid.uuid4().hex[:8]}")
    subscription = hub.subscribe(inbox)

    hub.consuming.connection.sock.shutdown(socket.SHUT_RDWR)  # the broker connection drops
    resync = subscription.next_event(timeout=30)
    deliver(db, inbox, key_id, 1, 0)
    announced = subscription.next_event(timeout=30)

    assert resync == {"kind": "resync"}  # events may have been lost: read the database
    assert (announced["kind"], announced["seq"]) == ("notification", 1)  # bound again
    assert hub.connected() == 1
