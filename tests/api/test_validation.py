"""POST /v1/notifications refuses malformed requests with one error shape and stores nothing."""

from __future__ import annotations

import json

import pytest

from common.config import settings
from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.clock import days_ahead, naive
from tests.support.factories import email_body, push_body, sms_body


def without(body: dict, name: str) -> dict:
    return {key: value for key, value in body.items() if key != name}


def case(name, status, field, headers=None, **request):
    return pytest.param(status, field, headers or {}, request, id=name)


MALFORMED = [
    case("non-JSON content type", 415, "Content-Type",
         data="channel=push&to=t", content_type="application/x-www-form-urlencoded"),
    case("invalid JSON", 400, "body", data='{"channel": "push",', content_type="application/json"),
    case("JSON array body", 400, "body", json=[push_body()]),
    case("JSON null body", 400, "body", data="null", content_type="application/json"),
    case("JSON nested deeper than the parser goes", 400, "body",
         data="[" * 100_000, content_type="application/json"),
    case("missing channel", 422, "channel", json=without(push_body(), "channel")),
    case("unknown channel", 422, "channel", json={**push_body(), "channel": "pigeon"}),
    case("unknown top-level field", 422, "colour", json=push_body(colour="blue")),
    case("unknown content field", 422, "content.colour",
         json=push_body(content={"body": "Hello", "colour": "blue"})),
    case("missing to", 422, "to", json=without(sms_body(), "to")),
    case("bad email address", 422, "to", json=email_body("ada.example.com")),
    case("phone number not E.164", 422, "to", json=sms_body("07700 900123")),
    case("FCM token with spaces", 422, "to", json=push_body("device token")),
    case("FCM token empty", 422, "to", json=push_body("")),
    case("recipient longer than the recipient column", 422, "to", json=push_body("t" * 321)),
    case("html for push", 422, "content.html",
         json=push_body(content={"body": "Hello", "html": "<p>Hello</p>"})),
    case("data for sms", 422, "content.data",
         json=sms_body(content={"body": "Hello", "data": {"k": "v"}})),
    case("missing subject for email", 422, "content.subject",
         json=email_body(content={"body": "Hi Ada"})),
    case("blank body", 422, "content.body", json=sms_body(content={"body": " \n\t "})),
    # Blank means no visible character, whatever the characters are.
    *[case(f"body of only {name}", 422, "content.body", json=sms_body(content={"body": text}))
      for name, text in (("zero-width spaces", "\u200b\u200b"), ("byte order marks", "\ufeff"),
                         ("word joiners", "\u2060 \u2060"), ("Braille blanks", "\u2800\u2800"),
                         ("combining accents", "\u0301\u0308"), ("Hangul fillers", "\u3164\u115f"),
                         ("bidi marks and tags", "\u200e\u202e\U000e0041"),
                         ("ideographic spaces", "\u3000\u3000"), ("variation selectors", "\ufe0f"))],
    case("invisible push title", 422, "content.title",
         json=push_body(content={"title": "\u200b", "body": "Hello"})),
    case("invisible email subject", 422, "content.subject",
         json=email_body(content={"subject": "\ufeff\u2060", "body": "Hi Ada"})),
    case("body is a number", 422, "content.body", json=push_body(content={"body": 42})),
    case("data value is not a string", 422, "content.data.count",
         json=push_body(content={"body": "Hello", "data": {"count": 3}})),
    case("unknown priority", 422, "priority", json=push_body(priority="urgent")),
    case("NUL character in body", 422, "content.body", json=push_body(content={"body": "a\x00b"})),
    case("unpaired surrogate in body", 422, "content.body",
         data='{"channel": "sms", "to": "+447700900123", "content": {"body": "\\ud800"}}',
         content_type="application/json"),
    case("unknown timezone name", 422, "timezone", json=push_body(timezone="Mars/Olympus_Mons")),
    case("send_at not ISO 8601", 422, "send_at", json=push_body(send_at="next tuesday")),
    case("naive send_at without timezone", 422, "send_at",
         json=push_body(send_at=naive(days_ahead(hour=9)))),
    case("send_at out of range in UTC", 422, "send_at", json=push_body(send_at="0001-01-01T00:00:00+01:00")),
    case("empty reference", 422, "reference", json=push_body(reference="")),
    case("oversized sms body", 413, "content.body", json=sms_body(content={"body": "x" * 1_601})),
    case("oversized email subject", 413, "content.subject",
         json=email_body(content={"subject": "s" * 256, "body": "Hi Ada"})),
    case("oversized push data", 413, "content.data",
         json=push_body(content={"body": "Hello", "data": {"blob": "x" * 3_500}})),
    case("request over MAX_REQUEST_BYTES", 413, "body",
         json=email_body(content={"subject": "Hi", "body": "b", "html": "x" * settings().max_request_bytes})),
    case("idempotency key too long", 422, "Idempotency-Key",
         headers={"Idempotency-Key": "k" * 256}, json=push_body()),
    case("idempotency key empty", 422, "Idempotency-Key", headers={"Idempotency-Key": ""}, json=push_body()),
    case("NUL in idempotency key", 422, "Idempotency-Key",
         headers={"Idempotency-Key": "order\x0042"}, json=push_body()),
    case("missing Authorization", 401, "Authorization", headers={"Authorization": None}, json=push_body()),
    case("Authorization not Bearer", 401, "Authorization",
         headers={"Authorization": "Basic dXNlcjpwYXNz"}, json=push_body()),
    case("unknown API key", 401, "Authorization",
         headers={"Authorization": "Bearer hrd_live_not-a-key"}, json=push_body()),
]


