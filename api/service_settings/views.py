"""The /v1/service/settings endpoints: the calling service's own defaults, and their versions.

The settings belong to the API key's service. Each PUT replaces the whole
record and is kept as a new version, with what changed and which key saved it.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from api.auth import requires_api_key
from api.openapi import Answer, documented
from api.request_parsing import json_body
from api.service_settings.schema import ServiceSettingsBody, parse_settings
from api.service_settings.serialize import (ServiceSettingsView, SettingsVersions, settings_body,
                                            versions_body)
from api.service_settings.service import list_versions, save_settings
from common import channels
from common.models import utcnow
from common.service_settings import effective, latest_version

bp = Blueprint("service_settings", __name__, url_prefix="/v1/service/settings")


def example_settings(now=None) -> dict:
    # example.com: never a real mailbox.
    return {"timezone": "Europe/Paris", "quiet_hours": {"start": "21:00", "end": "08:00"},
            "locale": "fr", "email": {"from_name": "Clinique du Parc", "reply_to": "accueil@example.com"},
            "reminder_offsets": {"email": ["24h", "2h"]}, "disabled_channels": []}


def _answer(latest=None) -> dict:
    config = current_app.config["HERALD_SETTINGS"]
    service = g.api_key.service
    latest = latest or latest_version(service)
    return settings_body(latest, effective(service, config), config, channels.names())


@bp.get("")
@documented(summary="The service's settings: as saved and as in force", tag="settings",
            answers={200: Answer("The settings.", ServiceSettingsView)})
@requires_api_key
def show():
    return jsonify(_answer())


@bp.put("")
@documented(summary="Replace the service's settings (a new version)", tag="settings",
            body=ServiceSettingsBody, example=example_settings, errors=(409,),
            answers={200: Answer("Saved as the next version.", ServiceSettingsView)})
@requires_api_key
def put():
    stored = parse_settings(json_body(), current_app.config["HERALD_SETTINGS"])
    return jsonify(_answer(save_settings(g.api_key, stored, utcnow())))


@bp.get("/versions")
@documented(summary="Every saved version of the service's settings, newest first", tag="settings",
            answers={200: Answer("The versions (the newest 100).", SettingsVersions)})
@requires_api_key
def versions():
    return jsonify(versions_body(list_versions(g.api_key.service)))
