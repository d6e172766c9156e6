"""A worker pool's Prometheus endpoint: the metrics of all its processes, served by its main process.

With WORKER_METRICS_PORT set, `celery worker` runs in prometheus_client's
multiprocess mode. Its main process, while Celery loads the app and before
any metric exists or any pool process is forked:

- makes an empty directory for this start, HERALD_VAR_DIR/metrics/worker-<pid>
  (removing those of pools that are gone), and names it in
  PROMETHEUS_MULTIPROC_DIR, which the pool processes inherit;
- binds the port, so a port in use stops the worker at once, loudly.

Once the pool is up it serves the merged files of every process over HTTP. A
pool process that exits (recycled, killed) leaves its counters, which are
totals; its live gauges are dropped, by the process itself at a clean exit or
by the main process at the next scrape. The directory goes when the worker
stops.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import click

from common import multiprocess
from common.config import Settings

log = logging.getLogger(__name__)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


class _PoolCollector:
    """Every pool process's values, after forgetting the live gauges of processes that are gone."""

    def __init__(self, directory: Path):
        from prometheus_client.multiprocess import MultiProcessCollector

        self._directory = directory
        self._merged = MultiProcessCollector(None, str(directory))

    def collect(self):
        multiprocess.forget_exited(self._directory, keep={os.getpid()})
        return self._merged.collect()


class PoolMetrics:
    """The directory and the HTTP server of one worker start."""

    def __init__(self, directory: Path, server: WSGIServer):
        self.directory = directory
        self.server = server
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def serve(self) -> None:
        self._thread = threading.Thread(target=self.server.serve_forever, name="metrics-server",
                                        daemon=True)
        self._thread.start()
        log.info("pool metrics on http://%s:%d/metrics (files in %s)",
                 self.server.server_address[0], self.port, self.directory)

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() waits for a loop that must be running
            self.server.shutdown()
        self.server.server_close()
        multiprocess.remove_directory(self.directory)


_started: PoolMetrics | None = None


def _is_worker_command() -> bool:
    # Celery imports the app (`-A workers`) inside its command line's group,
    # which already knows the subcommand: only `celery worker` serves a pool.
    context = click.get_current_context(silent=True)
    return context is not None and context.invoked_subcommand == "worker"


def prepare(config: Settings) -> PoolMetrics | None:
    """In `celery worker`'s main process with a metrics port: the directory and the bound port.

    Must run before anything creates a metric (workers/__init__.py calls it
    before importing the tasks).
    """
    global _started
    if _started is not None or not config.worker_metrics_port or not _is_worker_command():
        return _started
    if "common.metrics" in sys.modules:
        log.error("metrics were defined before the pool's directory existed; not serving them")
        return None
    directory = multiprocess.start_directory(config.metrics_dir, "worker")
    multiprocess.switch_to_multiprocess()
    from prometheus_client import CollectorRegistry, make_wsgi_app

    registry = CollectorRegistry()
    registry.register(_PoolCollector(directory))
    try:
        server = make_server(config.worker_metrics_address, config.worker_metrics_port,
                             make_wsgi_app(registry), _Server, handler_class=_QuietHandler)
    except OSError as error:
        multiprocess.remove_directory(directory)
        raise SystemExit(f"WORKER_METRICS_PORT={config.worker_metrics_port} on "
                         f"{config.worker_metrics_address}: {error.strerror or error}") from error
    _started = PoolMetrics(directory, server)
    _connect_signals()
    return _started


def _connect_signals() -> None:
    from celery.signals import worker_process_shutdown, worker_ready, worker_shutdown

    @worker_ready.connect(weak=False)
    def _serve(**_kwargs):
        # After the pool has forked: the server's thread lives in the main process only.
        _started.serve()

    @worker_process_shutdown.connect(weak=False)
    def _pool_process_exits(pid=None, **_kwargs):
        from prometheus_client import multiprocess as prometheus_multiprocess

        prometheus_multiprocess.mark_process_dead(pid or os.getpid(), str(_started.directory))

    @worker_shutdown.connect(weak=False)
    def _stop(**_kwargs):
        _started.stop()
