"""Task events under the threads pool: a pool thread never publishes on the event connection."""

from __future__ import annotations

import threading

from celery import Celery
from kombu import Connection

from workers.events import LoopOwnedDispatcher

# A bare app on kombu's in-memory transport: the dispatcher's threading is the point, not a broker.
CELERY = Celery("events-test", broker="memory://", set_as_current=False)


class RecordingDispatcher(LoopOwnedDispatcher):
    """Notes which thread each publish ran on, instead of reaching a broker."""

    def __init__(self, *args, **kwargs):
        self.published_on: list[tuple[int, str]] = []
        super().__init__(*args, **kwargs)

    def _publish(self, event, producer, routing_key, **kwargs):
        if producer is self.producer and self._off_the_loop():
            return super()._publish(event, producer, routing_key, **kwargs)
        self.published_on.append((threading.get_ident(), routing_key))
        return None


def dispatcher(on_send_buffered) -> RecordingDispatcher:
    return RecordingDispatcher(Connection("memory://"), hostname="push@test", enabled=True,
                               buffer_group=["task"], buffer_limit=2,
                               on_send_buffered=on_send_buffered, app=CELERY)


def run_in_a_pool_thread(work) -> None:
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_a_full_buffer_in_a_pool_thread_is_flushed_by_the_loop_not_by_the_thread():
    wakeups = []
    events = dispatcher(lambda: wakeups.append(threading.get_ident()))

    def pool_thread():
        for _ in range(5):  # past buffer_limit: Celery's own dispatcher would flush here
            events.send("task-succeeded", uuid="t")
        events.send("worker-custom", reason="unbuffered")  # a group that is not buffered

    run_in_a_pool_thread(pool_thread)
    assert events.published_on == [], "a pool thread published on the loop's connection"
    assert wakeups, "the loop was not asked to flush"

    events.flush()  # what the loop runs when it wakes
    loop = threading.get_ident()
    assert events.published_on == [(loop, "worker.custom"), (loop, "task.multi")]


def test_without_an_event_loop_a_thread_publishes_itself():
    # The embedded filesystem transport has no loop and no connection to share.
    events = dispatcher(None)
    published_by = []
    run_in_a_pool_thread(lambda: (events.send("worker-custom"),
                                  published_by.append(threading.get_ident())))
    assert events.published_on == [(published_by[0], "worker.custom")]
