"""A stream process's subscriptions to inbox events through the broker.

Each process declares one queue of its own (deleted when the process goes)
and binds it to the `inbox` exchange under the key of each recipient that has
a stream open here, and only those. One consumer thread reads the queue and
hands each event to the streams of its recipient. `subscribe` returns once the
broker has confirmed the binding: from then on no event of that inbox is
missed, which is what lets a stream replay from the database afterwards
without a gap. After a lost broker connection every stream is told to look at
the database again (`RESYNC`), since events may have been lost meanwhile.
Written with threads and `queue`; under gevent (the stream's server) they are
greenlets.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid

from kombu import Connection, Consumer, Queue

from common import topology
from common.inbox.store import Inbox

log = logging.getLogger(__name__)

RESYNC = {"kind": "resync"}  # events may have been lost: read the database
RECONNECT_PAUSE = 1.0


class Subscription:
    """One open stream's events, in the order they came."""

    def __init__(self, inbox: Inbox):
        self.inbox = inbox
        self.key = topology.inbox_routing_key(inbox.service, inbox.recipient)
        self.events: queue.Queue = queue.Queue()

    def next_event(self, timeout: float) -> dict | None:
        try:
            return self.events.get(timeout=max(timeout, 0))
        except queue.Empty:
            return None


class Hub:
    """The process's queue, its bindings (one per connected inbox) and the thread that consumes it."""

    def __init__(self, broker_url: str, connect_timeout: float = 5.0):
        self.broker_url = broker_url
        self.connect_timeout = connect_timeout
        self.queue_name = f"inbox-stream.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        self._subscribers: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()  # bindings change one at a time, with the map
        self._control: Connection | None = None
        self.consuming: Connection | None = None  # the consumer's connection (a test cuts it)
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._consume_forever, name="inbox-hub", daemon=True)
        self._thread.start()

    def _queue(self) -> Queue:
        # Deleted with its consumer (the process); a minute's expiry if it is left over anyway.
        return Queue(self.queue_name, durable=False, auto_delete=True,
                     queue_arguments={"x-expires": 60_000})

    def _connection(self) -> Connection:
        return Connection(self.broker_url, connect_timeout=self.connect_timeout,
                          transport_options={"confirm_publish": False})

    def subscribe(self, inbox: Inbox, timeout: float | None = None) -> Subscription:
        """A subscription whose binding the broker has confirmed (the consumer is running)."""
        if not self._ready.wait(timeout or 2 * self.connect_timeout):
            raise ConnectionError("the inbox event queue is not consuming yet")
        subscription = Subscription(inbox)
        with self._lock:
            subscribers = self._subscribers.setdefault(subscription.key, set())
            if not subscribers:
                try:
                    self._bind(subscription.key)
                except Exception:
                    del self._subscribers[subscription.key]
                    raise
            subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            subscribers = self._subscribers.get(subscription.key, set())
            subscribers.discard(subscription)
            if subscribers:
                return
            self._subscribers.pop(subscription.key, None)
            try:
                self._channel_call("queue_unbind", subscription.key)
            except Exception as exc:  # a stale binding costs one unwanted event each, no more
                log.warning("unbinding an inbox from the event queue failed: %s", exc)

    def connected(self) -> int:
        with self._lock:
            return sum(len(subscribers) for subscribers in self._subscribers.values())

    def _bind(self, key: str) -> None:
        self._channel_call("queue_bind", key)

    def _channel_call(self, method: str, key: str) -> None:
        """queue_bind or queue_unbind on the control connection, once more after reconnecting."""
        for attempt in (1, 2):
            try:
                if self._control is None:
                    self._control = self._connection()
                    topology.inbox_exchange()(self._control.default_channel).declare()
                getattr(self._control.default_channel, method)(
                    queue=self.queue_name, exchange=topology.INBOX_EXCHANGE_NAME, routing_key=key)
                return
            except Exception:
                self._drop_control()
                if attempt == 2:
                    raise

    def _drop_control(self) -> None:
        if self._control is not None:
            try:
                self._control.release()
            except Exception:  # already broken
                pass
            self._control = None

    def _consume_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._connection() as connection:
                    self._consume(connection)
            except Exception as exc:  # the broker went away: start again (then every stream is told)
                self._ready.clear()
                log.warning("inbox event queue lost, reconnecting: %s", exc)
                time.sleep(RECONNECT_PAUSE)

    def _consume(self, connection: Connection) -> None:
        self.consuming = connection
        channel = connection.channel()
        topology.inbox_exchange()(channel).declare()
        declared = self._queue()(channel)
        declared.declare()
        with Consumer(channel, queues=[declared], callbacks=[self._deliver], no_ack=True,
                      accept=["json"]):
            with self._lock:  # a queue declared again has lost its bindings
                for key in self._subscribers:
                    self._bind(key)
            self._ready.set()
            # Bound again: what was missed meanwhile is in the database, so every stream reads it.
            self._resync_everyone()
            while not self._stopping.is_set():
                try:
                    connection.drain_events(timeout=1.0)
                except socket.timeout:
                    connection.heartbeat_check()

    def _deliver(self, event: dict, message) -> None:
        key = message.delivery_info.get("routing_key")
        with self._lock:
            subscribers = list(self._subscribers.get(key, ()))
        for subscription in subscribers:
            # The key is a hash: the event names its inbox, so a collision is never delivered.
            if (event.get("service"), event.get("recipient")) == (
                    subscription.inbox.service, subscription.inbox.recipient):
                subscription.events.put(event)

    def _resync_everyone(self) -> None:
        with self._lock:
            subscribers = [s for group in self._subscribers.values() for s in group]
        for subscription in subscribers:
            subscription.events.put(RESYNC)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        with self._lock:
            self._drop_control()
