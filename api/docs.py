"""GET /docs: Swagger UI over /openapi.json, from a PyPI package's bundled files (no CDN)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

from api.errors import ApiError
from api.openapi import Answer, documented, not_in_contract

bp = Blueprint("docs", __name__)

ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")

# No inline script: the start-up code is a file of its own, so a strict
# Content-Security-Policy in front of the API does not break the page.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Herald API</title>
  <link rel="stylesheet" href="{css}">
  <link rel="icon" type="image/png" href="{icon}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{bundle}"></script>
  <script src="{start}"></script>
</body>
</html>
"""

START = """window.ui = SwaggerUIBundle({
  url: %s,
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
});
"""


@bp.get("/docs")
@documented(summary="This API's documentation (Swagger UI)", tag="docs",
            answers={200: Answer("An HTML page.", media_types=("text/html",))})
def page():
    html = PAGE.format(css=url_for("docs.asset", name="swagger-ui.css"),
                       icon=url_for("docs.asset", name="favicon-32x32.png"),
                       bundle=url_for("docs.asset", name="swagger-ui-bundle.js"),
                       start=url_for("docs.start"))
    return Response(html, mimetype="text/html")


@bp.get("/docs/start.js")
@not_in_contract
def start():
    return Response(START % json.dumps(url_for("openapi.openapi_json")), mimetype="text/javascript")


@bp.get("/docs/<name>")
@not_in_contract
def asset(name: str):
    if name not in ASSETS:
        raise ApiError(404, "not_found", "no such file")
    return send_from_directory(swagger_ui_path, name, max_age=3600)
