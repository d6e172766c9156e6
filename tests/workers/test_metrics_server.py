"""The pool's multiprocess directory: fresh per start, dead processes' live gauges forgotten."""

from __future__ import annotations

import os
import subprocess
import sys

from common import multiprocess
from common.config import settings
from tests.support.settings import replace
from workers import metrics_server


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_each_start_gets_an_empty_directory_and_sweeps_up_dead_ones(tmp_path, monkeypatch):
    monkeypatch.setenv(multiprocess.ENV, "set by the test")  # and removed again after it
    gone = tmp_path / f"worker-{dead_pid()}"
    gone.mkdir()
    (gone / "counter_1.db").write_bytes(b"old")
    alive = tmp_path / "worker-1"  # pid 1 is always there
    alive.mkdir()
    other_kind = tmp_path / f"api-{dead_pid()}"
    other_kind.mkdir()
    mine = tmp_path / f"worker-{os.getpid()}"
    mine.mkdir()
    (mine / "counter_99.db").write_bytes(b"left by a process with my pid")

    directory = multiprocess.start_directory(tmp_path, "worker")

    assert directory == mine and list(directory.iterdir()) == []
    assert os.environ[multiprocess.ENV] == str(directory)
    assert not gone.exists()
    assert alive.exists() and other_kind.exists()


def test_the_live_gauges_of_exited_processes_are_forgotten(tmp_path):
    gone, living = dead_pid(), os.getpid()
    for pid in (gone, living):
        for prefix in ("gauge_livesum", "counter", "histogram"):
            (tmp_path / f"{prefix}_{pid}.db").write_bytes(b"")

    assert multiprocess.forget_exited(tmp_path, keep=set()) == [gone]

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{gone}.db", f"histogram_{gone}.db", f"gauge_livesum_{living}.db",
         f"counter_{living}.db", f"histogram_{living}.db"])


def test_nothing_is_prepared_outside_celery_worker():
    config = replace(settings(), worker_metrics_port=9999)

    # Here `workers` is imported by pytest, not by `celery worker`.
    assert metrics_server._is_worker_command() is False
    assert metrics_server.prepare(config) is None
