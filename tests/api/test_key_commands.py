"""`flask --app api keys list` and `keys revoke`: what operators see of keys, and revocation taking effect at once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from api.keys.service import create_api_key, hash_key
from common.models import ApiKey
from tests.api.helpers import assert_error


def run(app, *args, ok: bool = True) -> str:
    result = app.test_cli_runner().invoke(args=["keys", *args])
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_list_shows_each_key_without_its_secret_or_hash(app, db):
    live, live_secret = create_api_key("billing")
    test, test_secret = create_api_key("billing", kind="test")
    other, other_secret = create_api_key("shipping")

    output = run(app, "list")

    lines = output.strip().splitlines()
    assert lines[0].split() == ["ID", "PREFIX", "SERVICE", "KIND", "CREATED", "REVOKED"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[str(live.id)][1:4] == [f"{live.key_prefix}...", "billing", "live"]
    assert rows[str(test.id)][1:4] == [f"{test.key_prefix}...", "billing", "test"]
    assert rows[str(other.id)][1:4] == [f"{other.key_prefix}...", "shipping", "live"]
    assert all(row[5] == "-" for row in rows.values())
    for key, secret in ((live, live_secret), (test, test_secret), (other, other_secret)):
        assert secret[len(key.key_prefix):len(key.key_prefix) + 6] not in output
        assert hash_key(secret) not in output and hash_key(secret)[:8] not in output


def test_list_can_show_one_service(app, db):
    mine, _ = create_api_key("billing")
    theirs, _ = create_api_key("shipping")

    output = run(app, "list", "--service", "billing")

    assert str(mine.id) in output and str(theirs.id) not in output


@pytest.mark.parametrize("named_by", ["id", "prefix", "shown prefix", "secret"])
def test_a_revoked_key_is_refused_at_once_and_others_still_work(app, client, db, named_by):
    key, secret = create_api_key("billing")
    _sibling, sibling_secret = create_api_key("billing")
    assert client.get("/v1/notifications", headers=bearer(secret)).status_code == 200
    name = {"id": str(key.id), "prefix": key.key_prefix, "shown prefix": f"{key.key_prefix}...",
            "secret": secret}[named_by]
    # Two keys can share the 12 shown characters; name this one by id then.
    if named_by != "id" and db.session.scalar(
            select(ApiKey).where(ApiKey.key_prefix == key.key_prefix, ApiKey.id != key.id)):
        pytest.skip("the two keys share their prefix")

    output = run(app, "revoke", name)

    assert f"Revoked live key {key.key_prefix}..." in output and secret not in output
    assert_error(client.get("/v1/notifications", headers=bearer(secret)), 401, "Authorization")
    assert client.get("/v1/notifications", headers=bearer(sibling_secret)).status_code == 200
    db.session.rollback()
    assert db.session.get(ApiKey, key.id).revoked_at is not None
    listed = [line.split() for line in run(app, "list").splitlines() if str(key.id) in line]
    assert listed[0][5] != "-"


def test_revoking_twice_says_so_and_changes_nothing(app, db):
    key, _ = create_api_key("billing")
    run(app, "revoke", str(key.id))
    db.session.rollback()
    first = db.session.get(ApiKey, key.id).revoked_at

    output = run(app, "revoke", str(key.id))

    assert "already revoked" in output
    db.session.rollback()
    assert db.session.get(ApiKey, key.id).revoked_at == first


def test_an_ambiguous_prefix_revokes_nothing_and_names_the_ids(app, db):
    first, _ = create_api_key("billing")
    second, _ = create_api_key("shipping")

    output = run(app, "revoke", "hrd_live_", ok=False)

    assert str(first.id) in output and str(second.id) in output
    db.session.rollback()
    assert db.session.scalars(select(ApiKey.revoked_at)).all() == [None, None]


@pytest.mark.parametrize("name", [str(uuid.uuid4()), "hrd_live_zzz_not_a_key_at_all", "billing", "%"])
def test_an_unknown_key_revokes_nothing(app, db, name):
    _key, secret = create_api_key("billing")

    output = run(app, "revoke", name, ok=False)

    assert "Error" in output and secret not in output
    db.session.rollback()
    assert db.session.scalars(select(ApiKey.revoked_at)).all() == [None]
