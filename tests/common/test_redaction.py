"""No log line carries an address, a key or a database row's values (common/redaction.py)."""

from __future__ import annotations

import io
import logging
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from common import logs
from common.models import Recipient, utcnow
from common.redaction import redact_every_log_record, scrub

PHONE = "+447700900123"
EMAIL = "ada.lovelace@example.com"
API_KEY = "hrd_live_" + uuid.uuid4().hex


@pytest.fixture
def captured():
    """What a logger writes, in the plain format and in JSON, with redaction installed."""
    redact_every_log_record()
    logger = logging.getLogger(f"tests.redaction.{uuid.uuid4().hex}")
    plain, json_lines = io.StringIO(), io.StringIO()
    for stream, formatter in ((plain, logging.Formatter("%(message)s")),
                              (json_lines, logs.JsonFormatter())):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, lambda: plain.getvalue() + json_lines.getvalue()


def test_scrub_masks_addresses_numbers_and_keys_and_keeps_the_rest():
    stamp = utcnow().isoformat()  # a time in the line is data, not a number to mask
    line = scrub(f"GET /v1/recipients/{EMAIL} from {PHONE} with {API_KEY} at {stamp}")

    assert line == ("GET /v1/recipients/a***@example.com from +4477******23 with hrd_live_[hidden] "
                    f"at {stamp}")


def test_scrub_masks_inbox_tokens_wherever_they_are():
    from common.inbox.store import Inbox
    from common.inbox.tokens import issue
    from common.config import settings

    token, _ = issue(Inbox("shop", "user-1"), settings(), utcnow())

    line = scrub(f"Error handling request GET /v1/inbox/stream?token={token}&since=3")

    assert line == "Error handling request GET /v1/inbox/stream?token=[inbox token]&since=3"


def test_messages_and_their_arguments_are_masked(captured):
    logger, written = captured

    logger.info("sending to %s and %s", EMAIL, PHONE)
    logger.warning(f"key {API_KEY} refused")

    output = written()
    for secret in (EMAIL, PHONE, API_KEY):
        assert secret not in output
    assert "a***@example.com" in output and "+4477******23" in output


def _fail(db, statement, **params) -> SQLAlchemyError:
    try:
        db.session.execute(text(statement), params)
    except SQLAlchemyError as error:
        db.session.rollback()
        return error
    raise AssertionError("the statement succeeded")


def test_a_unique_violation_is_logged_without_the_row(db, captured):
    logger, written = captured
    for _ in range(2):
        db.session.add(Recipient(service="svc", external_id=EMAIL, phone=PHONE,
                                 created_at=utcnow(), updated_at=utcnow()))
        try:
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()
            logger.exception("could not store the recipient")

    output = written()
    assert EMAIL not in output and PHONE not in output
    assert "a***" not in output  # not even masked: the values are simply not there
    assert "UniqueViolation" in output and "SQLSTATE 23505" in output
    assert "recipients_service_external_id_key" in output
    assert "SQL: INSERT INTO recipients" in output


@pytest.mark.parametrize("statement", [
    "SELECT CAST(:value AS uuid)",                          # the value quoted in the first line
    "INSERT INTO recipients (id, service, external_id, phone, push_tokens, opted_out, created_at, "
    "updated_at) VALUES (gen_random_uuid(), 'svc', 'x', :value, '[]', '[]', now(), now())",  # too long
])
def test_a_database_error_is_logged_as_its_code_not_its_message(db, captured, statement):
    logger, written = captured
    value = f"device-{uuid.uuid4().hex}"  # no shape the maskers know: only describing the error hides it
    error = _fail(db, statement, value=value)

    try:
        raise RuntimeError("while handling a request") from error
    except RuntimeError:
        logger.exception("unhandled error")

    output = written()
    assert value not in output and value[:13] not in output
    assert "SQLSTATE" in output and "RuntimeError: while handling a request" in output


def test_engine_hides_bound_parameters(db):
    error = _fail(db, "SELECT CAST(:value AS integer)", value=EMAIL)

    assert "parameters hidden" in str(error)


def test_a_database_error_given_as_an_argument_or_quoted_in_the_message_is_described(db, captured):
    logger, written = captured
    value = f"device-{uuid.uuid4().hex}"
    error = _fail(db, "SELECT CAST(:value AS uuid)", value=value)

    logger.warning("database unavailable, trying again: %s", error)
    try:
        raise error
    except SQLAlchemyError as raised:
        # As Celery reports a task's failure: the exception's repr in the message, and its traceback.
        logger.error("Task %(name)s raised unexpected: %(exc)s",
                     {"name": "herald.deliver.sms[1]", "exc": repr(raised)}, exc_info=True)

    output = written()
    assert value not in output and value[:13] not in output
    assert output.count("InvalidTextRepresentation; SQLSTATE 22P02") >= 4  # 2 messages, 2 tracebacks
