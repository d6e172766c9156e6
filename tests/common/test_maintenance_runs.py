"""Each periodic job runs once per period, however many beats publish it (common/maintenance_runs.py)."""

from __future__ import annotations

from datetime import timedelta

from common.maintenance_runs import PERIOD_SHARE, MaintenanceRun, claim_period
from common.models import utcnow

PERIOD = 2.0


def test_the_first_run_of_a_job_claims_its_period_and_records_where(db):
    now = utcnow()

    assert claim_period("relay", PERIOD, now, worker="maintenance@a")

    row = db.session.get(MaintenanceRun, "relay")
    assert (row.started_at, row.worker) == (now, "maintenance@a")


def test_a_second_run_in_the_same_period_is_turned_away(db):
    now = utcnow()
    claim_period("relay", PERIOD, now, worker="maintenance@a")

    assert not claim_period("relay", PERIOD, now + timedelta(seconds=PERIOD / 2), worker="maintenance@b")
    assert db.session.get(MaintenanceRun, "relay").worker == "maintenance@a"


def test_the_next_period_runs_even_when_its_tick_comes_a_little_early(db):
    now = utcnow()
    claim_period("relay", PERIOD, now)

    assert claim_period("relay", PERIOD, now + timedelta(seconds=PERIOD * PERIOD_SHARE))


def test_jobs_claim_their_periods_apart(db):
    now = utcnow()
    claim_period("relay", PERIOD, now)

    assert claim_period("sweep", PERIOD, now)
