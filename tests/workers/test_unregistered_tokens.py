"""A push that FCM answers UNREGISTERED removes that device token from the stored recipient.

The delivery task runs in this process (`workers.delivery.deliver`) with the
real FCM provider (pyfcm, google-auth, requests) against the local fake FCM
server, as in test_vendor_failures.py.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

import workers.health
from common.config import settings
from common.db import db
from common.models import ProviderHealth, Recipient, utcnow
from tests.support import fake_fcm
from tests.support.factories import events_of, fetch
from tests.support.fake_fcm import FakeFcm
from tests.support.settings import replace
from workers import delivery
from workers.providers import close_all

WORKER = "push@test-host"


@pytest.fixture(scope="module")
def fcm(tmp_path_factory):
    with FakeFcm() as server:
        config = replace(settings(), fcm=server.settings_file(server.service_account(),
                                                               tmp_path_factory.mktemp("fcm")),
                         provider_timeout=2.0)
        yield server, config


@pytest.fixture(autouse=True)
def real_fcm(monkeypatch):
    """No provider or health report is carried between tests."""
    close_all()
    monkeypatch.setattr(workers.health, "_reported", {})
    yield
    close_all()


@pytest.fixture
def service(owner) -> str:
    """The calling service of `make_notification`'s rows (read now: tasks close the session)."""
    return owner.service


def device_token() -> str:
    return f"device-{secrets.token_hex(8)}:APA91b{secrets.token_urlsafe(24)}"


def store_recipient(service: str, external_id: str, tokens: list[str]) -> None:
    earlier = utcnow() - timedelta(hours=1)
    db.session.add(Recipient(service=service, external_id=external_id, push_tokens=list(tokens),
                             opted_out=[], created_at=earlier, updated_at=earlier))
    db.session.commit()


def stored_tokens(service: str, external_id: str) -> list[str] | None:
    db.session.rollback()  # read what the task committed
    recipient = db.session.execute(select(Recipient).where(
        Recipient.service == service, Recipient.external_id == external_id)).scalar_one_or_none()
    return None if recipient is None else recipient.push_tokens


def deliver(n, config) -> delivery.Outcome:
    """Deliver under `config`: the settings that point FCM at the fake."""
    return delivery.deliver("push", str(n.id), str(n.dispatch_token), WORKER, config)


def assert_failed_unregistered(n, outcome: delivery.Outcome) -> None:
    assert (outcome.kind, outcome.reason) == ("failed", "fcm_unregistered")
    row = fetch(str(n.id))
    assert (row.status, row.error_code, row.attempts, row.lease_expires_at) == (
        "failed", "fcm_unregistered", 1, None)
    assert [(e.status, e.error_code) for e in events_of(str(n.id))] == [
        ("sending", None), ("failed", "fcm_unregistered")]


def test_an_unregistered_token_is_removed_from_the_recipient(fcm, make_notification, service, queues):
    server, config = fcm
    phone, tablet, watch = device_token(), device_token(), device_token()
    store_recipient(service, "user-1", [phone, tablet, watch])
    # The same id and token at another calling service is another person's record.
    store_recipient("other-service", "user-1", [tablet])
    server.messages.script(tablet, fake_fcm.UNREGISTERED)
    n = make_notification(recipient=tablet, recipient_ref="user-1")

    outcome = deliver(n, config)

    assert_failed_unregistered(n, outcome)
    assert stored_tokens(service, "user-1") == [phone, watch]
    assert stored_tokens("other-service", "user-1") == [tablet]
    recipient = db.session.execute(select(Recipient).where(
        Recipient.service == service, Recipient.external_id == "user-1")).scalar_one()
    assert recipient.updated_at > recipient.created_at + timedelta(minutes=59)


def test_the_other_devices_are_still_delivered_to(fcm, make_notification, service, queues):
    server, config = fcm
    gone, alive = device_token(), device_token()
    store_recipient(service, "user-1", [gone, alive])
    server.messages.script(gone, fake_fcm.UNREGISTERED)
    group = [make_notification(recipient=token, recipient_ref="user-1") for token in (gone, alive)]

    outcomes = [deliver(n, config) for n in group]

    assert [(o.kind, o.reason) for o in outcomes] == [("failed", "fcm_unregistered"), ("sent", None)]
    assert stored_tokens(service, "user-1") == [alive]


