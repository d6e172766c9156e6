"""POST /v1/notifications on the telegram channel: which chats `to` takes, the `text`, and Telegram's limit."""

from __future__ import annotations

import pytest

from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.broker import purge, take_published
from tests.support.factories import fetch

TEXT = "Your table for two is booked for 19:30."


def telegram(to: str = "5550123456", **content) -> dict:
    return {"channel": "telegram", "to": to, "content": content or {"text": TEXT}}


@pytest.fixture
def queue(broker):
    purge("telegram")
    yield
    purge("telegram")


@pytest.mark.parametrize("to", ["5550123456", "-4012345678", "-1001234567890", "@herald_updates"])
def test_a_message_to_a_chat_is_accepted_stored_and_published_on_the_telegram_queue(client, auth, queue, to):
    response = client.post("/v1/notifications", json=telegram(to), headers=auth)

    assert response.status_code == 202, response.get_json()
    nid = response.get_json()["id"]
    row = fetch(nid)
    assert (row.channel, row.recipient, row.body, row.title, row.status) == ("telegram", to, TEXT, None,
                                                                             "scheduled")
    assert [task.args[0] for task in take_published("telegram")] == [nid]
    shown = client.get(f"/v1/notifications/{nid}", headers=auth).get_json()
    assert (shown["channel"], shown["to"], shown["content"]) == ("telegram", to, {"text": TEXT})


@pytest.mark.parametrize("to", ["herald_updates", "0123", "+447700900123", "@abc", "12 34", "@herald-updates",
                                str(2 ** 52)])
def test_a_chat_telegram_does_not_know_is_422_naming_to(client, auth, to):
    error = assert_error(client.post("/v1/notifications", json=telegram(to), headers=auth), 422, "to")

    assert "not a Telegram chat" in error["fields"]["to"]
    assert stored_counts() == NOTHING_STORED


@pytest.mark.parametrize("content, field, problem", [
    ({"body": TEXT}, "content.text", "required for the telegram channel"),
    ({"text": TEXT, "body": TEXT}, "content.body", "not used by the telegram channel"),
    ({"text": TEXT, "title": "Hi"}, "content.title", "not used by the telegram channel"),
    ({"text": " \n\t"}, "content.text", "must not be blank"),
])
def test_content_other_than_text_or_blank_text_is_422_naming_it(client, auth, content, field, problem):
    error = assert_error(client.post("/v1/notifications", json=telegram(**content), headers=auth), 422, field)

    assert problem in error["fields"][field]
    assert stored_counts() == NOTHING_STORED


def test_push_options_are_422_on_telegram(client, auth):
    body = {**telegram(), "options": {"ttl_seconds": 60}}

    assert_error(client.post("/v1/notifications", json=body, headers=auth), 422, "options")
    assert stored_counts() == NOTHING_STORED


def test_text_of_exactly_4096_characters_is_accepted(client, auth, queue):
    response = client.post("/v1/notifications", json=telegram(text="a" * 4_096), headers=auth)

    assert response.status_code == 202, response.get_json()


@pytest.mark.parametrize("text, size", [("a" * 4_097, "4097 characters"),
                                        # 2,049 emoji: 2,049 code points, 4,098 UTF-16 units.
                                        ("👋" * 2_049, "4098 characters as Telegram counts them")])
def test_text_over_telegrams_limit_is_413_naming_content_text(client, auth, text, size):
    error = assert_error(client.post("/v1/notifications", json=telegram(text=text), headers=auth), 413,
                         "content.text")

    assert error["code"] == "content_too_large"
    assert size in error["fields"]["content.text"]
    assert stored_counts() == NOTHING_STORED
