"""A batch through the whole pipeline: one request, its tasks published together, each delivered once."""

from __future__ import annotations

from collections import Counter

from tests.support.factories import events_of, status_counts
from tests.support.waiting import wait_until

ITEMS = {
    "push": lambda i: {"channel": "push", "to": f"device-token-{i}"},
    "email": lambda i: {"channel": "email", "to": f"user{i}@example.com",
                        "content": {"subject": "Hello"}},  # the body from the defaults
    "sms": lambda i: {"channel": "sms", "to": f"+4477009{i:05d}"},
}


def test_a_mixed_batch_is_delivered_by_each_channels_pool_exactly_once(client, auth, pools, outbox):
    channels = list(ITEMS)
    body = {"defaults": {"content": {"body": "Your order shipped"}},
            "items": [ITEMS[channels[i % 3]](i) for i in range(300)]}

    response = client.post("/v1/notifications/batch", json=body, headers=auth)

    assert response.status_code == 202, response.get_data(as_text=True)
    answer = response.get_json()
    assert (answer["accepted"], answer["refused"]) == (300, 0)
    wait_until(lambda: status_counts().get("sent") == 300, timeout=60,
               message=f"not all sent: {status_counts()}")
    for channel in channels:
        ids = [item["id"] for item in answer["items"] if item["index"] % 3 == channels.index(channel)]
        counts = outbox.counts(channel)
        assert set(counts) == set(ids), f"{channel}: outbox does not match"
        assert set(counts.values()) == {1}, f"{channel}: duplicates {counts.most_common(3)}"
        workers = Counter(e.worker.split("@")[0] for nid in ids for e in events_of(nid) if e.worker)
        assert set(workers) == {channel}, f"{channel} handled by {workers}"
