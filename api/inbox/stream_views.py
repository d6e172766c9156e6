"""The stream's endpoint, served by the `realtime` process (api.realtime), not by the API."""

from __future__ import annotations

import threading

from flask import Blueprint, Response, current_app, g, request, stream_with_context

from api.inbox.auth import open_inbox
from api.inbox.stream import inbox_events
from api.openapi import Answer, documented
from api.query import unknown_parameters, whole_number
from common.errors import Invalid
from common.inbox.hub import Hub

bp = Blueprint("inbox_stream", __name__, url_prefix="/v1/inbox")

HUB = "herald_inbox_hub"
_starting = threading.Lock()


def _hub() -> Hub | None:
    """This process's subscriptions to the broker; None on the embedded broker (the stream polls)."""
    config = current_app.config["HERALD_SETTINGS"]
    if config.embedded_broker:
        return None
    with _starting:
        if HUB not in current_app.extensions:
            current_app.extensions[HUB] = Hub(config.broker_url, config.publish_timeout)
    return current_app.extensions[HUB]


def _since() -> int:
    """The last seq the client has: the Last-Event-ID header (a reconnecting EventSource) or ?since=."""
    problems = unknown_parameters(request.args, _StreamQuery)
    given = request.headers.get("Last-Event-ID") or request.args.get("since")
    since = 0 if given is None else whole_number(given)
    if since is None:
        name = "Last-Event-ID" if request.headers.get("Last-Event-ID") else "since"
        problems[name] = "must be a seq: a whole number"
    if problems:
        raise Invalid(problems)
    return since


class _StreamQuery:
    model_fields = {"token": None, "since": None}


@bp.get("/stream")
@documented(summary="The inbox as Server-Sent Events", tag="inbox",
            answers={200: Answer("An event stream.", media_types=("text/event-stream",))})
def stream():
    open_inbox(allow_query=True)
    since = _since()
    events = inbox_events(g.inbox, since, g.inbox_expires, _hub(),
                          current_app.config["HERALD_SETTINGS"])
    return Response(stream_with_context(events), mimetype="text/event-stream", headers={
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no",  # no proxy may hold events back
        "Access-Control-Allow-Origin": "*"})
