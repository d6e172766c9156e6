"""The `realtime` stream process as production runs it: gunicorn with gevent workers, on a free port."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from tests.support.processes import HeraldProcess


def start_realtime(log_dir: Path, name: str, env: dict[str, str] | None = None,
                   connections: int = 1000) -> tuple[HeraldProcess, str]:
    """A stream replica; returns the process and its base URL once it listens."""
    process = HeraldProcess(
        name,
        [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
         "--worker-class", "gevent", "--worker-connections", str(connections),
         # As the Procfile: open streams never finish, so a stop cuts them after this.
         "--graceful-timeout", "5",
         "--access-logfile", "-", "api.realtime:create_realtime_app()"],
        log_dir,
        env,
    )
    process.wait_for_log("Booting worker")
    return process, re.search(r"Listening at: (http://\S+)", process.log()).group(1)
