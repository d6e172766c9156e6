"""The /v1/recipients endpoints: a service's recipients and their preferences."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("recipients", __name__, url_prefix="/v1/recipients")
