"""The whole pipeline with real processes: API -> PostgreSQL -> RabbitMQ -> pools -> outbox."""

from __future__ import annotations

from collections import Counter

from tests.support.factories import BODIES, events_of, status_counts
from tests.support.waiting import wait_until

CHANNELS = ("push", "email", "sms")


def test_each_channel_is_delivered_by_its_own_pool_exactly_once(client, auth, pools, outbox):
    created = {channel: [] for channel in CHANNELS}
    for i in range(300):
        channel = CHANNELS[i % 3]
        body = BODIES[channel]()
        response = client.post("/v1/notifications", json=body, headers=auth)
        assert response.status_code == 202, response.get_json()
        created[channel].append(response.get_json()["id"])

    wait_until(lambda: status_counts().get("sent") == 300, timeout=60,
               message=f"not all sent: {status_counts()}")

    for channel, ids in created.items():
        counts = outbox.counts(channel)
        assert set(counts) == set(ids), f"{channel}: outbox does not match"
        assert set(counts.values()) == {1}, f"{channel}: duplicates {counts.most_common(3)}"
        workers = Counter(
            e.worker.split("@")[0] for nid in ids for e in events_of(nid) if e.worker
        )
        assert set(workers) == {channel}, f"{channel} handled by {workers}"
