"""Per-start directories for prometheus_client's multiprocess mode (gunicorn's API, a worker pool).

In multiprocess mode every process writes its metric values to files in
PROMETHEUS_MULTIPROC_DIR and a scrape merges them. The directory must be empty
when the processes start (old files would be counted again), and
prometheus_client reads the variable once, when it is first imported. So the
parent process calls `start_directory` before anything imports
prometheus_client, or re-runs the library's choice (`switch_to_multiprocess`)
when something did so without creating a metric. This module imports
nothing from prometheus_client at the top for that reason.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def start_directory(base: Path, kind: str) -> Path:
    """`base/<kind>-<pid>`, empty, named in the environment for this process and its children.

    Directories of the same kind left by processes that are gone (killed
    before they could clean up) are removed on the way.
    """
    base.mkdir(parents=True, exist_ok=True)
    for old in base.glob(f"{kind}-*"):
        pid = old.name.rpartition("-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    directory = base / f"{kind}-{os.getpid()}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    os.environ[ENV] = str(directory)
    return directory


def remove_directory(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)


def switch_to_multiprocess() -> None:
    """Make metrics created from now on write to the directory in the environment.

    prometheus_client picks its value class when it is imported; a library
    imported earlier (Celery loads Flower's command, which imports
    prometheus_client) made that choice before the directory existed. This
    asks the library to choose again; it must run before any metric exists.
    """
    from prometheus_client import values

    values.ValueClass = values.get_value_class()


def forget_exited(directory: Path, keep: set[int]) -> list[int]:
    """mark_process_dead for processes that wrote live gauges and are gone.

    Counters and histograms of an exited process stay (they are totals); only
    its `live*` gauge files go, so a child killed in the middle of a delivery
    does not count as busy forever.
    """
    from prometheus_client import multiprocess

    forgotten = []
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and int(pid) not in keep and not _alive(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(directory))
            forgotten.append(int(pid))
    return forgotten
