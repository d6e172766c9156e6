"""Polling for an outcome that real processes produce asynchronously."""

from __future__ import annotations

import time


def wait_until(condition, timeout: float = 30, interval: float = 0.1, message: str = ""):
    """Return the first truthy value of `condition()`, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or f"condition not met within {timeout}s")
        time.sleep(interval)
