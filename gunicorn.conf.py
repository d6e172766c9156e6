"""Gunicorn settings for the API, read by gunicorn from the working directory by default.

Metrics: every gunicorn worker records into PROMETHEUS_MULTIPROC_DIR, so
GET /metrics answers for all of them, whichever one serves the scrape. Unless
the environment names a directory, each start gets an empty one of its own,
HERALD_VAR_DIR/metrics/api-<pid>, removed at exit. It is named here, in the
master, before anything imports prometheus_client, so the forked workers
start in multiprocess mode.

Logs: with LOG_FORMAT=json, gunicorn's own lines (error log, access log) and
the application's are JSON objects, one per line. Every record is masked
(common.redaction): no address, phone number or API key reaches them.

The edge: gunicorn's own refusals (request line or headers over the limits
below, malformed requests) answer in the API's JSON error shape
(api.server_worker). The control socket is off: its default path is one per
user, shared by every gunicorn on the machine, and Herald needs no gunicornc.

Only hooks, logging and the edge live here; the bind address, the number of workers and
the rest stay on the command line (which wins over this file).
"""

from __future__ import annotations

import os
from pathlib import Path

from common import multiprocess
from common.config import settings
from common.redaction import redact_every_log_record

redact_every_log_record()  # the master's lines too
_config = settings()
_own_directory: Path | None = None
if not os.environ.get(multiprocess.ENV):
    _own_directory = multiprocess.start_directory(_config.metrics_dir, "api")


# The request line without its query string (and no referer): a query such as
# ?recipient=ada@example.com must not put an address in the access log. No
# user name (%(u)s): it is whatever a Basic Authorization header says, and a
# caller may send its API key there. The user agent is the caller's text,
# kept as data (quoted here, a JSON string under LOG_FORMAT=json, masked).
access_log_format = '%(h)s %(l)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'

worker_class = "api.server_worker.JsonErrorSyncWorker"
control_socket_disable = True
# The longest request Herald answers (a list filtered by recipient and
# reference, with a cursor) is under 1.5 KB; an API key header is under 100
# bytes. Proxies and tracing add a few headers of their own.
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190


def on_starting(server):
    # A directory the environment named may hold the files of an earlier run.
    directory = Path(os.environ[multiprocess.ENV])
    directory.mkdir(parents=True, exist_ok=True)
    if directory != _own_directory:
        for stale in directory.glob("*.db"):
            stale.unlink()


def child_exit(server, worker):
    from prometheus_client import multiprocess as prometheus_multiprocess

    prometheus_multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_directory is not None:
        multiprocess.remove_directory(_own_directory)


if _config.log_format == "json":
    from gunicorn.glogging import Logger

    from common import logs

    class JsonLogger(Logger):
        """Gunicorn's logger, with its handlers writing JSON, and the app's logs beside them."""

        def setup(self, cfg):
            super().setup(cfg)
            logs.use_json(self.error_log, self.access_log)
            logs.json_to_stderr()

    logger_class = JsonLogger
