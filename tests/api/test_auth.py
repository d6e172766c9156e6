"""API keys: every endpoint needs one; the CLI makes them; only their hash is stored."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update

from api.keys.service import hash_key
from common.models import ApiKey, utcnow
from tests.api.helpers import assert_error

ENDPOINTS = [
    ("post", "/v1/notifications"),
    ("get", "/v1/notifications"),
    ("get", f"/v1/notifications/{uuid.uuid4()}"),
    ("post", f"/v1/notifications/{uuid.uuid4()}/cancel"),
    ("post", f"/v1/notifications/{uuid.uuid4()}/send-now"),
]


@pytest.mark.parametrize("method, path", ENDPOINTS)
@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer    ", "Basic dXNlcjpwYXNz", "Token hrd_live_x", "hrd_live_x",
    "Bearer hrd_live_unknown",
], ids=["missing", "empty", "no key", "blank key", "basic", "other scheme", "no scheme", "unknown key"])
def test_requests_without_a_valid_key_are_401(client, method, path, header):
    headers = {} if header is None else {"Authorization": header}

    response = getattr(client, method)(path, headers=headers)

    assert assert_error(response, 401, "Authorization")["code"] == "unauthorized"


def test_a_revoked_key_is_401(client, auth, db):
    assert client.get("/v1/notifications", headers=auth).status_code == 200
    db.session.execute(update(ApiKey).values(revoked_at=utcnow()))
    db.session.commit()

    assert_error(client.get("/v1/notifications", headers=auth), 401, "Authorization")


def test_the_scheme_is_case_insensitive(client, api_key):
    assert client.get("/v1/notifications", headers={"Authorization": f"bearer {api_key}"}).status_code == 200


def create_key(app, *args):
    result = app.test_cli_runner().invoke(args=["keys", "create", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_cli_prints_a_key_that_authenticates(app, client, db):
    output = create_key(app, "billing")

    secret = output.strip().splitlines()[-1]
    assert secret.startswith("hrd_live_")
    assert "billing" in output
    assert client.get("/v1/notifications", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_the_cli_quiet_flag_prints_only_the_key(app, client, db):
    output = create_key(app, "billing", "--quiet")

    assert output.count("\n") == 1
    headers = {"Authorization": f"Bearer {output.strip()}"}
    assert client.get("/v1/notifications", headers=headers).status_code == 200


def test_the_cli_makes_test_keys(app, db):
    secret = create_key(app, "billing", "--kind", "test", "--quiet").strip()

    assert secret.startswith("hrd_test_")
    assert db.session.scalar(select(ApiKey.kind).where(ApiKey.key_hash == hash_key(secret))) == "test"


def test_the_cli_refuses_an_unknown_kind(app, db):
    result = app.test_cli_runner().invoke(args=["keys", "create", "billing", "--kind", "gold"])

    assert result.exit_code != 0
    assert db.session.scalar(select(ApiKey).where(ApiKey.service == "billing")) is None


def test_the_database_stores_only_the_hash_of_the_key(app, db):
    secret = create_key(app, "billing", "--quiet").strip()

    db.session.rollback()
    key = db.session.scalars(select(ApiKey).where(ApiKey.service == "billing")).one()
    assert key.key_hash == hash_key(secret)
    stored = [str(getattr(key, column.key)) for column in ApiKey.__table__.columns]
    assert not any(secret in value for value in stored)
    assert secret.startswith(key.key_prefix) and len(key.key_prefix) < len(secret) // 3
