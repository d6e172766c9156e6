"""The /v1/reminders endpoints: notifications scheduled relative to an event."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reminders", __name__, url_prefix="/v1/reminders")
