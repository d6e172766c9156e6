"""GET /v1/notifications/{id}: a caller sees its own notifications and nothing else."""

from __future__ import annotations

import uuid

import pytest

from tests.api.helpers import assert_error
from tests.support.factories import email_body


def test_shows_the_notification_with_its_content_and_history(client, auth):
    body = email_body(reference="invoice-7")
    created = client.post("/v1/notifications", json=body, headers=auth).get_json()

    response = client.get(f"/v1/notifications/{created['id']}", headers=auth)

    assert response.status_code == 200
    shown = response.get_json()
    assert shown["id"] == created["id"]
    assert (shown["channel"], shown["to"], shown["reference"]) == ("email", "ada@example.com", "invoice-7")
    assert shown["content"] == {"subject": "Hello", "body": "Hi Ada", "html": "<p>Hi Ada</p>"}
    assert [event["status"] for event in shown["events"]] == ["scheduled"]


@pytest.mark.parametrize("notification_id", [str(uuid.uuid4()), "not-a-uuid", "1234", "%00"],
                         ids=["unknown", "malformed", "number", "NUL"])
def test_unknown_or_malformed_id_is_404(client, auth, notification_id):
    response = client.get(f"/v1/notifications/{notification_id}", headers=auth)

    assert assert_error(response, 404)["code"] == "not_found"


def test_another_services_notification_looks_like_an_unknown_one(client, auth, other_auth):
    theirs = client.post("/v1/notifications", json=email_body(), headers=other_auth).get_json()

    response = client.get(f"/v1/notifications/{theirs['id']}", headers=auth)
    unknown = client.get(f"/v1/notifications/{uuid.uuid4()}", headers=auth)

    assert_error(response, 404)
    # The same answer as for an id that does not exist: no hint that it does.
    assert response.get_json() == unknown.get_json()
    assert client.get(f"/v1/notifications/{theirs['id']}", headers=other_auth).status_code == 200
