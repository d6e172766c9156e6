"""Two beat processes started by mistake: the relay and the sweeper still run once per period.

Both beats publish every tick, so the maintenance pool receives each job
twice per period; a run that finds its period already claimed
(common/maintenance_runs.py) returns None instead of its count, and Celery
logs each task's return value, which is what is counted here.
"""

from __future__ import annotations

import re
import time

from tests.fault.harness import Stopwatch, report

RELAY_EVERY, SWEEP_EVERY = 1.0, 2.0
FAST = {"RELAY_INTERVAL_SECONDS": str(RELAY_EVERY), "SWEEP_INTERVAL_SECONDS": str(SWEEP_EVERY)}
RUN_FOR = 16.0


def _outcomes(log: str, job: str) -> tuple[int, int]:
    """(runs that did the work, runs that found their period taken) in a worker's log."""
    return (len(re.findall(rf"{job}: ran, ", log)),
            len(re.findall(rf"{job}: this period's run has started elsewhere", log)))


def test_two_beats_run_the_relay_and_the_sweeper_once_per_period(broker, db, fleet):
    pool = fleet.worker("maintenance", concurrency=2, env=FAST)
    clock = Stopwatch()
    # Each beat with its own schedule file, as on two machines.
    beats = [fleet.beat(env=FAST, log_dir=fleet.log_dir / f"beat{n}") for n in (1, 2)]
    time.sleep(RUN_FOR)
    for beat in beats:
        beat.stop()
    window = clock()
    time.sleep(3)  # the last ticks' tasks finish

    log = pool.log()
    relay_runs, relay_skipped = _outcomes(log, "relay")
    sweep_runs, sweep_skipped = _outcomes(log, "sweep")
    report("two beats", window_s=window, relay_runs=relay_runs, relay_skipped=relay_skipped,
           sweep_runs=sweep_runs, sweep_skipped=sweep_skipped)
    # Both beats published: the maintenance pool got the jobs twice over...
    assert relay_skipped >= RUN_FOR / RELAY_EVERY / 2
    assert sweep_skipped >= RUN_FOR / SWEEP_EVERY / 2
    # ...and ran each at most once per period (a run needs 0.8 of a period since
    # the last), and still about once per period on a loaded machine.
    assert RUN_FOR / RELAY_EVERY / 2 <= relay_runs <= window / (0.8 * RELAY_EVERY) + 1
    assert RUN_FOR / SWEEP_EVERY / 2 <= sweep_runs <= window / (0.8 * SWEEP_EVERY) + 1
