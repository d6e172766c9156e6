"""Push content FCM would refuse is refused at the API: reserved data keys, payloads over 4,096 bytes."""

from __future__ import annotations

import pytest

from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.support.factories import push_body

# As FCM counts a notification field: its key `gcm.notification.<field>` and its value.
TITLE = "t" * 100  # 22 + 100 bytes
BODY = "b" * 2_000  # 21 + 2,000 bytes
DEFAULT_TAG = 20 + 36  # Herald tags a push with its 36-character id when no collapse_key is given
DATA_BUDGET = 4_096 - (22 + 100) - (21 + 2_000) - DEFAULT_TAG  # 1,897 bytes of data keys and values


def push_with(data: dict, title: str = TITLE, body: str = BODY, **extra) -> dict:
    return push_body(content={"title": title, "body": body, "data": data}, **extra)


@pytest.mark.parametrize("key", [
    "from", "notification", "message_type", "FROM", "Message_Type",
    "google", "google.c.a.e", "googleAnalytics", "Google.x",
    "gcm", "gcm.notification.title", "gcm.n.e", "GCM_key",
])
def test_a_data_key_reserved_by_fcm_is_422_naming_content_data(client, auth, key):
    response = client.post("/v1/notifications", json=push_body(content={"body": "Hi", "data": {key: "v"}}),
                           headers=auth)

    error = assert_error(response, 422, "content.data")
    assert f'"{key}"' in error["fields"]["content.data"] and "reserved by FCM" in error["fields"]["content.data"]
    assert stored_counts() == NOTHING_STORED


@pytest.mark.parametrize("key", ["fromage", "sender", "message", "notification_id", "my_google", "goo", "gc"])
def test_keys_that_only_look_like_reserved_ones_are_accepted(client, auth, key):
    response = client.post("/v1/notifications", json=push_body(content={"body": "Hi", "data": {key: "v"}}),
                           headers=auth)

    assert response.status_code == 202, response.get_json()


def test_a_payload_of_exactly_4096_bytes_is_accepted(client, auth):
    response = client.post("/v1/notifications", json=push_with({"k": "v" * (DATA_BUDGET - 1)}), headers=auth)

    assert response.status_code == 202, response.get_json()


def test_one_byte_over_4096_is_413_naming_content(client, auth):
    response = client.post("/v1/notifications", json=push_with({"k": "v" * DATA_BUDGET}), headers=auth)

    error = assert_error(response, 413, "content")
    assert error["code"] == "content_too_large"
    assert "4097 bytes" in error["fields"]["content"] and "4096" in error["fields"]["content"]
    assert stored_counts() == NOTHING_STORED


def test_the_limit_counts_bytes_of_utf8_not_characters(client, auth):
    # 2,000 characters is within the body's own limit, but 6,000 bytes.
    response = client.post("/v1/notifications", json=push_body(content={"body": "☕" * 2_000}), headers=auth)

    error = assert_error(response, 413, "content")
    assert f"{21 + 6_000 + DEFAULT_TAG} bytes" in error["fields"]["content"]
    assert stored_counts() == NOTHING_STORED


def test_a_short_collapse_key_leaves_more_room_than_the_default_tag(client, auth):
    over_by_ten = push_with({"k": "v" * (DATA_BUDGET + 9)})
    assert client.post("/v1/notifications", json=over_by_ten, headers=auth).status_code == 413

    # A one-character collapse_key is the tag instead of the 36-character id: 35 bytes fewer.
    response = client.post("/v1/notifications", json={**over_by_ten, "options": {"collapse_key": "k"}},
                           headers=auth)
    assert response.status_code == 202, response.get_json()


@pytest.mark.parametrize("collapse_key", ["order\n42", "order\r\nx-evil: 1", "commande-été", "a\u2028b", "tab\there"])
def test_a_collapse_key_must_be_printable_ascii(client, auth, collapse_key):
    response = client.post("/v1/notifications", json=push_body(options={"collapse_key": collapse_key}),
                           headers=auth)

    assert_error(response, 422, "options.collapse_key")
    assert stored_counts() == NOTHING_STORED
