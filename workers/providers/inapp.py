"""The in-app provider: commits the item into the recipient's inbox, then tells the streams.

The inbox is Herald's own vendor for live keys (test keys' items go to the
sandbox's outbox). The row is committed before the event goes out: a stream
that hears of seq N finds it.
"""

from __future__ import annotations

from common import dispatch
from common.db import db
from common.inbox import store
from common.inbox.events import new_item_event
from common.models import utcnow
from workers.providers.base import DeliveryRequest, Receipt


class InboxProvider:
    def send(self, request: DeliveryRequest) -> Receipt:
        try:
            delivered = store.deliver(request.notification_id, utcnow())
        finally:
            db.session.close()  # the delivery code records the outcome on a fresh transaction
        dispatch.publish_inbox_event(new_item_event(delivered))
        return Receipt(provider_message_id=f"inbox-{delivered.seq}")


def from_settings(config, channel: str) -> InboxProvider:
    """The inbox provider, as the channel registry builds it for live keys."""
    return InboxProvider()
