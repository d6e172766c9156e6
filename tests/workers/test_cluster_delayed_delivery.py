"""Native delayed delivery is set up on the first RabbitMQ node that answers (workers/delayed_delivery.py)."""

from __future__ import annotations

from types import SimpleNamespace

from workers.delayed_delivery import CELERY_STEP, ClusterDelayedDelivery, Consumer

NODES = "amqp://g:g@rmq1//;amqp://g:g@rmq2//;amqp://g:g@rmq3//"


def test_the_workers_consumer_runs_herald_s_step_instead_of_celery_s():
    steps = Consumer.Blueprint.default_steps
    assert CELERY_STEP not in steps
    assert "workers.delayed_delivery:ClusterDelayedDelivery" in steps


def _consumer(connected_to=None):
    conf = SimpleNamespace(broker_url=NODES, broker_native_delayed_delivery_queue_type="quorum")
    return SimpleNamespace(app=SimpleNamespace(conf=conf),
                           connection=SimpleNamespace(hostname=connected_to, port=None))


def _record_setups(monkeypatch, down=()):
    tried = []

    def setup(self, consumer, url):
        node = url.split("@")[1].split("/")[0]
        tried.append(node)
        if node in down:
            raise ConnectionRefusedError("node down")

    monkeypatch.setattr(ClusterDelayedDelivery, "_setup_delayed_delivery", setup)
    return tried


def test_a_dead_first_node_is_skipped_and_the_setup_stops_at_the_next(monkeypatch):
    tried = _record_setups(monkeypatch, down={"rmq1"})

    ClusterDelayedDelivery.__new__(ClusterDelayedDelivery).start(_consumer())

    assert tried == ["rmq1", "rmq2"]


def test_the_node_the_consumer_is_connected_to_comes_first(monkeypatch):
    tried = _record_setups(monkeypatch)

    ClusterDelayedDelivery.__new__(ClusterDelayedDelivery).start(_consumer(connected_to="rmq3"))

    assert tried == ["rmq3"]
