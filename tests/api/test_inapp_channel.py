"""POST /v1/notifications with channel inapp: its content, its address (the caller's id for the
recipient), quiet hours that never hold it back, and opt-outs that do."""

from __future__ import annotations

import pytest

from tests.api.helpers import NOTHING_STORED, assert_error, stored_counts
from tests.api.inbox_helpers import deliver, inapp, post_inapp, recipient_id, token_headers
from tests.support.factories import fetch

ALL_DAY = {"start": "00:00", "end": "23:59"}  # quiet all day but one minute


def test_an_item_keeps_its_title_body_data_and_action_url(client, auth, db):
    recipient = recipient_id()
    nid = post_inapp(client, auth, recipient, data={"order": "42"}, action_url="/orders/42")

    delivered = deliver(nid)
    page = client.get("/v1/inbox", headers=token_headers(client, auth, recipient)).get_json()

    assert delivered.seq == 1 and delivered.unread == 1
    [item] = page["data"]
    assert {k: item[k] for k in ("id", "seq", "title", "body", "data", "action_url")} == {
        "id": nid, "seq": 1, "title": "Item 0", "body": "Body of item 0", "data": {"order": "42"},
        "action_url": "/orders/42"}
    assert item["read_at"] is None and item["archived_at"] is None
    assert page["unread_count"] == 1


@pytest.mark.parametrize("change, field", [
    ({"content": {"title": "No body"}}, "content.body"),
    ({"content": {"body": "x", "action_url": "javascript:alert(1)"}}, "content.action_url"),
    ({"content": {"body": "x", "action_url": "//evil.example/"}}, "content.action_url"),
    ({"content": {"body": "x", "subject": "email only"}}, "content.subject"),
    ({"content": {"body": "x", "action_url": "/" + "a" * 2048}}, "content.action_url"),
    ({"options": {"ttl_seconds": 60}}, "options"),
    ({"to": " padded "}, "to"),
    ({"to": "u" * 256}, "to"),
])
def test_bad_inapp_requests_name_the_field_and_write_nothing(client, auth, db, change, field):
    body = {**inapp(recipient_id()), **change}

    response = client.post("/v1/notifications", json=body, headers=auth)

    assert_error(response, 413 if "a" * 2048 in str(change) else 422, field)
    assert stored_counts() == NOTHING_STORED


def test_quiet_hours_hold_a_push_back_but_never_an_inapp_item(client, auth, db):
    quiet = {"timezone": "UTC", "quiet_hours": ALL_DAY}
    push = client.post("/v1/notifications", headers=auth, json={
        "channel": "push", "to": "device-token-1", "content": {"body": "hi"}, **quiet}).get_json()
    item = client.post("/v1/notifications", headers=auth,
                       json={**inapp(recipient_id()), **quiet}).get_json()

    assert push["schedule_reason"] == "quiet_hours" and push["quiet_hours_shifted"] is True
    assert item["schedule_reason"] == "immediate" and item["quiet_hours_shifted"] is False
    assert item["schedule"]["quiet_hours"] == "not applied: inapp never waits for them"
    assert fetch(item["id"]).quiet_hours is None


def test_a_stored_recipients_opt_out_suppresses_inapp_items_by_id_or_by_to(client, auth, db):
    recipient = recipient_id()
    assert client.put(f"/v1/recipients/{recipient}", headers=auth,
                      json={"opted_out": ["inapp"]}).status_code == 201

    by_to = client.post("/v1/notifications", json=inapp(recipient), headers=auth).get_json()
    by_id = client.post("/v1/notifications", headers=auth, json={
        "channel": "inapp", "recipient_id": recipient, "content": {"body": "hi"}}).get_json()

    # By id, a stored recipient's request is answered as a group (of one here).
    [for_id] = by_id["notifications"]
    assert (by_to["status"], for_id["status"]) == ("suppressed", "suppressed")
    assert {fetch(by_to["id"]).error_code, fetch(for_id["id"]).error_code} == {"recipient_opted_out"}


def test_a_stored_recipient_who_has_not_opted_out_gets_the_item_by_id(client, auth, db):
    recipient = recipient_id()
    client.put(f"/v1/recipients/{recipient}", headers=auth, json={"opted_out": ["sms"]})

    answer = client.post("/v1/notifications", headers=auth, json={
        "channel": "inapp", "recipient_id": recipient, "content": {"body": "hi"}}).get_json()

    [item] = answer["notifications"]
    assert item["status"] == "scheduled"
    assert deliver(item["id"]).inbox.recipient == recipient


def test_a_batch_of_inapp_items_lands_in_each_recipients_inbox(client, auth, db):
    first, second = recipient_id(), recipient_id()
    body = {"defaults": {"channel": "inapp", "content": {"body": "Sale"}},
            "items": [{"to": first}, {"to": second}, {"to": first}]}

    answer = client.post("/v1/notifications/batch", json=body, headers=auth).get_json()
    for item in answer["items"]:
        deliver(item["id"])

    assert answer["accepted"] == 3
    counts = {r: client.get("/v1/inbox/count", headers=token_headers(client, auth, r)).get_json()
              for r in (first, second)}
    assert counts == {first: {"unread": 2, "unseen": 2}, second: {"unread": 1, "unseen": 1}}
