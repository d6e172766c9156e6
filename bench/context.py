"""What every phase of `make bench` shares: options, the log directory, the API key, cleanup."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from kombu import Connection
from sqlalchemy import text

from common.db import db


@dataclass
class Bench:
    quick: bool
    rounds: int
    seconds: float          # each timed API window
    api_workers: int
    clients: int            # connections of the single-POST load
    log_dir: Path
    cleanup: ExitStack
    app: Flask              # Herald's app, for database work from the bench process
    api_key: str
    api_key_id: uuid.UUID
    broker_url: str

    def reset_notifications(self) -> None:
        """Start a phase from empty tables and queues, so nothing left by the last one is counted."""
        with self.app.app_context():
            db.session.execute(text("TRUNCATE notifications CASCADE"))
            db.session.commit()
        self.purge("push", "bench_baseline")

    def purge(self, *queues: str) -> None:
        with Connection(self.broker_url) as connection:
            channel = connection.default_channel
            for queue in queues:
                try:
                    channel.queue_purge(queue)
                except Exception:  # not declared yet: nothing to purge
                    channel = connection.channel()