def _headers(auth: dict, overrides: dict) -> dict:
    # Every request carries a valid key, so "no idempotency row" is a real check.
    headers = {**auth, "Idempotency-Key": "validation-key", **overrides}
    return {name: value for name, value in headers.items() if value is not None}


@pytest.mark.parametrize("status, field, headers, request_args", MALFORMED)
def test_malformed_request_is_refused_naming_the_field_and_stores_nothing(
    client, auth, status, field, headers, request_args
):
    response = client.post("/v1/notifications", headers=_headers(auth, headers), **request_args)

    assert_error(response, status, field)
    assert stored_counts() == NOTHING_STORED


def test_the_same_headers_with_a_valid_body_store_a_notification(client, auth):
    # The control for the test above: these headers do lead to stored rows.
    response = client.post("/v1/notifications", headers=_headers(auth, {}), json=push_body())

    assert response.status_code == 202
    assert stored_counts() == {"notifications": 1, "notification_events": 1, "idempotency_keys": 1}


def test_every_problem_in_a_request_is_named(client, auth):
    body = {"channel": "sms", "to": "12345", "content": {"body": ""}, "timezone": "Nowhere"}

    error = assert_error(client.post("/v1/notifications", json=body, headers=auth), 422)

    assert set(error["fields"]) == {"to", "content.body", "timezone"}


def odd(name, raw, status, code=None, fields=()):
    """An odd body and its own answer: the status, the error code and exactly the fields named."""
    return pytest.param(raw if isinstance(raw, str) else json.dumps(raw), status, code, set(fields),
                        id=name)


NOT_AN_OBJECT = (400, "bad_request", ["body"])
NOT_JSON = (400, "invalid_json", ["body"])
INVALID = (422, "invalid_request")

