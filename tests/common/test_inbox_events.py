"""Inbox events: their routing keys hide caller text, and the embedded broker gets none."""

from __future__ import annotations

import re

from common import dispatch, topology
from common.celery_app import create_celery
from common.config import settings
from tests.support.settings import replace


def test_routing_keys_are_hashes_whatever_the_ids_hold():
    keys = {topology.inbox_routing_key("shop", recipient)
            for recipient in ("user.1", "user.#", "*", "user 1/#.*", "a" * 300)}

    assert len(keys) == 5
    assert all(re.fullmatch(r"inbox\.[0-9a-f]{40}", key) for key in keys)
    assert topology.inbox_routing_key("a", "b\x00c") != topology.inbox_routing_key("a\x00b", "c")


def test_the_embedded_broker_gets_no_inbox_events(monkeypatch, tmp_path):
    embedded = create_celery(replace(settings(), broker_url="filesystem://", var_dir=tmp_path))
    monkeypatch.setattr(dispatch, "celery_app", lambda: embedded)

    published = dispatch.publish_inbox_event({"kind": "count", "service": "s", "recipient": "r",
                                              "unread": 0, "unseen": 0})

    assert published is False
    assert not any(path.is_file() for path in tmp_path.rglob("*"))  # no undeliverable file
