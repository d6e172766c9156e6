"""JSON log lines and address masking (common/logs.py), and the LOG_FORMAT setting."""

from __future__ import annotations

import io
import json
import logging

import pytest

from common import logs
from common.config import ConfigError, load_settings


def _record(message="%s sent", *args, exc_info=None, **extra) -> logging.LogRecord:
    logger = logging.getLogger("workers.delivery")
    return logger.makeRecord(logger.name, logging.INFO, __file__, 1, message, args or ("push",),
                             exc_info, extra=extra or None)


def test_a_record_is_one_json_object_with_its_fields_at_the_top_level():
    record = _record(**logs.fields(event="delivery", notification_id="n-1", channel="push",
                                   attempt=2, worker="push@host", outcome="sent", reason=None))

    line = logs.JsonFormatter().format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "push sent"
    assert entry["level"] == "info" and entry["logger"] == "workers.delivery"
    assert entry["ts"].endswith("Z") and "T" in entry["ts"]
    assert isinstance(entry["process"], int)
    assert {k: entry[k] for k in ("event", "notification_id", "channel", "attempt", "worker",
                                  "outcome", "reason")} == {
        "event": "delivery", "notification_id": "n-1", "channel": "push", "attempt": 2,
        "worker": "push@host", "outcome": "sent", "reason": None}
    assert "task" not in entry  # not inside a Celery task


def test_a_field_never_overrides_the_line_itself():
    entry = json.loads(logs.JsonFormatter().format(_record(**logs.fields(message="other", level="x"))))

    assert (entry["message"], entry["level"]) == ("push sent", "info")


def test_a_traceback_and_a_multi_line_message_stay_on_one_line():
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        import sys
        record = _record("first\nsecond %s", "é", exc_info=sys.exc_info())

    line = logs.JsonFormatter().format(record)

    assert line.count("\n") == 0
    entry = json.loads(line)
    assert entry["message"] == "first\nsecond é"
    assert "RuntimeError: boom" in entry["exception"]


def test_values_json_cannot_encode_are_written_as_text():
    import uuid

    nid = uuid.uuid4()
    entry = json.loads(logs.JsonFormatter().format(_record(**logs.fields(notification_id=nid))))

    assert entry["notification_id"] == str(nid)


def test_use_json_keeps_the_handlers_and_changes_their_format():
    stream = io.StringIO()
    logger = logging.getLogger("tests.logs.use_json")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logs.use_json(logger)
        logger.warning("careful %d", 3, extra=logs.fields(channel="sms"))
    finally:
        logger.removeHandler(handler)

    entry = json.loads(stream.getvalue())
    assert (entry["message"], entry["level"], entry["channel"]) == ("careful 3", "warning", "sms")


@pytest.mark.parametrize("channel, address, masked", [
    ("email", "alice@example.com", "a***@example.com"),
    ("email", "not-an-address", "***"),
    ("sms", "+447700900123", "+4477******23"),
    ("sms", "+1234", "***34"),
    ("push", "fcm-registration-token-abcdef", "fcm-re…"),
])
def test_addresses_are_masked_for_logs(channel, address, masked):
    assert logs.mask_recipient(channel, address) == masked
    assert address not in masked


def test_no_address_stays_no_address():
    assert logs.mask_recipient("email", None) is None
    assert logs.mask_recipient("sms", "") == ""


def test_the_providers_mask_as_the_logs_do():
    from workers.providers.smtp import mask_address
    from workers.providers.twilio_sms import mask_phone

    assert mask_address("bob@example.org") == logs.mask_recipient("email", "bob@example.org")
    assert mask_phone("+15005550006") == logs.mask_recipient("sms", "+15005550006")


@pytest.mark.parametrize("value, expected", [(None, "text"), ("json", "json"), ("JSON", "json"),
                                             ("text", "text")])
def test_log_format_setting(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("LOG_FORMAT", raising=False)
    else:
        monkeypatch.setenv("LOG_FORMAT", value)

    assert load_settings().log_format == expected


def test_an_unknown_log_format_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "xml")

    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_settings()