ODD_BODIES = [
    odd("null", "null", *NOT_AN_OBJECT), odd("string", '"string"', *NOT_AN_OBJECT),
    odd("number", "42", *NOT_AN_OBJECT), odd("float", "3.5", *NOT_AN_OBJECT),
    odd("true", "true", *NOT_AN_OBJECT), odd("empty array", "[]", *NOT_AN_OBJECT),
    odd("empty object", "{}", *INVALID, ["channel", "content"]),
    odd("empty key", '{"": ""}', *INVALID, ["channel", "content", "body"]),
    odd("nested garbage", {"channel": {"nested": [1, {"deeper": None}]}}, *INVALID,
        ["channel", "content"]),
    odd("wrong containers", {"channel": "push", "to": ["t"], "content": "x"}, *INVALID,
        ["to", "content"]),
    odd("object as body", {"channel": "push", "to": "t", "content": {"body": {"a": [1, [2]]}}},
        *INVALID, ["content.body"]),
    odd("huge numbers", {"channel": 10**30, "to": -(10**30), "content": {"body": 1.5e300}},
        *INVALID, ["channel", "to", "content.body"]),
    # Python refuses to parse an integer this long, so the body is not JSON to Herald.
    odd("5,000-digit int", '{"channel": "push", "to": "t", "content": {"body": "b"}, "priority": 1'
        + "0" * 5_000 + "}", *NOT_JSON),
    odd("float overflow", '{"channel": 1e400}', *INVALID, ["channel", "content"]),
    odd("NaN", '{"channel": "push", "to": "t", "content": {"body": "b"}, "priority": NaN}',
        *INVALID, ["priority"]),
    # A repeated key is not an error: the last one wins, as in Python's JSON parser.
    odd("duplicate keys",
        '{"channel": "push", "channel": "sms", "to": "+447700900123", "content": {"body": "b"}}',
        202),
    odd("unicode token", push_body("☃", content={"body": "☃ 🎉 \u202e"}), *INVALID, ["to"]),
    odd("astral characters at the limits",
        push_body(content={"body": "🎉" * 2_000}, reference="🎉" * 255),
        413, "content_too_large", ["content"]),
    odd("unicode email local part", email_body("ünïcödé@example.com"), *INVALID, ["to"]),
    odd("unicode email domain", email_body("ada@例え.jp"), *INVALID, ["to"]),
    odd("NUL in a data key", push_body(content={"body": "b", "data": {"k\x00": "v"}}), *INVALID,
        ["content.data.k\x00.[key]"]),
    odd("NUL in the token", push_body("tok\x00en"), *INVALID, ["to"]),
    odd("NUL in the timezone", push_body(timezone="Europe/London\x00"), *INVALID, ["timezone"]),
    odd("NUL in send_at", push_body(send_at=naive(days_ahead(hour=9)) + "\x00"), *INVALID,
        ["send_at"]),
    odd("local year 1 before UTC year 1",
        push_body(send_at="0001-01-01T00:00:00", timezone="Asia/Tokyo"), *INVALID, ["send_at"]),
    odd("local 9999 after UTC 9999",
        push_body(send_at="9999-12-31T23:59:59", timezone="America/Los_Angeles"), *INVALID,
        ["send_at"]),
    odd("last representable send_at", push_body(send_at="9999-12-31T23:59:59+00:00"), *INVALID,
        ["send_at"]),
    odd("February 30th", push_body(send_at=f"{days_ahead(365).year}-02-30T00:00:00Z"), *INVALID,
        ["send_at"]),
    odd("empty timezone", push_body(timezone=""), *INVALID, ["timezone"]),
    odd("long reference", push_body(reference="r" * 10_000), *INVALID, ["reference"]),
    odd("unpaired surrogate token", '{"channel": "push", "to": "\\udfff", "content": {"body": "b"}}',
        *INVALID, ["to"]),
    odd("byte order mark", "\ufeff" + json.dumps(push_body()), 202),
    odd("unclosed braces", "{" * 50_000, *NOT_JSON),
]


@pytest.mark.parametrize("raw, status, code, fields", ODD_BODIES)
def test_each_odd_body_gets_its_own_answer(client, auth, raw, status, code, fields):
    response = client.post("/v1/notifications", data=raw, content_type="application/json",
                           headers=auth)

    if status == 202:
        assert response.status_code == 202, response.get_data(as_text=True)
        assert stored_counts()["notifications"] == 1
        return
    error = assert_error(response, status)
    assert (error["code"], set(error["fields"])) == (code, fields)
    assert stored_counts() == NOTHING_STORED


@pytest.mark.parametrize("text", ["\u200bHi\u200b", "\u2800.", "e\u0301", "🎉", "\u3000字"])
def test_text_with_a_visible_character_among_invisible_ones_is_not_blank(client, auth, text):
    response = client.post("/v1/notifications", json=sms_body(content={"body": text}), headers=auth)

    assert response.status_code == 202, response.get_data(as_text=True)
