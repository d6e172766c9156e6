"""The relay and the sweeper publishing while the broker is gone: their rows go out on the next relay run.

The relay and the sweeper are plain functions (beat only schedules them), so
they run here, in this process, with its Celery app swapped for one whose
broker path goes through a proxy that the test takes down: the real publish
code against a really unreachable broker, at a moment of the test's choosing.
An outage that begins while the relay is publishing is otherwise a matter of
luck to reproduce. The API's publish in this process goes the same way.
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import pytest

from common import dispatch, topology
from common.dispatch import broker
from common.celery_app import create_celery
from common.confirms import ConfirmedPipe
from common.config import settings
from common.db import db
from common.lifecycle import claim_for_delivery
from common.models import utcnow
from common.recovery import relay_due, sweep_expired_leases
from tests.fault.harness import Stopwatch, post_notifications, report, via_proxy
from tests.support.broker import purge, take_published
from tests.support.factories import fetch, push_body
from tests.support.settings import replace

# The production timings: a row the relay has marked as enqueued is not looked
# at again for REPUBLISH_GRACE (5 min), which is what a failed publish must not wait for.
CONFIG = replace(settings(), republish_grace=timedelta(minutes=5), relay_batch=500, max_attempts=6,
                 lost_lease_fails=frozenset())


@pytest.fixture
def cut_broker(broker_proxy, monkeypatch):
    """This process publishes through the proxy; the test decides when it is down."""
    app = create_celery(replace(settings(), broker_url=via_proxy(os.environ["BROKER_URL"], broker_proxy)))
    monkeypatch.setattr(broker, "celery_app", lambda: app)
    # Tasks published together go through the process's confirm pipe: through the proxy too,
    # not over a connection an earlier test left open.
    monkeypatch.setattr(broker, "_PIPE", ConfirmedPipe(lambda: app.connection_for_write(
        transport_options={"confirm_publish": False})))
    names = (*topology.CHANNELS, topology.MAINTENANCE_QUEUE)
    purge(*names)
    yield broker_proxy
    purge(*names)


def published_tokens(queue: str = "push") -> dict[str, str]:
    """notification id -> token of every delivery task waiting in the queue (taking them)."""
    tokens = {}
    for task in take_published(queue):
        notification_id, token = task.args
        assert notification_id not in tokens, f"{notification_id} published twice"
        tokens[notification_id] = token
    return tokens


def test_rows_the_relay_could_not_publish_go_out_on_its_next_run(client, auth, cut_broker):
    cut_broker.down()
    ids = post_notifications(client, auth, (push_body(f"device-{i}") for i in range(5)))
    assert all(fetch(nid).enqueued_at is None for nid in ids), "the API's failed publish was not undone"

    failing_run = Stopwatch()
    assert relay_due(CONFIG, utcnow()) == 0
    failing_run_took = failing_run()
    assert all(fetch(nid).enqueued_at is None for nid in ids), "rows the relay failed to publish stay marked"

    cut_broker.up()
    assert relay_due(CONFIG, utcnow()) == len(ids)
    tokens = published_tokens()
    assert tokens == {nid: str(fetch(nid).dispatch_token) for nid in ids}
    report("relay publishing into a dead broker", rows=len(ids), failing_run_s=failing_run_took)


def test_claims_the_sweeper_could_not_republish_go_out_on_the_next_relay_run(client, auth, cut_broker):
    ids = post_notifications(client, auth, (push_body(f"device-{i}") for i in range(3)))
    purge("push")  # these tasks died with their worker
    for nid in ids:
        token = fetch(nid).dispatch_token
        # Claimed by a worker that died inside the delivery: the lease has run out.
        assert claim_for_delivery(uuid.UUID(nid), token, worker="push@gone", now=utcnow(),
                                  lease=timedelta(0)) is not None
        db.session.commit()

    cut_broker.down()
    assert sweep_expired_leases(CONFIG, utcnow() + timedelta(seconds=1), worker="maintenance@test") == 3
    assert {fetch(nid).status for nid in ids} == {"retrying"}

    cut_broker.up()
    assert relay_due(CONFIG, utcnow()) == len(ids)
    assert published_tokens() == {nid: str(fetch(nid).dispatch_token) for nid in ids}
