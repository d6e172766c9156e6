"""PUT/GET/DELETE /v1/recipients/{external_id}: the whole record, validated, per calling service."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from common.models import Recipient
from tests.api.helpers import assert_error

FULL = {
    "timezone": "America/New_York",
    "locale": "en-US",
    "email": "ada@example.com",
    "phone": "+12025550143",
    "telegram_chat_id": "-1001234567890",
    "push_tokens": ["token-a", "token-b"],
    "quiet_hours": {"start": "21:00", "end": "07:00"},
    "opted_out": ["sms"],
}
FIELDS = {"external_id", "timezone", "locale", "email", "phone", "telegram_chat_id", "push_tokens",
          "quiet_hours", "opted_out", "created_at", "updated_at"}


def stored_recipients(db) -> list[Recipient]:
    db.session.rollback()  # read what the requests committed
    return list(db.session.execute(select(Recipient).order_by(Recipient.service)).scalars())


def test_crud_round_trip(client, auth, db):
    created = client.put("/v1/recipients/user-42", json=FULL, headers=auth)

    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.headers["Location"] == "/v1/recipients/user-42"
    body = created.get_json()
    assert set(body) == FIELDS
    assert {k: body[k] for k in FULL} == FULL
    assert body["external_id"] == "user-42"
    assert body["created_at"].endswith("Z") and body["created_at"] == body["updated_at"]

    shown = client.get("/v1/recipients/user-42", headers=auth)
    assert shown.status_code == 200
    assert shown.get_json() == body

    replaced = client.put("/v1/recipients/user-42", json={"email": "ada@example.org"}, headers=auth)
    assert replaced.status_code == 200
    after = replaced.get_json()
    # The whole record is replaced: what the body leaves out is cleared.
    assert after == {**body, "timezone": None, "locale": None, "email": "ada@example.org",
                     "phone": None, "telegram_chat_id": None, "push_tokens": [], "quiet_hours": None,
                     "opted_out": [], "updated_at": after["updated_at"]}
    assert after["created_at"] == body["created_at"] and after["updated_at"] > body["updated_at"]
    assert client.get("/v1/recipients/user-42", headers=auth).get_json() == after

    deleted = client.delete("/v1/recipients/user-42", headers=auth)
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert_error(client.get("/v1/recipients/user-42", headers=auth), 404)
    assert_error(client.delete("/v1/recipients/user-42", headers=auth), 404)
    assert stored_recipients(db) == []


def test_an_empty_body_makes_a_record_with_nothing_set(client, auth):
    response = client.put("/v1/recipients/blank", json={}, headers=auth)

    assert response.status_code == 201
    body = response.get_json()
    assert {k: body[k] for k in FULL} == {"timezone": None, "locale": None, "email": None,
                                          "phone": None, "telegram_chat_id": None, "push_tokens": [],
                                          "quiet_hours": None, "opted_out": []}


def test_nulls_are_accepted_for_every_field(client, auth):
    response = client.put("/v1/recipients/nulls", json={k: None for k in FULL}, headers=auth)

    assert response.status_code == 201
    assert response.get_json()["push_tokens"] == [] and response.get_json()["opted_out"] == []


def test_repeated_tokens_and_channels_are_stored_once_in_first_given_order(client, auth, db):
    body = {"push_tokens": ["b", "a", "b", "c", "a"], "opted_out": ["sms", "push", "sms"]}

    response = client.put("/v1/recipients/dupes", json=body, headers=auth)

    assert response.status_code == 201
    assert response.get_json()["push_tokens"] == ["b", "a", "c"]
    assert response.get_json()["opted_out"] == ["sms", "push"]
    [row] = stored_recipients(db)
    assert row.push_tokens == ["b", "a", "c"] and row.opted_out == ["sms", "push"]


def test_equal_quiet_hours_are_kept_as_an_explicit_no_window(client, auth):
    # Unlike null (the service's default applies), start == end means "no quiet hours".
    response = client.put("/v1/recipients/night-owl",
                          json={"quiet_hours": {"start": "00:00", "end": "00:00"}}, headers=auth)

    assert response.status_code == 201
    assert response.get_json()["quiet_hours"] == {"start": "00:00", "end": "00:00"}


def test_put_is_idempotent(client, auth, db):
    first = client.put("/v1/recipients/same", json=FULL, headers=auth)
    second = client.put("/v1/recipients/same", json=FULL, headers=auth)
    third = client.put("/v1/recipients/same", json=FULL, headers=auth)

    assert [r.status_code for r in (first, second, third)] == [201, 200, 200]
    def record(response) -> dict:
        return {k: v for k, v in response.get_json().items() if k != "updated_at"}

    assert record(first) == record(second) == record(third)
    assert len(stored_recipients(db)) == 1


def test_services_are_kept_apart(client, auth, other_auth, db):
    mine = client.put("/v1/recipients/shared-id", json=FULL, headers=auth)

    assert_error(client.get("/v1/recipients/shared-id", headers=other_auth), 404)
    assert_error(client.delete("/v1/recipients/shared-id", headers=other_auth), 404)
    theirs = client.put("/v1/recipients/shared-id", json={"email": "someone@example.net"},
                        headers=other_auth)

    assert mine.status_code == 201 and theirs.status_code == 201  # a different record
    assert client.get("/v1/recipients/shared-id", headers=auth).get_json() == mine.get_json()
    assert client.get("/v1/recipients/shared-id", headers=other_auth).get_json()["email"] == \
        "someone@example.net"
    assert client.delete("/v1/recipients/shared-id", headers=other_auth).status_code == 204
    assert client.get("/v1/recipients/shared-id", headers=auth).status_code == 200
    assert [(r.service, r.email) for r in stored_recipients(db)] == [("test-service", FULL["email"])]


def test_ids_may_hold_slashes_and_any_unicode(client, auth):
    for external_id, path in (("tenant/42", "tenant/42"),
                              ("ünï cödé ☃", "%C3%BCn%C3%AF%20c%C3%B6d%C3%A9%20%E2%98%83")):
        created = client.put(f"/v1/recipients/{path}", json={"email": "a@example.com"}, headers=auth)
        assert created.status_code == 201
        assert created.get_json()["external_id"] == external_id
        assert client.get(f"/v1/recipients/{path}", headers=auth).get_json()["external_id"] == external_id


def test_the_longest_id_is_accepted(client, auth):
    external_id = "x" * 255
    assert client.put(f"/v1/recipients/{external_id}", json={}, headers=auth).status_code == 201
    assert client.get(f"/v1/recipients/{external_id}", headers=auth).status_code == 200


@pytest.mark.parametrize("method", ["put", "get", "delete"])
@pytest.mark.parametrize("external_id", ["x" * 256, "nul%00byte"], ids=["too long", "NUL"])
def test_unusable_ids_are_refused_naming_external_id(client, auth, db, method, external_id):
    kwargs = {"json": {}} if method == "put" else {}

    response = getattr(client, method)(f"/v1/recipients/{external_id}", headers=auth, **kwargs)

    assert_error(response, 422, "external_id")
    assert stored_recipients(db) == []


INVALID = [
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": 5}, "timezone"),
    ({"locale": "english please"}, "locale"),
    ({"locale": "e"}, "locale"),
    ({"email": "not-an-address"}, "email"),
    ({"phone": "07700 900123"}, "phone"),
    ({"phone": 447700900123}, "phone"),
    ({"telegram_chat_id": "herald_news"}, "telegram_chat_id"),
    ({"telegram_chat_id": "0123456"}, "telegram_chat_id"),
    ({"telegram_chat_id": "@abc"}, "telegram_chat_id"),
    ({"telegram_chat_id": str(2 ** 52)}, "telegram_chat_id"),
    ({"telegram_chat_id": 123456789}, "telegram_chat_id"),  # a string, as `to` takes it
    ({"push_tokens": "token-a"}, "push_tokens"),
    ({"push_tokens": ["token-a", "has space"]}, "push_tokens.1"),
    ({"push_tokens": ["token-a", ""]}, "push_tokens.1"),
    ({"push_tokens": ["token-a", 7]}, "push_tokens.1"),
    ({"push_tokens": ["t" * 321]}, "push_tokens.0"),
    ({"push_tokens": [f"token-{i}" for i in range(21)]}, "push_tokens"),
    ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "quiet_hours.start"),
    ({"quiet_hours": {"start": "22:00", "end": "7:00"}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": "22:00"}}, "quiet_hours.end"),
    ({"quiet_hours": {"start": "22:00", "end": "07:00", "tz": "UTC"}}, "quiet_hours.tz"),
    ({"quiet_hours": "22:00-07:00"}, "quiet_hours"),
    ({"opted_out": ["fax"]}, "opted_out.0"),
    ({"opted_out": "sms"}, "opted_out"),
    ({"email": "nul\u0000@example.com"}, "email"),
    ({"emails": ["ada@example.com"]}, "emails"),
]


@pytest.mark.parametrize("body, field", INVALID,
                         ids=[f"{field}: {body!r:.40}" for body, field in INVALID])
def test_each_problem_is_refused_naming_its_field_and_nothing_is_written(client, auth, db, body, field):
    response = client.put("/v1/recipients/user-1", json=body, headers=auth)

    error = assert_error(response, 422, field)
    assert error["code"] == "invalid_request"
    assert stored_recipients(db) == []


def test_an_invalid_put_leaves_an_existing_record_as_it_was(client, auth):
    before = client.put("/v1/recipients/user-1", json=FULL, headers=auth).get_json()

    response = client.put("/v1/recipients/user-1", json={**FULL, "phone": "12345"}, headers=auth)

    assert_error(response, 422, "phone")
    assert client.get("/v1/recipients/user-1", headers=auth).get_json() == before


def test_every_problem_is_named_at_once(client, auth):
    body = {"timezone": "Nowhere", "email": "x", "push_tokens": ["ok", "not ok"], "colour": "red"}

    error = assert_error(client.put("/v1/recipients/" + "x" * 300, json=body, headers=auth), 422)

    assert set(error["fields"]) == {"external_id", "timezone", "email", "push_tokens.1", "colour"}
    assert error["fields"]["colour"] == "unknown field"


def test_a_body_that_is_not_json_is_refused_with_415(client, auth, db):
    response = client.put("/v1/recipients/user-1", data="email=a@example.com",
                          content_type="application/x-www-form-urlencoded", headers=auth)

    assert_error(response, 415)
    assert stored_recipients(db) == []


@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_a_json_body_that_is_not_an_object_is_refused(client, auth, db, body):
    response = client.put("/v1/recipients/user-1", data=__import__("json").dumps(body),
                          content_type="application/json", headers=auth)

    assert_error(response, 400, "body")
    assert stored_recipients(db) == []


def test_malformed_json_is_refused(client, auth):
    response = client.put("/v1/recipients/user-1", data="{", content_type="application/json",
                          headers=auth)

    assert_error(response, 400, "body")


@pytest.mark.parametrize("method", ["put", "get", "delete"])
def test_an_api_key_is_required(client, method):
    kwargs = {"json": {}} if method == "put" else {}
    assert_error(getattr(client, method)("/v1/recipients/user-1", **kwargs), 401, "Authorization")


def test_concurrent_puts_of_a_new_id_make_one_record_and_never_fail(app, db, api_key):
    """Each request on its own connection; they race to insert the same new id."""
    attempts = 8
    barrier = threading.Barrier(attempts)
    statuses: list[int] = []
    lock = threading.Lock()

    def put(n: int) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.put("/v1/recipients/racer", json={"email": f"racer{n}@example.com"},
                              headers={"Authorization": f"Bearer {api_key}"})
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [200] * (attempts - 1) + [201], statuses
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Recipient)) == 1


def test_a_put_that_loses_the_insert_race_replaces_the_winners_record(app, db, api_key):
    """Another transaction inserts the id after this PUT looked and before it inserted: 200, not 500."""
    from common.models import utcnow

    outcome: dict = {}
    with db.engine.connect() as rival:
        rival.execute(Recipient.__table__.insert().values(
            id=__import__("uuid").uuid4(), service="test-service", external_id="racer",
            email="rival@example.com", push_tokens=[], opted_out=[], created_at=utcnow(),
            updated_at=utcnow()))  # not committed yet: the PUT cannot see it

        def put() -> None:
            outcome["response"] = app.test_client().put(
                "/v1/recipients/racer", json={"email": "mine@example.com"},
                headers={"Authorization": f"Bearer {api_key}"})

        thread = threading.Thread(target=put)
        thread.start()
        wait_until_blocked_on_a_lock(db)
        rival.commit()
        thread.join(timeout=30)

    response = outcome["response"]
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["email"] == "mine@example.com"
    [row] = stored_recipients(db)
    assert row.email == "mine@example.com"


def wait_until_blocked_on_a_lock(db, timeout: float = 10.0) -> None:
    """Until some other session of this database waits on a lock (the PUT's INSERT)."""
    import time

    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        waiting = db.session.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"))
        if waiting:
            return
        time.sleep(0.02)
    raise AssertionError("the PUT never waited on the rival's insert")
