"""Metrics: GET /metrics for Prometheus, GET /v1/metrics for a calling service's own counts.

/metrics is the text exposition of Herald's series (common/metrics.py) as
recorded by the API's processes (all gunicorn workers at once when
PROMETHEUS_MULTIPROC_DIR is set), plus the depth of every queue, asked of the
broker at scrape time. It carries no per-service data and asks no API key:
keep it on the internal network. The worker pools serve their own series on
WORKER_METRICS_PORT.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, g, jsonify, request

from api.auth import requires_api_key
from api.metrics.schema import MetricsQuery, parse_period
from api.metrics.serialize import ServiceMetrics, service_metrics_body
from api.metrics.service import count_events, exposition
from api.openapi import Answer, documented
from common.models import utcnow

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@documented(summary="Prometheus metrics of the API processes and the queues", tag="operations",
            description="No API key and no per-service data: keep it on the internal network.",
            answers={200: Answer("The text exposition (OpenMetrics when the Accept header asks).",
                                 media_types=("text/plain", "application/openmetrics-text"))})
def prometheus():
    text, content_type = exposition(current_app, request.headers.get("Accept"))
    return text, 200, {"Content-Type": content_type}


@bp.get("/v1/metrics")
@documented(summary="Counts of the service's notification events over a period", tag="metrics",
            query=MetricsQuery, errors=(422,),
            answers={200: Answer("The counts.", ServiceMetrics)})
@requires_api_key
def service_metrics():
    """Counts of the caller's notification events over the last `period` seconds (default 3600)."""
    period = parse_period(request.args)
    until = utcnow()
    since = until - timedelta(seconds=period)
    counts = count_events(g.api_key, since, until)
    return jsonify(service_metrics_body(period, since, until, counts))
