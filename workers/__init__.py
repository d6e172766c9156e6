"""Herald's Celery workers: `celery -A workers worker -Q push -n push@%h`."""

from workers.app import app

__all__ = ["app"]
