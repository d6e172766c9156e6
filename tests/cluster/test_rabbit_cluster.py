"""Herald on a three-node RabbitMQ cluster with quorum queues: node losses lose nothing.

Workers, beat and the relay get a BROKER_URL naming all three nodes and fail
over between them (kombu). The push queue is a quorum queue replicated on
every node, so killing the node that holds its leader moves the leader, not
the messages; the messages a dying connection held unacked go back to the
queue, and a redelivered task whose row is already claimed is turned away
by its token. Figures are printed (run with -s).
"""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from common.dispatch import broker
from common.db import db
from common.models import Notification, NotificationEvent, utcnow
from tests.cluster.deliveries import (insert_due_pushes, longest_pause, owner, relay_everything,
                                      sent_times)
from tests.fault.harness import Stopwatch, report, wait_for_sent
from tests.support.factories import status_counts
from tests.support.waiting import wait_until

TOTAL = 1000
CONCURRENCY = 16
POOL = {"WORKER_CONCURRENCY": str(CONCURRENCY)}


def _wait_for_leader(rabbit, not_on=None):
    """The push queue's leader once the queue has one on a live node (a new election takes seconds)."""
    def elected():
        try:
            leader = rabbit.queue_leader("herald", "push")
        except LookupError:
            return None
        return leader if leader is not not_on and leader in rabbit.alive() else None

    return wait_until(elected, timeout=60, interval=0.5, message="the push queue has no leader")


def _restart_if_down(rabbit):
    for node in rabbit.nodes:
        if node not in rabbit.alive():
            rabbit.start_node(node)


def test_a_publish_that_loses_its_node_fails_over_and_is_confirmed(rabbit, cluster_app, cluster_db):
    config = cluster_app.config["HERALD_SETTINGS"]
    key = owner()
    insert_due_pushes(key, 100, prefix="before")
    assert relay_everything(config) == 100
    # The relay's confirm channel is connected to one node: kill that one.
    port = broker._PIPE._connection.transport.client.port
    victim = next(n for n in rabbit.nodes if n.amqp_port == port)
    rabbit.kill_node(victim)
    try:
        insert_due_pushes(key, 100, prefix="after")
        # As beat runs the relay: what the cluster refused (nacked while the
        # queue's leader was being re-elected) goes out with a later run.
        clock, runs, published = Stopwatch(), 0, 0
        while published < 100 and clock() < 60:
            runs += 1
            published += relay_everything(config)
            time.sleep(0.5)
        published_in = clock()
        ready, unacked = wait_until(
            lambda: (counts := rabbit.queue_messages("herald", "push"))[0] >= 200 and counts,
            timeout=30, interval=1, message="the push queue does not hold every published task")
    finally:
        rabbit.start_node(victim)
    report("publish after the connected node died", published_after_kill=published,
           relay_runs=runs, published_in_s=published_in, queue_ready=ready)
    # Every row was published once and confirmed by the surviving nodes: none
    # was left unpublished, none was published twice.
    assert published == 100
    assert (ready, unacked) == (200, 0)
    _drain_push(cluster_app)


def _delayed_messages(rabbit) -> int:
    """Messages waiting in Celery's delay queues (native delayed delivery)."""
    output = rabbit.ctl(rabbit.alive()[0], "list_queues", "-p", "herald", "--no-table-headers",
                        "name", "messages").stdout
    return sum(int(fields[1]) for fields in (line.split() for line in output.splitlines())
               if len(fields) == 2 and fields[0].startswith("celery_delayed_"))


def test_etas_and_retry_countdowns_are_held_by_the_broker_on_quorum_queues(
        rabbit, cluster_app, cluster_db, cluster_env, fleet):
    """No relay runs here: only the broker's delayed delivery can bring these tasks back."""
    config = cluster_app.config["HERALD_SETTINGS"]
    key = owner()
    later = insert_due_pushes(key, 5, prefix="later", due_in=timedelta(seconds=15))
    retried = insert_due_pushes(key, 5, prefix="herald-fail-transient-2")
    fleet.worker("push", concurrency=4, env={**cluster_env, "RETRY_BASE_DELAY_SECONDS": "1"})
    assert relay_everything(config) == 10
    # The tasks due later wait in Celery's delay queues, not in the push queue or a worker.
    held = wait_until(lambda: _delayed_messages(rabbit), timeout=30, interval=1,
                      message="no task waits in the delay queues")

    wait_until(lambda: status_counts() == {"sent": 10}, timeout=120, interval=0.5,
               message="ETAs or retries did not come back")
    db.session.rollback()
    rows = {r.id: r for r in db.session.execute(select(Notification)).scalars()}
    retries = db.session.execute(select(NotificationEvent.notification_id).where(
        NotificationEvent.status == "retrying")).scalars().all()
    report("ETAs and countdowns on quorum queues", held_in_delay_queues=held,
           retry_events=len(retries))
    assert held >= len(later)
    assert all(rows[i].sent_at >= rows[i].deliver_at for i in later), "delivered before its time"
    assert all(rows[i].attempts == 3 for i in retried)  # two transient failures, then sent
    assert sorted(retries) == sorted(retried * 2)


