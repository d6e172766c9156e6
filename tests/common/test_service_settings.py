"""`effective(service)`: the latest saved version of a service's settings over Herald's defaults."""

from __future__ import annotations

from datetime import time

from common.config import settings
from common.db import db
from common.models import ApiKey
from common.quiet_hours import QuietHours
from common.service_settings import effective
from common.service_settings.models import ServiceSettingsVersion
from tests.support.settings import replace


def _save(key: ApiKey, version: int, stored: dict) -> None:
    db.session.add(ServiceSettingsVersion(service=key.service, version=version, settings=stored,
                                          changes=[], api_key_id=key.id,
                                          api_key_prefix=key.key_prefix))
    db.session.commit()


def _key(service: str = "clinic") -> ApiKey:
    from api.keys.service import create_api_key

    key, _secret = create_api_key(service)
    return key


def test_a_service_that_saved_nothing_has_herald_defaults(db):
    config = replace(settings(), default_locale="fr", sms_senders=("+15005550006",))
    in_force = effective("never-saved", config)
    assert in_force.version == 0
    assert in_force.timezone is None
    assert in_force.quiet_hours == config.quiet_hours
    assert in_force.locale == "fr"
    assert in_force.sms_sender is None
    assert in_force.reminder_offsets == {}
    assert in_force.channel_enabled("sms")
    assert in_force.delivery_options == {}


def test_the_latest_version_wins_and_absent_fields_keep_defaults(db):
    key = _key()
    config = replace(settings(), sms_senders=("+15005550006",))
    _save(key, 1, {"timezone": "Europe/Paris", "locale": "de"})
    _save(key, 2, {"timezone": "America/Chicago", "quiet_hours": {"start": "21:30", "end": "07:15"},
                   "email": {"from_name": "Clinic Desk", "reply_to": "desk@example.com"},
                   "sms": {"sender": "+15005550006"}, "reminder_offsets": {"sms": [7200, 600]},
                   "disabled_channels": ["push"]})
    in_force = effective(key.service, config)
    assert in_force.version == 2
    assert in_force.timezone == "America/Chicago"
    assert in_force.quiet_hours == QuietHours(time(21, 30), time(7, 15))
    assert in_force.locale == config.default_locale  # version 2 names none
    assert (in_force.email_from_name, in_force.email_reply_to) == ("Clinic Desk", "desk@example.com")
    assert in_force.sms_sender == "+15005550006"
    assert in_force.reminder_offsets == {"sms": (7200, 600)}
    assert not in_force.channel_enabled("push") and in_force.channel_enabled("email")
    assert in_force.delivery_options == {
        "email": {"from_name": "Clinic Desk", "reply_to": "desk@example.com"},
        "sms": {"sender": "+15005550006"}}
    assert effective("another-service", config).version == 0


def test_a_sender_the_deployment_no_longer_allows_is_not_used(db):
    key = _key()
    _save(key, 1, {"sms": {"sender": "+15005550006"}})
    assert effective(key.service, replace(settings(), sms_senders=())).sms_sender is None
