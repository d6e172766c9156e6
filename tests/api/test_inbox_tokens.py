"""Inbox tokens: issued for one recipient of one service; expired, forged and misused ones refused."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from api.inbox.stream_views import HUB
from api.realtime import create_realtime_app
from common.config import settings
from common.inbox import tokens
from common.inbox.store import Inbox
from common.models import utcnow
from tests.api.helpers import assert_error
from tests.api.inbox_helpers import delivered_items, recipient_id, token_headers
from tests.support.settings import replace

ITEM_ACTIONS = [("post", "/read"), ("post", "/unread"), ("post", "/archive"), ("delete", "")]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_is_for_one_recipient_of_one_service_until_its_expiry(client, auth, db):
    before = utcnow()
    response = client.post("/v1/recipients/tenant/42/inbox-token", headers=auth)

    body = response.get_json()
    assert response.status_code == 200 and set(body) == {"token", "expires_at"}
    opened, expires = tokens.opened(body["token"], settings())
    assert opened == Inbox("test-service", "tenant/42")
    expected = before + settings().inbox_token_ttl
    assert abs(expires - expected.timestamp()) <= 2
    assert datetime.fromisoformat(body["expires_at"]) == datetime.fromtimestamp(expires, timezone.utc)


def test_a_token_needs_an_api_key_and_a_recipient_id(client, auth, db):
    assert_error(client.post("/v1/recipients/u1/inbox-token"), 401, "Authorization")
    assert_error(client.post(f"/v1/recipients/{'u' * 256}/inbox-token", headers=auth), 422,
                 "external_id")


def forged_tokens(inbox: Inbox) -> dict[str, str]:
    config = settings()
    good, _ = tokens.issue(inbox, config, utcnow())
    claims = jwt.decode(good, options={"verify_signature": False})
    header, _payload, signature = good.split(".")
    other = jwt.encode({**claims, "sub": "someone-else"}, "x" * 40, algorithm="HS256")
    return {
        "signed with another secret": jwt.encode(claims, "another-secret-" * 3, algorithm="HS256"),
        "payload swapped under the signature": ".".join([header, other.split(".")[1], signature]),
        "unsigned (alg none)": jwt.encode(claims, None, algorithm="none"),
        "not for the inbox": jwt.encode({**claims, "aud": "elsewhere"},
                                        config.inbox_signing_secret(), algorithm="HS256"),
        "not a token": "hrd_live_not-a-jwt",
    }


@pytest.mark.parametrize("path", ["/v1/inbox", "/v1/inbox/count"])
def test_forged_expired_and_missing_tokens_get_401(client, db, path):
    inbox = Inbox("test-service", recipient_id())
    expired, _ = tokens.issue(inbox, settings(), utcnow() - settings().inbox_token_ttl
                              - timedelta(seconds=5))

    assert assert_error(client.get(path, headers=bearer(expired)), 401,
                        "Authorization")["code"] == "token_expired"
    for name, forged in forged_tokens(inbox).items():
        error = assert_error(client.get(path, headers=bearer(forged)), 401, "Authorization")
        assert error["code"] == "unauthorized", name
    assert_error(client.get(path), 401, "Authorization")


def test_an_api_key_does_not_open_an_inbox(client, auth, db):
    assert_error(client.get("/v1/inbox", headers=auth), 401, "Authorization")


def test_the_stream_refuses_the_same_tokens_with_401(db):
    stream = create_realtime_app(settings()).test_client()
    inbox = Inbox("test-service", recipient_id())
    expired, _ = tokens.issue(inbox, settings(), utcnow() - timedelta(days=1))

    assert_error(stream.get("/v1/inbox/stream"), 401, "Authorization")
    assert_error(stream.get(f"/v1/inbox/stream?token={expired}"), 401, "Authorization")
    for forged in forged_tokens(inbox).values():
        assert_error(stream.get("/v1/inbox/stream", headers=bearer(forged)), 401, "Authorization")
    good, _ = tokens.issue(inbox, settings(), utcnow())
    assert_error(stream.get(f"/v1/inbox/stream?token={good}&since=x"), 422, "since")
    assert_error(stream.get(f"/v1/inbox/stream?token={good}&colour=red"), 422, "colour")


def test_a_recipient_never_sees_or_changes_anothers_items(client, auth, other_auth, db):
    alice, bob = recipient_id(), recipient_id()
    [alices] = delivered_items(client, auth, alice, 1)
    delivered_items(client, auth, bob, 2)
    as_bob = token_headers(client, auth, bob)
    # The same recipient id at another service is another inbox.
    as_other_alice = token_headers(client, other_auth, alice)

    for headers in (as_bob, as_other_alice):
        for method, action in ITEM_ACTIONS:
            response = getattr(client, method)(f"/v1/inbox/{alices}{action}", headers=headers)
            assert_error(response, 403)
    assert_error(client.post(f"/v1/inbox/{uuid.uuid4()}/read", headers=as_bob), 404)

    bobs_page = client.get("/v1/inbox?limit=100", headers=as_bob).get_json()
    assert alices not in {item["id"] for item in bobs_page["data"]} and len(bobs_page["data"]) == 2
    assert client.get("/v1/inbox", headers=as_other_alice).get_json()["data"] == []
    alices_page = client.get("/v1/inbox", headers=token_headers(client, auth, alice)).get_json()
    assert [(i["id"], i["read_at"], i["archived_at"]) for i in alices_page["data"]] == [
        (alices, None, None)]


def test_without_the_broker_the_stream_answers_503_in_the_error_shape(db):
    config = replace(settings(), broker_url="amqp://guest:guest@127.0.0.1:1//",
                     publish_timeout=0.5)
    stream = create_realtime_app(config).test_client()
    token, _ = tokens.issue(Inbox("test-service", recipient_id()), config, utcnow())

    try:
        error = assert_error(stream.get("/v1/inbox/stream", headers=bearer(token)), 503)
    finally:
        stream.application.extensions[HUB].stop()  # it would go on trying to reconnect

    assert error["code"] == "unavailable"
