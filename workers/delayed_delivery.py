"""Celery's native delayed delivery, set up once per RabbitMQ cluster instead of once per node.

Celery's DelayedDelivery step declares its delay exchanges and binds every
queue on each URL of BROKER_URL, retrying a node that is down for seconds,
every time the consumer (re)connects. The URLs of a Herald BROKER_URL are
nodes of one cluster, where one declaration serves them all: after a node
dies, the step would hold the pool's consumer back for the dead node's
retries (17 s measured here). This step stops at the first node that answers.
"""

from __future__ import annotations

import logging

from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.consumer.delayed_delivery import DelayedDelivery
from kombu.utils.url import maybe_sanitize_url

log = logging.getLogger(__name__)

CELERY_STEP = "celery.worker.consumer.delayed_delivery:DelayedDelivery"


class ClusterDelayedDelivery(DelayedDelivery):
    def start(self, c) -> None:
        app = c.app
        self._validate_configuration(app)
        valid = self._validate_broker_urls(app.conf.broker_url)  # a set: the order is BROKER_URL's
        ordered = app.conf.broker_url.split(";") if isinstance(app.conf.broker_url, str) \
            else app.conf.broker_url
        for broker_url in dict.fromkeys(url for url in ordered if url in valid):
            try:
                self._setup_delayed_delivery(c, broker_url)
                return
            except Exception as error:  # a node down: the cluster's next one will do
                log.warning("delayed delivery setup on %s failed: %s; trying the next node",
                            maybe_sanitize_url(broker_url), error)
        log.critical("delayed delivery could not be set up on any node of BROKER_URL: "
                     "tasks with an ETA on quorum queues would not arrive")


class Consumer(CeleryConsumer):
    """Celery's consumer with the delayed delivery step above in place of its own."""

    class Blueprint(CeleryConsumer.Blueprint):
        default_steps = [f"{__name__}:ClusterDelayedDelivery" if step == CELERY_STEP else step
                         for step in CeleryConsumer.Blueprint.default_steps]
