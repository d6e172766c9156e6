"""Herald's Celery workers: `celery -A workers worker -Q push -n push@%h`."""

from common.config import settings
from workers import metrics_server

# Before the tasks (and so the metrics) are defined: with WORKER_METRICS_PORT,
# `celery worker` keeps its metrics in a fresh multiprocess directory.
metrics_server.prepare(settings())

from workers.app import app  # noqa: E402

__all__ = ["app"]
