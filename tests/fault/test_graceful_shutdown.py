"""SIGTERM to a pool mid-run (a deploy, a scale-down): nothing lost, nothing stuck, nothing twice.

SIGTERM is Celery's warm shutdown: the pool stops taking messages, lets the
deliveries it is running finish, and exits; messages it had taken but not
started are unacked, so the broker hands them to the next consumer. A fresh
pool then drains the rest. No beat and no maintenance worker run here: the
sweeper and the relay would repair a row left `sending` or a lost message and
hide it, so what this test sees is the shutdown alone.

Celery does not always ack a task that finishes during the warm shutdown
(celery/celery#3802): when the main process has stopped reading results, a
pool process waits up to 30 s for it (billiard) and exits, the message goes
back to the queue, and the next pool's claim finds the row already `sent` and
does nothing. Such a shutdown takes about 32 s instead of 2; both are far
inside compose's stop_grace_period.

The first pool is started from its Procfile line, so the test also checks
that the pool runs threads, as many as its environment variable says.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest

from common.config import PROJECT_ROOT
from tests.fault.harness import Stopwatch, post_notifications, report, wait_for_sent
from tests.support.factories import BODIES, status_counts
from tests.support.processes import HeraldProcess

TOTAL = 1000
CONCURRENCY = 3
SIGTERM_AFTER_SENT = 250
# docker-compose's stop_grace_period for the pools: past it, Docker sends SIGKILL.
STOP_GRACE_SECONDS = 75


def body(channel: str, i: int) -> dict:
    recipient = {"push": f"device-{i}", "email": f"user{i}@example.com",
                 "sms": f"+4477009{i:05d}"}[channel]
    return BODIES[channel](recipient, reference=f"graceful-{i}")


def procfile_command(process: str) -> str:
    for line in (PROJECT_ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise LookupError(f"no {process!r} in the Procfile")


_ASSIGNMENTS = re.compile(r"^((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)(.*)$")


def pool_command(channel: str) -> str:
    """The pool's Procfile line, as a shell command that becomes Celery, minus its fixed metrics port.

    `exec` makes the shell become the worker's main process, which the test
    signals. A fixed port would collide with other runs on this machine.
    """
    assignments, command = _ASSIGNMENTS.match(procfile_command(channel)).groups()
    kept = [a for a in assignments.split() if not a.startswith("WORKER_METRICS_PORT=")]
    return " ".join([*kept, "exec", command])


def procfile_pool(fleet, channel: str, concurrency: int, log_dir: Path) -> HeraldProcess:
    """The pool as `make run` starts it: its Procfile line through a shell, concurrency from the environment."""
    pool = HeraldProcess(
        channel, ["/bin/sh", "-c", pool_command(channel)], log_dir,
        {f"{channel.upper()}_CONCURRENCY": str(concurrency),
         "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    fleet.processes.append(pool)  # stopped at the end of the test whatever happens
    pool.wait_for_log(" ready.", timeout=60)
    return pool


def after_warm_shutdown(log: str) -> str:
    marker = "Warm shutdown (MainProcess)"
    assert marker in log, f"no warm shutdown in the pool's log:\n{log[-3000:]}"
    return log.split(marker, 1)[1]


@pytest.mark.parametrize("channel", ["push", "email", "sms"])
def test_sigterm_to_a_pool_mid_run_loses_nothing(channel, client, auth, outbox, fleet, log_dir):
    posting = Stopwatch()
    ids = post_notifications(client, auth, (body(channel, i) for i in range(TOTAL)))
    posted_in = posting()

    pool = procfile_pool(fleet, channel, CONCURRENCY, log_dir)
    assert f"concurrency: {CONCURRENCY} (thread)" in pool.log(), \
        f"{channel.upper()}_CONCURRENCY was not honoured:\n{pool.log()[:3000]}"
    wait_for_sent(SIGTERM_AFTER_SENT, timeout=60, interval=0.02)
    pool.signal_main(signal.SIGTERM)
    shutdown = Stopwatch()
    at_signal = status_counts()
    exit_code = pool.process.wait(timeout=STOP_GRACE_SECONDS)
    exited_in = shutdown()
    at_exit = status_counts()
    # Deliveries the pool was running when the signal came, finished after it.
    finished_after_signal = len(re.findall(rf"{channel} [0-9a-f-]{{36}}: sent",
                                           after_warm_shutdown(pool.log())))

    assert exit_code == 0, f"the warm shutdown exited with {exit_code}"
    assert at_exit.get("sending", 0) == 0, f"the pool left rows in sending: {at_exit}"

    restart = Stopwatch()
    fresh = fleet.worker(channel, concurrency=CONCURRENCY, log_dir=log_dir / "restarted")
    wait_for_sent(TOTAL, timeout=60)
    restart_to_all_sent = restart()

    counts = status_counts()
    delivered = outbox.counts(channel)
    duplicated = {nid: n for nid, n in delivered.items() if n > 1}
    # A message whose delivery finished but whose ack was lost comes back; its
    # claim then finds the row sent and does nothing.
    redelivered_stale = len(re.findall(r": stale: already sent", fresh.log()))
    report(f"SIGTERM to the {channel} pool ({pool_command(channel)})",
           posted_in_s=posted_in, sent_at_signal=at_signal.get("sent", 0),
           sending_at_signal=at_signal.get("sending", 0),
           finished_after_signal=finished_after_signal, exit_s=exited_in, exit_code=exit_code,
           sent_at_exit=at_exit.get("sent", 0), restart_to_all_sent_s=restart_to_all_sent,
           lost=TOTAL - counts.get("sent", 0),
           stuck=counts.get("sending", 0) + counts.get("retrying", 0),
           duplicates=len(duplicated), redelivered_stale=redelivered_stale)
    assert counts == {"sent": TOTAL}, f"rows not sent: {counts}"
    assert set(delivered) == set(ids), "an id is missing from the outbox (or a stranger is in it)"
    assert duplicated == {}, f"delivered more than once: {duplicated}"
    assert exited_in < STOP_GRACE_SECONDS
