"""GET /v1/inbox and the read state: pages newest first, exact counts, read, unread, archive,
delete, read-all up to a seq (also while new items arrive), and the count events other tabs hear."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from common.db import db as handle
from common.inbox.hub import Hub
from common.inbox.models import InboxItem
from common.inbox.store import Inbox
from tests.api.helpers import assert_error
from tests.api.inbox_helpers import (deliver, delivered_items, post_inapp, recipient_id,
                                     token_headers)


@pytest.fixture
def inbox(client, auth, db):
    """A recipient with five delivered items (seq 1..5) and their token's headers."""
    recipient = recipient_id()
    ids = delivered_items(client, auth, recipient, 5)
    return recipient, ids, token_headers(client, auth, recipient)


def counts(client, headers) -> dict:
    return client.get("/v1/inbox/count", headers=headers).get_json()


def test_pages_come_newest_first_and_follow_the_cursor(client, inbox):
    _recipient, ids, headers = inbox

    first = client.get("/v1/inbox?limit=2", headers=headers).get_json()
    second = client.get(f"/v1/inbox?limit=2&cursor={first['next_cursor']}", headers=headers).get_json()
    third = client.get(f"/v1/inbox?limit=2&cursor={second['next_cursor']}", headers=headers).get_json()

    shown = [item["seq"] for page in (first, second, third) for item in page["data"]]
    assert shown == [5, 4, 3, 2, 1]
    assert [item["id"] for page in (first, second, third) for item in page["data"]] == ids[::-1]
    assert third["next_cursor"] is None
    assert {page["unread_count"] for page in (first, second, third)} == {5}


def test_listing_marks_items_seen_and_reading_marks_them_read(client, inbox):
    _recipient, ids, headers = inbox
    assert counts(client, headers) == {"unread": 5, "unseen": 5}

    client.get("/v1/inbox?limit=2", headers=headers)
    assert counts(client, headers) == {"unread": 5, "unseen": 3}

    assert client.post(f"/v1/inbox/{ids[0]}/read", headers=headers).get_json() == {
        "unread": 4, "unseen": 2}
    assert client.post(f"/v1/inbox/{ids[0]}/unread", headers=headers).get_json() == {
        "unread": 5, "unseen": 2}
    unread = client.get("/v1/inbox?status=unread&limit=100", headers=headers).get_json()["data"]
    assert len(unread) == 5


def test_archived_and_deleted_items_leave_the_list_and_the_counts(client, inbox):
    _recipient, ids, headers = inbox

    client.post(f"/v1/inbox/{ids[1]}/archive", headers=headers)
    after_delete = client.delete(f"/v1/inbox/{ids[2]}", headers=headers).get_json()

    assert after_delete == {"unread": 3, "unseen": 3}
    listed = client.get("/v1/inbox?limit=100", headers=headers).get_json()["data"]
    assert [item["id"] for item in listed] == [ids[4], ids[3], ids[0]]
    archived = client.get("/v1/inbox?archived=true", headers=headers).get_json()["data"]
    assert [item["id"] for item in archived] == [ids[1]]
    assert len(client.get("/v1/inbox?archived=all&limit=100", headers=headers).get_json()["data"]) == 4
    # A second delivery of the deleted item (a retried task) does not bring it back.
    assert deliver(ids[2]).new is False
    assert_error(client.post(f"/v1/inbox/{ids[2]}/read", headers=headers), 404)
    assert counts(client, headers)["unread"] == 3


@pytest.mark.parametrize("query, field", [
    ("limit=0", "limit"), ("limit=101", "limit"), ("cursor=abc", "cursor"),
    ("status=new", "status"), ("archived=yes", "archived"), ("stauts=read", "stauts")])
def test_bad_list_queries_name_the_parameter(client, inbox, query, field):
    assert_error(client.get(f"/v1/inbox?{query}", headers=inbox[2]), 422, field)


@pytest.mark.parametrize("body, field", [({"up_to": -1}, "up_to"), ({"up_to": "5"}, "up_to"),
                                         ({"upto": 5}, "upto")])
def test_bad_read_all_bodies_name_the_field_and_change_nothing(client, inbox, body, field):
    assert_error(client.post("/v1/inbox/read-all", json=body, headers=inbox[2]), 422, field)
    assert counts(client, inbox[2])["unread"] == 5


def test_read_all_up_to_a_seq_leaves_later_items_unread(client, inbox):
    _recipient, ids, headers = inbox

    assert client.post("/v1/inbox/read-all", json={"up_to": 3}, headers=headers).get_json()[
        "unread"] == 2
    unread = client.get("/v1/inbox?status=unread", headers=headers).get_json()["data"]
    assert [item["seq"] for item in unread] == [5, 4]
    assert client.post("/v1/inbox/read-all", headers=headers).get_json()["unread"] == 0


def test_read_all_racing_new_items_leaves_exactly_the_later_ones_unread(app, client, auth, db):
    recipient = recipient_id()
    headers = token_headers(client, auth, recipient)
    delivered_items(client, auth, recipient, 20)
    arriving = [post_inapp(client, auth, recipient, n) for n in range(20, 80)]

    def deliver_all():
        with app.app_context():
            for nid in arriving:
                deliver(nid)

    deliverer = threading.Thread(target=deliver_all)
    deliverer.start()
    rounds = []
    while deliverer.is_alive() or not rounds:
        # A client marking all read what it has shown, while more arrive.
        up_to = client.get("/v1/inbox?limit=1", headers=headers).get_json()["data"][0]["seq"]
        client.post("/v1/inbox/read-all", json={"up_to": up_to}, headers=headers)
        rounds.append(up_to)
    deliverer.join()

    handle.session.rollback()
    rows = handle.session.execute(select(InboxItem.seq, InboxItem.read_at).where(
        InboxItem.recipient == recipient)).all()
    unread_rows = sorted(seq for seq, read_at in rows if read_at is None)
    assert len(rows) == 80
    assert unread_rows == list(range(up_to + 1, 81))  # read up to the seq shown, no further
    assert counts(client, headers)["unread"] == len(unread_rows)
    listed = client.get("/v1/inbox?status=unread&limit=100", headers=headers).get_json()
    assert listed["unread_count"] == len(listed["data"]) == len(unread_rows)
    print(f"\nread-all while 60 items arrived: {len(rounds)} rounds, up to seqs {rounds}; "
          f"finally {len(unread_rows)} rows unread, count says {counts(client, headers)['unread']}")


def test_every_read_state_change_tells_the_other_tabs_the_counts(client, inbox, broker):
    recipient, ids, headers = inbox
    hub = Hub(broker)
    try:
        subscription = hub.subscribe(Inbox("test-service", recipient))
        client.post(f"/v1/inbox/{ids[0]}/read", headers=headers)
        client.post("/v1/inbox/read-all", json={"up_to": 3}, headers=headers)
        client.delete(f"/v1/inbox/{ids[4]}", headers=headers)
        heard = [subscription.next_event(10) for _ in range(3)]
    finally:
        hub.stop()

    assert [(e["kind"], e["unread"], e["unseen"]) for e in heard] == [
        ("count", 4, 4), ("count", 2, 2), ("count", 1, 1)]
