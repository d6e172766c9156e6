"""RabbitMQ unreachable when the API publishes: the request still succeeds, nothing is lost.

The API runs under gunicorn, a real process, because its Celery app reads
BROKER_URL once per process; it reaches RabbitMQ through a proxy that the test
takes down. So do the pools, the maintenance worker and beat: the broker
itself is unavailable, not one client's private trouble, so every process
loses its connection and must find the broker again. The API commits first
and publishes after, so a failed publish leaves a committed row with
`enqueued_at` NULL; once the broker is back the relay publishes it.

- refused: the broker is down; every connection is reset at once.
- silent: a partition; connections are accepted and never answered, and only
  the clients' own timeouts bound a request.
(The relay itself failing to publish is test_relay_publish_failure.py.)
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from common.config import settings
from tests.fault.harness import FAST_RECOVERY, Fleet, Stopwatch, report, via_proxy, wait_for_sent
from tests.support.factories import BODIES, fetch, status_counts
from tests.support.tcp_proxy import TcpProxy

CHANNELS = ("push", "email", "sms")
DURING_OUTAGE = 21  # seven per channel
MIN_OUTAGE_SECONDS = 6  # long enough for beat to try (and fail) to run the relay a few times


def post(base: str, headers: dict, body: dict) -> tuple[float, str]:
    """POST one notification to the real API; returns (seconds taken, id)."""
    started = time.monotonic()
    response = requests.post(f"{base}/v1/notifications", json=body, headers=headers, timeout=60)
    took = time.monotonic() - started
    assert response.status_code == 202, response.text
    return took, response.json()["id"]


def post_across_channels(base: str, headers: dict, count: int) -> tuple[list[float], list[str]]:
    """Several callers at once, as in production, so slow publishes also overlap."""
    bodies = [BODIES[CHANNELS[i % len(CHANNELS)]](reference=f"outage-{i}") for i in range(count)]
    with ThreadPoolExecutor(4) as callers:
        results = list(callers.map(lambda body: post(base, headers, body), bodies))
    return [took for took, _ in results], [nid for _, nid in results]


def start_everything_via(fleet: Fleet, proxy: TcpProxy) -> str:
    """The pools, the maintenance worker, beat and the API, all through `proxy`; returns the API's URL."""
    env = {**FAST_RECOVERY, "BROKER_URL": via_proxy(os.environ["BROKER_URL"], proxy)}
    fleet.workers({"push": 1, "email": 1, "sms": 1, "maintenance": 1}, env=env)
    fleet.beat(env=env)
    return fleet.api(env=env)


@pytest.mark.parametrize("silent", [False, True], ids=["refused", "silent"])
def test_posts_during_a_broker_outage_are_accepted_and_delivered_after(
    api_key, outbox, broker_proxy, fleet, silent
):
    base = start_everything_via(fleet, broker_proxy)
    headers = {"Authorization": f"Bearer {api_key}"}
    # Before the outage: the API publishes itself, and holds a live connection to lose.
    _, before = post(base, headers, BODIES["push"]())
    wait_for_sent(1, timeout=30)

    broker_proxy.down(silent=silent)
    outage_clock = Stopwatch()
    latencies, ids = post_across_channels(base, headers, DURING_OUTAGE)
    # Nothing reached the broker: each row is committed and left for the relay.
    for nid in ids:
        row = fetch(nid)
        assert (row.status, row.enqueued_at) == ("scheduled", None), f"{nid}: {row.status}, {row.enqueued_at}"
    time.sleep(max(0.0, MIN_OUTAGE_SECONDS - outage_clock()))
    assert status_counts() == {"sent": 1, "scheduled": DURING_OUTAGE}
    outage_lasted = outage_clock()

    broker_proxy.up()
    recovery = Stopwatch()
    # Beat, the maintenance worker and the pools reconnect; the relay's next run publishes.
    wait_for_sent(1 + DURING_OUTAGE, timeout=60)
    recovered_in = recovery()

    # The API publishes for itself again (its own publish sets enqueued_at = created_at).
    _, after = post(base, headers, BODIES["sms"]())
    after_row = fetch(after)
    assert after_row.enqueued_at == after_row.created_at, "the API did not reconnect to the broker"
    wait_for_sent(2 + DURING_OUTAGE, timeout=30)
    assert status_counts() == {"sent": 2 + DURING_OUTAGE}

    delivered = sum((outbox.counts(channel) for channel in CHANNELS), Counter())
    assert set(delivered) == {before, *ids, after}
    assert set(delivered.values()) == {1}, f"delivered twice: {delivered.most_common(3)}"
    report(f"broker outage ({'silent' if silent else 'refused'})",
           post_latency_max_s=max(latencies), post_latency_median_s=statistics.median(latencies),
           outage_s=outage_lasted, up_to_all_delivered_s=recovered_in,
           proxy_refused_connections=broker_proxy.refused)
    # Two connection attempts (the publish retry policy), each bounded by PUBLISH_TIMEOUT_SECONDS.
    assert max(latencies) < 3 * settings().publish_timeout, "a POST waited too long for the broker"
