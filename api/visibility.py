"""What an API key may see: its own service's notifications and groups, and only those of its kind.

As in GOV.UK Notify, test keys and live keys are two worlds within a service: a
test key sees only what test keys made (the sandbox deliveries), a live key only
what live keys made. Anything else answers 404, as another service's would.
"""

from __future__ import annotations

from common.models import ApiKey, Notification, NotificationGroup


def sandboxed(api_key: ApiKey) -> bool:
    """Whether what this key makes, and may see, is sandbox traffic."""
    return api_key.kind == "test"


def visible_notifications(api_key: ApiKey) -> tuple:
    """WHERE conditions for the notifications `api_key` may see."""
    return Notification.service == api_key.service, Notification.sandbox == sandboxed(api_key)


def visible_groups(api_key: ApiKey) -> tuple:
    """WHERE conditions for the notification groups `api_key` may see."""
    return NotificationGroup.service == api_key.service, NotificationGroup.sandbox == sandboxed(api_key)
