"""Task events (Flower's feed) published only by the worker's event-loop thread, never by a pool thread.

Celery's event dispatcher shares one broker connection with the worker's event
loop, which reads broker heartbeats on it. Under the threads pool a pool
thread that fills the task-event buffer flushes it itself; with publisher
confirms that flush reads the connection to wait for the confirm while the
loop reads it too, the AMQP stream is mis-parsed and the consumer stalls.
Here a pool thread only buffers and asks the loop to flush: one thread owns
the connection.
"""

from __future__ import annotations

import threading

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher


class LoopOwnedDispatcher(EventDispatcher):
    """An EventDispatcher whose publishing, when an event loop drives it, stays on the loop's thread."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._owner = threading.get_ident()  # the worker builds it on the event loop's thread

    def _off_the_loop(self) -> bool:
        # Without an event loop (the embedded filesystem transport) there is no
        # reader to race with: the mutex alone serialises publishers.
        return self.on_send_buffered is not None and threading.get_ident() != self._owner

    def flush(self, errors=True, groups=True):
        if self._off_the_loop():
            self.on_send_buffered()  # hub.call_soon: thread-safe, wakes the loop
            return
        super().flush(errors=errors, groups=groups)

    def _publish(self, event, producer, routing_key, **kwargs):
        if producer is self.producer and self._off_the_loop():
            # An unbuffered event from a pool thread: queued for the loop's next flush.
            self._outbound_buffer.append((event, routing_key))
            self.on_send_buffered()
            return None
        return super()._publish(event, producer, routing_key, **kwargs)


class WorkerEvents(Events):
    dispatcher_cls = "workers.events:LoopOwnedDispatcher"