def test_a_notification_without_a_recipient_ref_changes_no_recipient(fcm, make_notification, service,
                                                                    queues):
    server, config = fcm
    token, other = device_token(), device_token()
    store_recipient(service, "user-1", [token, other])
    server.messages.script(token, fake_fcm.UNREGISTERED)
    n = make_notification(recipient=token)  # sent to a raw address, not to a stored recipient

    outcome = deliver(n, config)

    assert_failed_unregistered(n, outcome)
    assert stored_tokens(service, "user-1") == [token, other]


@pytest.mark.parametrize("reply, outcome", [
    (fake_fcm.INVALID_ARGUMENT, ("failed", "fcm_invalid_argument")),
    (fake_fcm.UNAVAILABLE, ("retrying", "fcm_unavailable")),
    (None, ("sent", None)),
], ids=["other permanent error", "transient error", "accepted"])
def test_only_unregistered_removes_a_token(fcm, make_notification, service, queues, reply, outcome):
    server, config = fcm
    token = device_token()
    store_recipient(service, "user-1", [token])
    if reply is not None:
        server.messages.script(token, reply)
    n = make_notification(recipient=token, recipient_ref="user-1")

    delivered = deliver(n, config)
    assert (delivered.kind, delivered.reason) == outcome

    assert stored_tokens(service, "user-1") == [token]


def test_a_recipient_deleted_meanwhile_does_not_trouble_the_delivery(fcm, make_notification, service,
                                                                   queues):
    server, config = fcm
    token = device_token()
    server.messages.script(token, fake_fcm.UNREGISTERED)
    n = make_notification(recipient=token, recipient_ref="gone-user")

    outcome = deliver(n, config)

    assert_failed_unregistered(n, outcome)
    assert stored_tokens(service, "gone-user") is None


def test_a_token_already_removed_leaves_the_rest(fcm, make_notification, service, queues):
    server, config = fcm
    token, other = device_token(), device_token()
    store_recipient(service, "user-1", [other])  # e.g. the caller's PUT dropped it first
    server.messages.script(token, fake_fcm.UNREGISTERED)
    n = make_notification(recipient=token, recipient_ref="user-1")

    assert_failed_unregistered(n, deliver(n, config))
    assert stored_tokens(service, "user-1") == [other]


def test_a_failure_to_remove_the_token_never_undoes_the_outcome(fcm, make_notification, service, queues,
                                                               monkeypatch):
    """The database fails on the recipients table only, after the outcome was committed."""
    server, config = fcm
    token = device_token()
    store_recipient(service, "user-1", [token])
    server.messages.script(token, fake_fcm.UNREGISTERED)
    n = make_notification(recipient=token, recipient_ref="user-1")
    execute = db.session.execute
    touched: list[str] = []
    failing = True

    def failing_on_recipients(statement, *args, **kwargs):
        if failing and "FROM recipients" in str(statement):
            touched.append(str(statement))
            raise OperationalError(str(statement), {}, Exception("server closed the connection"))
        return execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", failing_on_recipients)

    outcome = deliver(n, config)

    failing = False
    assert touched, "the removal was never attempted"
    assert_failed_unregistered(n, outcome)
    assert stored_tokens(service, "user-1") == [token]
    # The session was left usable: the provider health report after it was written.
    health = db.session.get(ProviderHealth, "push")
    assert health is not None and health.provider == "fcm"


def test_forget_push_token_says_whether_it_removed_anything(db, service):
    from workers.recipients import forget_push_token

    token = device_token()
    store_recipient(service, "user-1", [token])

    assert forget_push_token(service, "user-1", token) is True
    assert forget_push_token(service, "user-1", token) is False
    assert forget_push_token(service, "nobody", token) is False
    assert forget_push_token("other-service", "user-1", token) is False
    assert stored_tokens(service, "user-1") == []
