"""How long rendering may take: each field on its own, and all of one request's fields together.

A template that loops without printing is stopped by SIGALRM, in the main
thread only (the API's sync workers serve requests there); elsewhere there is
no limit. A request that renders many messages (a batch) sets a budget for
them all with `render_budget`, so a thousand slow items cannot hold a worker
for a thousand times the limit: once it is spent, each render stops at once.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager

_deadline = threading.local()


class RenderTimeout(Exception):
    pass


@contextmanager
def render_budget(seconds: float):
    """Every render inside shares `seconds` (nested budgets keep the sooner end)."""
    outer = getattr(_deadline, "at", None)
    end = time.monotonic() + seconds
    _deadline.at = min(end, outer) if outer is not None else end
    try:
        yield
    finally:
        _deadline.at = outer


def _allowed(seconds: float) -> float:
    at = getattr(_deadline, "at", None)
    return seconds if at is None else min(seconds, at - time.monotonic())


@contextmanager
def time_limit(seconds: float):
    """Raise RenderTimeout in the block after `seconds`, or sooner when the request's budget ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    allowed = _allowed(seconds)
    if allowed <= 0:
        raise RenderTimeout("the request's time for rendering templates is spent")

    def expired(_signum, _frame):
        raise RenderTimeout(f"the template took more than {allowed:.2f} s to render")

    outer, _interval = signal.getitimer(signal.ITIMER_REAL)
    if 0 < outer <= allowed:  # someone else's alarm comes first; leave it alone
        yield
        return
    previous = signal.signal(signal.SIGALRM, expired)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, allowed)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer:  # an outer alarm (a test timeout, say) keeps its time
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))
