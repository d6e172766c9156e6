"""Adding a channel is one module: a test-only channel, declared here, delivered end to end.

This module is the whole channel: its descriptor (`CHANNEL`) and its provider,
a sandbox-like loft that writes each delivery to a file. The API under
gunicorn and the channel's own pool load it by name at start-up
(HERALD_EXTRA_CHANNELS), as a deployment would load a channel of its own; no
other module names it, and this test process never registers it. The
registry loads this module while the topology is imported, so, like every
channel module, it imports only the registry at the top; the rest is imported
where it is used.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import requests

from common.channels.registry import EXTRA_CHANNELS_VARIABLE, Channel

NAME = "pigeon"
_LOFT = re.compile(r"loft-[0-9]{1,6}", re.ASCII)


def loft_problem(address: str) -> str | None:
    return None if _LOFT.fullmatch(address) else "not a loft (like loft-42)"


def loft_file(config) -> Path:
    return Path(config.outbox_dir) / f"{NAME}-loft.jsonl"


class LoftProvider:
    """Records each delivery as one JSON line, like the sandbox, and returns its own message id."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, request):
        from workers.providers.base import Receipt

        message_id = f"bird-{uuid.uuid4().hex[:12]}"
        line = {"id": str(request.notification_id), "to": request.recipient, "body": request.body,
                "message_id": message_id}
        with open(self.path, "a", encoding="utf-8") as loft:
            loft.write(json.dumps(line) + "\n")
        return Receipt(provider_message_id=message_id)


def loft_provider(config, channel: str) -> LoftProvider:
    return LoftProvider(loft_file(config))


CHANNEL = Channel(
    name=NAME,
    address_problem=loft_problem,
    limits={"body": 140},
    required=frozenset({"body"}),
    stored_addresses=lambda recipient: [],
    mask=lambda address: "loft-***",
    sandbox_factory=f"{__name__}:loft_provider",
)


@pytest.fixture
def pigeon_processes(app, db, tmp_path):
    """The API and a pigeon@ pool, both started with this module named as an extra channel."""
    from common.config import settings
    from tests.support.processes import start_api, start_worker, stop_all

    loft_file(settings()).unlink(missing_ok=True)
    env = {EXTRA_CHANNELS_VARIABLE: __name__}
    started = []
    try:
        started.append(start_worker(NAME, tmp_path, concurrency=1, env=env))
        api, base = start_api(tmp_path, env=env)
        started.append(api)
        yield base
    finally:
        stop_all(started)


def test_a_channel_declared_in_one_module_is_delivered_by_its_own_pool(pigeon_processes, auth):
    from common import channels
    from common.config import settings
    from tests.support.factories import events_of, fetch
    from tests.support.waiting import wait_until

    base = pigeon_processes
    assert NAME not in channels.names()  # only the started processes know it

    refused = requests.post(f"{base}/v1/notifications", headers=auth, timeout=10,
                            json={"channel": NAME, "to": "dovecote", "content": {"body": "hi"}})
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == {"to": "not a loft (like loft-42)"}

    body = f"coo {uuid.uuid4().hex[:8]}"
    accepted = requests.post(f"{base}/v1/notifications", headers=auth, timeout=10,
                             json={"channel": NAME, "to": "loft-42", "content": {"body": body}})
    assert accepted.status_code == 202, accepted.text
    nid = accepted.json()["id"]

    def shown():
        return requests.get(f"{base}/v1/notifications/{nid}", headers=auth, timeout=10).json()

    shown_sent = wait_until(lambda: (answer := shown())["status"] == "sent" and answer, timeout=30,
                            message=f"not sent: {shown()['status']}")
    assert shown_sent["channel"] == NAME and shown_sent["content"] == {"body": body}

    deliveries = [json.loads(line) for line in loft_file(settings()).read_text().splitlines()]
    assert [(d["id"], d["to"], d["body"]) for d in deliveries] == [(nid, "loft-42", body)]
    row = fetch(nid)
    assert row.status == "sent"
    assert row.provider_message_id == deliveries[0]["message_id"]
    assert {e.worker.split("@")[0] for e in events_of(nid) if e.worker} == {NAME}
