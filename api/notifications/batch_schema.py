"""The batch request: shared defaults merged into each item, each item read as a single notification.

`POST /v1/notifications/batch` takes `{"defaults": {...}, "items": [{...}, ...]}`.
The envelope (the list's size, the defaults' shape) is checked as a whole: a
fault there refuses the batch. Each item is then the defaults with the item's
own fields on top — `content`, `options` and `personalisation` field by
field, every other field whole; a `null` means "not given", so an item's
`null` drops the default — and is read by the very function that reads
`POST /v1/notifications`, so an item is valid exactly when it would be valid
alone. A bad item becomes its own error, named `items.<index>.<field>`.
"""

from __future__ import annotations

from copy import copy

from pydantic import BaseModel, Field, SkipValidation, create_model

from api.notifications.schema import NotificationBody, NotificationRequest, parse_notification
from api.request_parsing import validated
from api.strict_model import StrictModel
from common.errors import Invalid

MAX_ITEMS = 1000
# Merged field by field; every other field of an item replaces the default whole.
MERGED_PER_FIELD = ("content", "options", "personalisation")
# Every item names its own recipient: an address is never a default.
ADDRESS_FIELDS = ("to", "recipient_id")


def _all_optional(name: str, doc: str, leave_out: tuple[str, ...] = ()) -> type[BaseModel]:
    """NotificationBody's fields with their checks, none of them required (the other side may give it)."""
    fields = {}
    for field_name, field in NotificationBody.model_fields.items():
        if field_name in leave_out:
            continue
        optional = copy(field)
        optional.default = None
        fields[field_name] = (field.annotation | None, optional)
    return create_model(name, __base__=StrictModel, __doc__=doc, **fields)


BatchDefaults = _all_optional(
    "BatchDefaults", "Fields every item takes unless it gives its own: any field of a "
                     "notification but its address (`to`, `recipient_id`).", ADDRESS_FIELDS)
BatchItem = _all_optional(
    "BatchItem", "One notification: the fields of POST /v1/notifications, merged over the "
                 "defaults (`content` and `options` field by field).")


class BatchBody(StrictModel):
    """Up to 1,000 notifications in one request; each item is accepted or refused on its own."""

    defaults: BatchDefaults | None = None
    # Each item is checked on its own (`parse_items`), so one bad item does not refuse the rest.
    items: list[SkipValidation[BatchItem]] = Field(min_length=1, max_length=MAX_ITEMS)


def merged(defaults: dict, item: dict) -> dict:
    """The item as a single notification request: the defaults, then the item's own fields."""
    request = {name: value for name, value in {**defaults, **item}.items() if value is not None}
    for name in MERGED_PER_FIELD:
        if isinstance(defaults.get(name), dict) and isinstance(item.get(name), dict):
            request[name] = {**defaults[name], **item[name]}
    return request


def item_error(index: int, error: Invalid) -> Invalid:
    """The error of one item, its fields named by their place in the batch."""
    place = f"items.{index}"
    return error.within(place) if error.fields else type(error)({place: error.message}, error.code)


def parse_item(index: int, defaults: dict, item: object) -> NotificationRequest | Invalid:
    if not isinstance(item, dict):
        return Invalid({f"items.{index}": "must be a JSON object"})
    try:
        return parse_notification(merged(defaults, item))
    except Invalid as error:
        return item_error(index, error)


def parse_batch(payload: object) -> list[NotificationRequest | Invalid]:
    """Each item read as a notification request, or its error; raises if the envelope is at fault."""
    envelope = validated(BatchBody, payload)
    defaults = payload.get("defaults") or {}  # as sent: an item overrides what the caller gave
    return [parse_item(index, defaults, item) for index, item in enumerate(envelope.items)]
