"""Publisher confirms for many messages at once: publish them all, then wait once for every confirm.

Celery's `confirm_publish` waits for the broker's confirm after each message,
a round trip apiece (~2,400 a second per publisher here). `ConfirmedPipe`
keeps one channel per process in confirm mode without that wait: the
messages (built by common.dispatch as Celery builds them, without the
task-sent event) go out back to back, and the broker's acks, which may cover
many messages at once, are collected afterwards. Only `common.dispatch` uses it;
what it reports unconfirmed, dispatch hands back to the relay.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence

from kombu import Connection


class ConfirmedPipe:
    """One confirm-mode channel of this process, and the broker's answer to each publish on it."""

    def __init__(self, connect: Callable[[], Connection]):
        self._connect = connect
        self._lock = threading.Lock()  # one batch at a time on the channel
        self._pid = None
        self._connection = self._channel = self._producer = None

    def _open(self, make_producer) -> None:
        if self._producer is not None and self._pid == os.getpid():
            return
        self._connection = self._connect()
        # One attempt per broker node of BROKER_URL, without pausing between them
        # (kombu's default waits 2 s): what fails here is left to the relay, and a
        # request is waiting; a node that is down hands over to the next at once.
        self._connection.ensure_connection(max_retries=max(len(self._connection.alt) - 1, 0))
        channel = self._connection.channel()
        channel.confirm_select()
        self.published = 0  # the broker numbers a channel's publishes from 1 once confirms are on
        self.acked_upto, self.acked, self.nacked = 0, set(), set()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        plain_publish = channel.basic_publish

        def counted_publish(*args, **kwargs):
            self.published += 1
            return plain_publish(*args, **kwargs)

        channel.basic_publish = counted_publish
        self._channel, self._producer, self._pid = channel, make_producer(channel), os.getpid()

    def _on_ack(self, tag: int, multiple: bool) -> None:
        if multiple:
            self.acked_upto = max(self.acked_upto, tag)
        else:
            self.acked.add(tag)

    def _on_nack(self, tag: int, multiple: bool) -> None:
        self.nacked.add((tag, multiple))  # with `multiple`, every tag up to this one

    def _confirmed(self, tag: int) -> bool | None:
        """True acked, False nacked, None not answered yet (the broker answers each tag once)."""
        if tag <= self.acked_upto or tag in self.acked:
            return True
        if any(t == tag or (multiple and t >= tag) for t, multiple in self.nacked):
            return False
        return None

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # already broken: nothing to release
                pass
        self._connection = self._channel = self._producer = None

    def publish_all(self, items: Sequence, send: Callable[[object, object], None],
                    make_producer, timeout: float) -> list[bool]:
        """Call `send(item, producer)` for each item, then wait for the confirms.

        Returns, per item, whether the broker confirmed its first publish
        (`send` may publish more, such as Celery's task-sent event). Raises
        `PartlyPublished`, saying which were confirmed, if the pipe failed.
        """
        with self._lock:
            reused = self._producer is not None and self._pid == os.getpid()
            try:
                return self._publish_all(items, send, make_producer, timeout)
            except PartlyPublished as failure:
                # A broker that does not answer (a partition) would not answer a new
                # connection either: one wait for it is enough.
                if not reused or isinstance(failure.cause, TimeoutError):
                    raise
                first = failure.outcome
            # The connection kept from an earlier batch had died (a broker restart,
            # or its cluster node lost): what was not confirmed once more, on a new
            # connection (kombu fails over to the next node of BROKER_URL). A
            # message that did get through is only a duplicate task, which the
            # worker's claim by token turns away.
            again = [item for item, confirmed in zip(items, first) if not confirmed]
            try:
                retried = iter(self._publish_all(again, send, make_producer, timeout))
            except PartlyPublished as failure:
                retried = iter(failure.outcome)
                outcome = [confirmed or next(retried) for confirmed in first]
                raise PartlyPublished(outcome, len(items), failure) from None
            return [confirmed or next(retried) for confirmed in first]

    def _publish_all(self, items, send, make_producer, timeout: float) -> list[bool]:
        tags: list[int] = []
        try:
            self._open(make_producer)
            for item in items:
                tags.append(self.published + 1)
                send(item, self._producer)
            last, waiting_for = self.published, tags[0]
            deadline = time.monotonic() + timeout
            while waiting_for <= last:
                if self._confirmed(waiting_for) is not None:
                    waiting_for += 1
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the broker did not confirm in time")
                self._connection.drain_events(timeout=remaining)
        except Exception as error:  # socket.timeout included
            outcome = [bool(self._channel is not None and self._confirmed(tag)) for tag in tags]
            self.close()  # its numbering can no longer be trusted
            raise PartlyPublished(outcome + [False] * (len(items) - len(tags)), len(tags),
                                  error) from None
        outcome = [self._confirmed(tag) is True for tag in tags]
        self.acked = {tag for tag in self.acked if tag > last}
        if self.nacked:
            # A channel that saw a quorum queue lose its leader can go on refusing
            # after the new leader is elected: the next batch gets a fresh one.
            self.close()
        self.nacked.clear()
        return outcome


class PartlyPublished(Exception):
    """The pipe failed midway; `outcome` says which items the broker had confirmed."""

    def __init__(self, outcome: list[bool], sent: int, cause: BaseException):
        super().__init__(f"{outcome.count(False)} of {len(outcome)} not confirmed: {cause!r}")
        self.outcome = outcome
        self.sent = sent  # items handed to `send` before the failure
        self.cause = cause
