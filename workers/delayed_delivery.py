"""Celery's native delayed delivery, set up once per RabbitMQ cluster instead of once per node.

Celery's DelayedDelivery step declares its delay exchanges and binds every
queue on each URL of BROKER_URL, retrying a node that is down for seconds,
every time the consumer (re)connects. The URLs of a Herald BROKER_URL are
nodes of one cluster, where one declaration serves them all: after a node
dies, the step would hold the pool's consumer back for the dead node's
retries (17 s measured here). This step starts with the node the consumer
has just connected to and stops at the first that answers.
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.consumer.delayed_delivery import DelayedDelivery
from kombu import Connection
from kombu.utils.url import maybe_sanitize_url

log = logging.getLogger(__name__)

CELERY_STEP = "celery.worker.consumer.delayed_delivery:DelayedDelivery"
AMQP_PORT = 5672  # what a URL without a port means


class ClusterDelayedDelivery(DelayedDelivery):
    def start(self, c) -> None:
        app = c.app
        self._validate_configuration(app)
        for broker_url in self._nodes_to_try(c):
            try:
                self._setup_delayed_delivery(c, broker_url)
                return
            except Exception as error:  # a node down: the cluster's next one will do
                log.warning("delayed delivery setup on %s failed: %s; trying the next node",
                            maybe_sanitize_url(broker_url), error)
        log.critical("delayed delivery could not be set up on any node of BROKER_URL: "
                     "tasks with an ETA on quorum queues would not arrive")


    def _nodes_to_try(self, c) -> list[str]:
        """BROKER_URL's nodes in its order, the one the consumer just connected to first."""
        valid = self._validate_broker_urls(c.app.conf.broker_url)  # a set: it loses the order
        listed = c.app.conf.broker_url
        ordered = [url for url in dict.fromkeys(listed.split(";") if isinstance(listed, str)
                                                else listed) if url in valid]
        return sorted(ordered, key=lambda url: _address(Connection(url)) != _address(c.connection))


def _address(connection) -> tuple[str | None, int]:
    return (getattr(connection, "hostname", None), getattr(connection, "port", None) or AMQP_PORT)


class Consumer(CeleryConsumer):
    """Celery's consumer with the delayed delivery step above in place of its own."""

    class Blueprint(CeleryConsumer.Blueprint):
        default_steps = [f"{__name__}:ClusterDelayedDelivery" if step == CELERY_STEP else step
                         for step in CeleryConsumer.Blueprint.default_steps]