def _drain_push(cluster_app):
    """Drop the tasks the test left in the push queue (their rows go with the test)."""
    celery = cluster_app.extensions["celery"]
    with celery.connection_for_write() as connection:
        celery.amqp.queues["push"](connection.default_channel).purge()


def test_kill_9_of_the_push_leader_loses_nothing(rabbit, cluster_app, cluster_db, cluster_env,
                                                   fleet, outbox):
    config = cluster_app.config["HERALD_SETTINGS"]
    fleet.worker("maintenance", concurrency=1, env=cluster_env)
    fleet.beat(env=cluster_env)
    ids = insert_due_pushes(owner(), TOTAL)
    assert relay_everything(config) == TOTAL  # all 1,000 in the queue before the pool starts

    leader = _wait_for_leader(rabbit)
    # The pool connected to the leader's node: the kill takes its connection and
    # the queue's leader at once, the harder case.
    on_leader = {**cluster_env, **POOL, "BROKER_URL": rabbit.broker_url("herald", first=leader)}
    fleet.worker("push", concurrency=CONCURRENCY, env=on_leader)
    wait_for_sent(100, timeout=120, interval=0.05)
    killed_at, at_kill = utcnow(), status_counts()
    rabbit.kill_node(leader)
    clock = Stopwatch()
    try:
        new_leader = _wait_for_leader(rabbit, not_on=leader)
        elected_in = clock()
        wait_for_sent(TOTAL, timeout=300, interval=0.5)
        all_sent_in = clock()
    finally:
        _restart_if_down(rabbit)

    delivered = outbox.counts("push")
    duplicated = {nid: n for nid, n in delivered.items() if n > 1}
    report("kill -9 of the push queue's leader", in_flight_at_kill=TOTAL - at_kill.get("sent", 0),
           sent_at_kill=at_kill.get("sent", 0), leader=leader.name, new_leader=new_leader.name,
           leader_elected_s=elected_in, kill_to_all_sent_s=all_sent_in,
           longest_pause_s=longest_pause(sent_times(), killed_at),
           duplicates=len(duplicated), extra_deliveries=sum(duplicated.values()) - len(duplicated))
    assert at_kill.get("sent", 0) < TOTAL, "the kill came after the drain, not mid-run"
    assert status_counts() == {"sent": TOTAL}
    assert set(delivered) == {str(i) for i in ids}, "a delivery is missing from the outbox"
    # Only a delivery the pool held when its connection broke can repeat.
    assert len(duplicated) <= CONCURRENCY


def test_a_rolling_restart_of_every_node_during_a_run_loses_nothing(rabbit, cluster_app, cluster_db,
                                                                     cluster_env, fleet, outbox):
    """Each node stopped and started in turn while the relay publishes and the pool delivers."""
    fleet.worker("maintenance", concurrency=1, env=cluster_env)
    fleet.beat(env=cluster_env)
    fleet.worker("push", concurrency=CONCURRENCY, env={**cluster_env, **POOL})
    key = owner()
    ids = insert_due_pushes(key, TOTAL // 4, prefix="wave0")  # beat's relay publishes these
    clock = Stopwatch()
    for wave, node in enumerate(rabbit.nodes, start=1):
        rabbit.stop_node(node)
        ids += insert_due_pushes(key, TOTAL // 4, prefix=f"wave{wave}")
        time.sleep(2)  # the relay publishes through the two nodes left
        rabbit.start_node(node)
        wait_until(lambda: len(rabbit.running_nodes(node)) == len(rabbit.nodes), timeout=60,
                   message=f"{node.name} did not rejoin")
    restarted_in = clock()
    wait_for_sent(TOTAL, timeout=300, interval=0.5)

    delivered = outbox.counts("push")
    duplicated = {nid: n for nid, n in delivered.items() if n > 1}
    report("rolling restart of the three nodes", deliveries=TOTAL, restart_s=restarted_in,
           all_sent_s=clock(), duplicates=len(duplicated))
    assert status_counts() == {"sent": TOTAL}
    assert set(delivered) == {str(i) for i in ids}
    assert len(duplicated) <= CONCURRENCY * len(rabbit.nodes)
