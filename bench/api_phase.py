"""api_single and api_batch: Herald's API under load from a separate process, beside the bare baseline."""

from __future__ import annotations

import http.client
import json
import statistics
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from bench.context import Bench
from bench.cpu import CpuSampler
from bench.environment import HOST, PUSH_REQUEST, start_gunicorn
from bench.http_load import LoadResult, post_load
from bench.results import Section
from common.db import db

BATCH_PATH = "/v1/notifications/batch"
BATCH_SIZE = 1000
BATCH_CONNECTIONS = 4


def _post(port: int, path: str, payload: dict, api_key: str) -> tuple[int, dict]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request("POST", path, json.dumps(payload),
                           {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"})
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    try:
        return response.status, json.loads(raw or b"{}")
    except ValueError:
        return response.status, {}


def check_published_at_once(port: int, api_key: str) -> None:
    """The timed requests must take the publish-now path, or the comparison means nothing."""
    status, body = _post(port, "/v1/notifications", PUSH_REQUEST, api_key)
    due = body.get("deliver_at")
    if status != 202 or not due or \
            datetime.fromisoformat(due.replace("Z", "+00:00")) > datetime.now(timezone.utc) + timedelta(seconds=5):
        raise RuntimeError(f"Herald did not accept the bench request for immediate delivery: {status} {body}")


def _checked(label: str, result: LoadResult) -> LoadResult:
    if result.non_2xx or result.socket_errors or not result.requests:
        raise RuntimeError(f"{label}: {result.requests} answers, {result.non_2xx} not 2xx, "
                           f"{result.socket_errors} socket errors")
    return result


def measure_api_single(bench: Bench, section: Section) -> None:
    """Both APIs up at once, warmed, then timed in alternating rounds so drift hits both alike."""
    body = json.dumps(PUSH_REQUEST).encode()
    herald, herald_port = start_gunicorn("herald-api", "api:create_app()", bench.api_workers, bench.log_dir)
    bench.cleanup.callback(herald.stop)
    baseline, baseline_port = start_gunicorn("baseline-api", "bench.baseline_app:create_app()",
                                             bench.api_workers, bench.log_dir, ("--worker-class", "sync"))
    bench.cleanup.callback(baseline.stop)
    check_published_at_once(herald_port, bench.api_key)
    sides = {"baseline": (baseline, baseline_port, None), "herald": (herald, herald_port, bench.api_key)}

    def load(label: str, seconds: float) -> tuple[LoadResult, str]:
        server, port, key = sides[label]
        sampler = CpuSampler({server.pid: f"{label} API"}).start()
        result = _checked(label, post_load(port, "/v1/notifications", body, key,
                                           connections=bench.clients, seconds=seconds))
        split = sampler.stop({"load client": result.client_cpu_seconds})
        return result, split.describe()

    for label in sides:  # every gunicorn worker opens its database and broker connections
        load(label, 2)
    runs: dict[str, list[LoadResult]] = {label: [] for label in sides}
    cpu: dict[str, str] = {}
    for _round in range(bench.rounds):
        for label in sides:
            result, cpu[label] = load(label, bench.seconds)
            runs[label].append(result)
    baseline.stop()
    herald.stop()

    herald_rates = [run.per_second for run in runs["herald"]]
    baseline_rates = [run.per_second for run in runs["baseline"]]
    section.figures.update(
        herald_rps=statistics.median(herald_rates),
        baseline_rps=statistics.median(baseline_rates),
        ratio=statistics.median(h / b for h, b in zip(herald_rates, baseline_rates)),
        herald_p99_ms=max(run.p99_ms for run in runs["herald"]),  # the worst round's
    )
    for label, results in runs.items():
        section.notes.append(
            f"{label}: rounds {', '.join(f'{r.per_second:,.0f}' for r in results)} req/s, p50 "
            f"{statistics.median(r.p50_ms for r in results):.1f} ms, p99 "
            f"{', '.join(f'{r.p99_ms:.1f}' for r in results)} ms; load client "
            f"{statistics.median(r.client_cores for r in results):.2f} cores")
        section.notes.append(f"{label} (last round) {cpu[label]}")


def batch_payload(size: int) -> dict:
    """PUSH_REQUEST as a batch: what every item shares in `defaults`, its own address and reference."""
    defaults = {key: value for key, value in PUSH_REQUEST.items() if key != "to"}
    return {"defaults": defaults,
            "items": [{"to": f"bench-device-{index}", "reference": f"bench-{index}"} for index in range(size)]}


def _accepted_ids(answer: dict) -> int:
    """How many items the batch answer lists with an id (and no error)."""
    items = answer.get("items")
    if not isinstance(items, list):
        return -1
    return sum(1 for item in items if isinstance(item, dict) and item.get("id") and not item.get("error"))


def _notification_count(bench: Bench) -> int:
    with bench.app.app_context():
        count = db.session.execute(text("SELECT count(*) FROM notifications")).scalar_one()
        db.session.rollback()
    return count


def measure_api_batch(bench: Bench, section: Section) -> None:
    """Batches of 1,000 through POST /v1/notifications/batch; counted by the rows they wrote."""
    herald, port = start_gunicorn("herald-batch-api", "api:create_app()", bench.api_workers, bench.log_dir)
    bench.cleanup.callback(herald.stop)
    try:
        status, answer = _post(port, BATCH_PATH, batch_payload(2), bench.api_key)
        if status in (404, 405):
            section.notes.append(f"not measured: POST {BATCH_PATH} answers {status} on this branch "
                                 "(the batch endpoint has not landed yet)")
            return
        if status != 202 or _accepted_ids(answer) != 2:
            section.notes.append(f"not measured: a batch of 2 good items was answered {status} with "
                                 f"{_accepted_ids(answer)} ids, not 202 with 2")
            return
        body = json.dumps(batch_payload(BATCH_SIZE)).encode()
        post_load(port, BATCH_PATH, body, bench.api_key, connections=BATCH_CONNECTIONS, seconds=2)  # warm up
        before = _notification_count(bench)
        sampler = CpuSampler({herald.pid: "herald API"}).start()
        result = _checked("batch", post_load(port, BATCH_PATH, body, bench.api_key,
                                             connections=BATCH_CONNECTIONS, seconds=bench.seconds))
        split = sampler.stop({"load client": result.client_cpu_seconds})
        written = _notification_count(bench) - before
    finally:
        herald.stop()
    # Rows, not requests x items: only what the endpoint really wrote counts.
    section.figures["herald_nps"] = written / result.seconds
    section.notes.append(f"{result.requests} batches of {BATCH_SIZE} from {BATCH_CONNECTIONS} connections in "
                         f"{result.seconds:.1f} s wrote {written:,} rows; p99 {result.p99_ms:.0f} ms per batch")
    section.notes.append(split.describe())
