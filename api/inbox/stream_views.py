"""The stream's endpoint, served by the `realtime` process (api.realtime), not by the API."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, g, request, stream_with_context

from api.errors import ApiError
from api.inbox.auth import open_inbox
from api.inbox.schema import StreamQuery, parse_since
from api.inbox.stream import inbox_events
from api.openapi import Answer, documented
from common.inbox.hub import Hub

log = logging.getLogger(__name__)
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


def _subscribed(events: Iterator[str]) -> Iterator[str]:
    """The stream, its subscription made now: without the broker, a 503 rather than a broken stream."""
    try:
        first = next(events)
    except Exception as exc:
        log.warning("inbox stream refused, no subscription to the broker: %s", exc)
        raise ApiError(503, "unavailable", "the inbox stream cannot listen to the broker now; "
                                           "reconnect in a few seconds") from None

    def resumed():
        try:
            yield first
            yield from events
        finally:
            events.close()

    return resumed()


@bp.get("/stream")
@documented(summary="The inbox as Server-Sent Events", tag="inbox", query=StreamQuery,
            errors=(422, 503),
            answers={200: Answer("An event stream.", media_types=("text/event-stream",))})
def stream():
    open_inbox(allow_query=True)
    since = parse_since(request.args, request.headers.get("Last-Event-ID"))
    events = inbox_events(g.inbox, since, g.inbox_expires, _hub(),
                          current_app.config["HERALD_SETTINGS"])
    return Response(stream_with_context(_subscribed(events)), mimetype="text/event-stream", headers={
        "Cache-Control": "no-cache", "X-Accel-Buffering": "no",  # no proxy may hold events back
        "Access-Control-Allow-Origin": "*"})
