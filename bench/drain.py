"""Measuring how fast a freshly started worker pool consumes a queue of pre-published tasks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from kombu import Connection

POLL_INTERVAL = 0.01


@dataclass
class DrainResult:
    queued: int     # ready messages before the pool started
    tasks: int      # messages consumed inside the timed window
    seconds: float

    @property
    def per_second(self) -> float:
        return self.tasks / self.seconds if self.seconds else 0.0


def queue_depth(connection: Connection, queue: str) -> int:
    """Ready (not yet delivered) messages in `queue`; a passive declare changes nothing."""
    _name, ready, _consumers = connection.default_channel.queue_declare(queue=queue, passive=True)
    return ready


def measure_drain(broker_url: str, queue: str, start_pool: Callable[[], object], *,
                  max_tasks: int, max_seconds: float,
                  timeout: float = 120) -> tuple[DrainResult, object] | None:
    """Start the pool and time it from the first consumed message until `max_tasks` more are gone.

    The window opens at the first sample below the starting depth, so the
    pool's start-up is not counted, and closes after `max_tasks` messages,
    `max_seconds`, or an empty queue, whichever comes first. The last
    `concurrency` tasks may still be running then: noise against thousands.
    Returns the result and whatever `start_pool` returned, for the caller to
    stop, or None without starting a pool when the queue is empty.
    """
    with Connection(broker_url) as connection:
        queued = queue_depth(connection, queue)
        if queued == 0:
            return None
        pool = start_pool()
        deadline = time.monotonic() + timeout
        opened_at = opened_depth = None
        while True:
            depth = queue_depth(connection, queue)
            now = time.perf_counter()
            if opened_at is None and depth < queued:
                opened_at, opened_depth = now, depth
            if opened_at is not None and (depth == 0 or opened_depth - depth >= max_tasks
                                          or now - opened_at >= max_seconds):
                return DrainResult(queued, opened_depth - depth, now - opened_at), pool
            if getattr(pool, "process", None) is not None and pool.process.poll() is not None:
                raise RuntimeError(f"the pool exited with {pool.process.returncode} while draining")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the pool consumed nothing from {queue!r} in {timeout}s")
            time.sleep(POLL_INTERVAL)
