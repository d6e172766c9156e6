"""GET /static/herald-inbox.js (the inbox client, always served) and GET /demo/inbox (when enabled).

The demo page is off unless INBOX_DEMO is true (`make run` turns it on): it is
a page for trying the inbox, not part of a production front end. It takes its
inbox token from the URL fragment, which browsers do not send, so no token
appears in an access log; its Content-Security-Policy allows only its own
scripts, a second line behind rendering items as text.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, send_from_directory, url_for
from markupsafe import escape

from api.errors import ApiError
from api.openapi import Answer, documented, not_in_contract

bp = Blueprint("browser", __name__)

STATIC = Path(__file__).resolve().parent / "static"
CLIENT = "herald-inbox.js"
DEMO_ASSETS = ("inbox-demo.js", "inbox-demo.css")
PAGE = (STATIC / "inbox-demo.html").read_text(encoding="utf-8")


def _demo_enabled() -> None:
    if not current_app.config["HERALD_SETTINGS"].inbox_demo:
        raise ApiError(404, "not_found", "the inbox demo is off (INBOX_DEMO)")


def _policy(stream_url: str) -> str:
    """Only this origin's scripts and styles; fetches to it, and to the stream's origin."""
    parts = urlsplit(stream_url)
    stream_origin = f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            f"connect-src 'self'{stream_origin}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


@bp.get("/demo/inbox")
@documented(summary="The inbox demo page (when INBOX_DEMO is on)", tag="docs", errors=(404,),
            description="Open it as `/demo/inbox#token=<inbox token>`: the token stays in the "
                        "fragment, which the browser never sends.",
            answers={200: Answer("An HTML page.", media_types=("text/html",))})
def demo_page():
    _demo_enabled()
    stream_url = current_app.config["HERALD_SETTINGS"].inbox_demo_stream_url or ""
    html = PAGE.format(css=url_for("browser.static_file", name="inbox-demo.css"),
                       client=url_for("browser.static_file", name=CLIENT),
                       page=url_for("browser.static_file", name="inbox-demo.js"),
                       stream_url=escape(stream_url))
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _policy(stream_url)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/static/<name>")
@not_in_contract  # files for browsers, like the docs page's assets
def static_file(name: str):
    """The client, always; the demo page's own script and style only while the demo is on."""
    if name in DEMO_ASSETS:
        _demo_enabled()
    elif name != CLIENT:
        raise ApiError(404, "not_found", "no such file")
    return send_from_directory(STATIC, name, max_age=60)
