"""Creating a batch: each item planned as a single create is, all rows written in one transaction.

The accepted items' groups, notifications and first events go in with one
multi-row INSERT per table (SQLAlchemy Core: no unit of work to build for a
thousand objects); their publications are registered together on the session,
so the commit publishes them through `common.dispatch` like any other create.
A refused item writes nothing. A batch that accepts no item is refused whole
(422) and leaves its Idempotency-Key unused.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from api.notifications.batch_schema import item_error
from api.notifications.batch_serialize import accepted_item, batch_answer, refused_item
from api.notifications.planning import Plan, plan_request
from api.notifications.schema import NotificationRequest
from api.notifications.service import (commit_remembering, first_event_detail, notification_values,
                                       replayed_response)
from common import channels, dispatch, metrics
from common.config import Settings
from common.db import db
from common.errors import Invalid
from common.models import (ApiKey, Notification, NotificationEvent,
                           NotificationGroup, Recipient)
from common.statuses import Status


@dataclass
class Written:
    """The rows an accepted item made: its notifications (one per device) and their group."""

    index: int
    stored_recipient: bool
    group_id: uuid.UUID | None
    rows: list[dict]


def batch_fingerprint(payload: dict, key_kind: str) -> str:
    """The batch as an idempotency key remembers it: the body as sent, whatever its key order."""
    try:
        canonical = json.dumps({"key_kind": key_kind, "batch": payload}, sort_keys=True)
    except RecursionError:  # nested deeper than the encoder goes
        raise Invalid({"items": "nested too deeply"}) from None
    return hashlib.sha256(canonical.encode()).hexdigest()


def stored_recipients(service: str, items: list[NotificationRequest | Invalid]):
    """A lookup of the stored recipients the items name, read in one query instead of one each."""
    wanted = {_named_recipient(item) for item in items if isinstance(item, NotificationRequest)}
    wanted.discard(None)
    found = {}
    if wanted:
        found = {r.external_id: r for r in db.session.execute(select(Recipient).where(
            Recipient.service == service, Recipient.external_id.in_(wanted))).scalars()}
    return lambda _service, external_id: found.get(external_id)


def _named_recipient(item: NotificationRequest) -> str | None:
    """The stored recipient an item names: its recipient_id, or (in-app) its address."""
    if item.recipient_id is None and channels.channel(item.channel).addressed_by_id:
        return item.to
    return item.recipient_id


def plan_items(service: str, items: list[NotificationRequest | Invalid], config: Settings,
               now: datetime) -> tuple[dict[int, Plan], dict[int, Invalid]]:
    """Each item's plan, as a single create would make it, or its error."""
    plans, refused = {}, {}
    lookup = stored_recipients(service, items)
    for index, item in enumerate(items):
        if isinstance(item, Invalid):
            refused[index] = item
            continue
        try:
            plans[index] = plan_request(service, item, config, now, lookup=lookup)
        except Invalid as error:
            refused[index] = item_error(index, error)
    return plans, refused


def nothing_accepted(refused: dict[int, Invalid]) -> Invalid:
    fields = {name: problem for error in refused.values() for name, problem in error.fields.items()}
    error = Invalid(fields)
    error.message = f"no item was accepted: {error.message}"
    return error


def insert_planned(api_key: ApiKey, plans: dict[int, Plan], config: Settings,
                   now: datetime) -> list[Written]:
    """One INSERT per table for every accepted item; their publications go out on commit."""
    groups, rows, events, publications, written = [], [], [], [], []
    for index, plan in plans.items():
        group_id = None
        if len(plan.notifications) > 1:  # a push to each of the recipient's devices
            group_id = uuid.uuid4()
            groups.append(dict(id=group_id, service=api_key.service, kind="devices",
                               sandbox=api_key.kind == "test", reference=plan.request.reference,
                               created_at=now, updated_at=now))
        item_rows = []
        for planned in plan.notifications:
            values = notification_values(api_key, plan, planned, config, now, group_id=group_id)
            item_rows.append(values)
            events.append(dict(notification_id=values["id"], at=now, status=values["status"],
                               attempt=0, error_code=values["error_code"],
                               detail=first_event_detail(planned)))
            if values["enqueued_at"] is not None:
                publications.append(dispatch.publication(
                    values["id"], values["channel"], values["dispatch_token"],
                    values["deliver_at"], now))
        rows.extend(item_rows)
        written.append(Written(index, plan.request.recipient_id is not None, group_id, item_rows))

    session = db.session
    if groups:
        session.execute(insert(NotificationGroup.__table__), groups)
    session.execute(insert(Notification.__table__), rows)
    session.execute(insert(NotificationEvent.__table__), events)
    if publications:
        dispatch.register(session, publications)
    metrics.on_commit(session, lambda: _count_accepted(rows))
    return written


def _count_accepted(rows: list[dict]) -> None:
    for row in rows:
        shifted = row["status"] == Status.SCHEDULED.value and row["schedule_reason"] == "quiet_hours"
        metrics.notification_accepted(row["channel"], shifted)


def create_batch(
    api_key: ApiKey, items: list[NotificationRequest | Invalid], *, payload: dict,
    idempotency_key: str | None, config: Settings, now: datetime,
) -> tuple[dict, bool]:
    """Persist the accepted items and commit (which publishes). Returns (answer, whether replayed)."""
    fingerprint = batch_fingerprint(payload, api_key.kind) if idempotency_key else None
    if idempotency_key:
        replay = replayed_response(api_key.service, idempotency_key, fingerprint, now,
                                   config.idempotency_ttl)
        if replay is not None:
            return replay, True

    plans, refused = plan_items(api_key.service, items, config, now)
    if not plans:
        db.session.rollback()  # planning only read
        raise nothing_accepted(refused)
    written = {item.index: item for item in insert_planned(api_key, plans, config, now)}
    answer = batch_answer([
        refused_item(index, refused[index]) if index in refused else
        accepted_item(index, written[index].stored_recipient, written[index].group_id,
                      written[index].rows)
        for index in range(len(items))
    ])
    first = next(iter(written.values())).rows[0]["id"]
    return commit_remembering(api_key, idempotency_key, fingerprint, first, answer,
                              config=config, now=now)
