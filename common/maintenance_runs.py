"""Once per period, however many beats: each periodic job claims its period in the database first.

Two beat processes started by mistake (or a beat restarted mid-period) both
publish the relay and the sweeper. The task itself takes the period: one
conditional UPDATE moves the job's `started_at` to now only if the last run
started at least `PERIOD_SHARE` of a period ago. The run that moved it goes
on; any other run of that period finds no row changed and stops. The row
lives in PostgreSQL (or the embedded SQLite), which every worker already
shares, so no other lock service is needed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from common.db import db
from common.models import UTCDateTime

# A run needs the last one to have started this share of a period ago: the
# ticks of one beat, late by a little, still run every period; a second
# beat's ticks land inside a period already taken.
PERIOD_SHARE = 0.8


class MaintenanceRun(db.Model):
    """When a periodic job last started, and where."""

    __tablename__ = "maintenance_runs"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    worker: Mapped[str | None] = mapped_column(String(255))


def claim_period(job: str, period: float, now: datetime, worker: str | None = None) -> bool:
    """Whether this run of `job` is the period's one; commits the claim when it is."""
    edge = now - timedelta(seconds=period * PERIOD_SHARE)
    claimed = db.session.execute(
        update(MaintenanceRun)
        .where(MaintenanceRun.job == job, MaintenanceRun.started_at <= edge)
        .values(started_at=now, worker=worker)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not claimed:  # the job's first run anywhere: the row does not exist yet
        claimed = db.session.execute(_insert_once(job, now, worker)).rowcount == 1
    db.session.commit()
    return claimed


def _insert_once(job: str, now: datetime, worker: str | None):
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return (dialect.insert(MaintenanceRun).values(job=job, started_at=now, worker=worker)
            .on_conflict_do_nothing(index_elements=["job"]))
