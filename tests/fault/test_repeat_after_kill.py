"""A pool killed with SIGKILL inside the provider call repeats the delivery under the same identity.

The email and push pools run as real Celery workers against the local SMTP
server and FCM API. Each vendor takes the first message in full and then
stalls before answering, so the pool is inside the provider call when it is
killed: the vendor has the message, Herald never heard back. The sweeper
takes the row back once its lease runs out and a new pool delivers it again.
At-least-once allows that repeat; what keeps it from showing twice is that
it carries the same Message-ID (email) and the same collapse identity
(push: apns-collapse-id and the Android notification tag) as the first.
Run with -s to see the figures.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import signal
import uuid

import pytest

from tests.e2e.vendors import start_vendors
from tests.fault.harness import FAST_RECOVERY, post_notifications, report
from tests.support.factories import email_body, fetch, push_body
from tests.support.fake_fcm import Hang
from tests.support.fake_smtp import RecordingHandler
from tests.support.waiting import wait_until

STALL_SECONDS = 120  # longer than the test: only the kill ends the first attempt
POOL_ENV = {**FAST_RECOVERY, "PROVIDER_TIMEOUT_SECONDS": "30"}


class StallFirstDataHandler(RecordingHandler):
    """Keeps the content of the first DATA, then never answers it; later messages are accepted."""

    def __init__(self):
        super().__init__()
        self.stalled: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        if not self.stalled:
            self.stalled.append(envelope.content)
            await asyncio.sleep(STALL_SECONDS)  # cancelled when the client's connection dies
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def vendors(tmp_path):
    started = start_vendors(tmp_path)
    started.smtp._controller.handler = StallFirstDataHandler()  # before any connection is made
    try:
        yield started
    finally:
        started.stop()


def kill_inside_the_call(pool) -> None:
    pool.signal_main(signal.SIGKILL)
    pool.kill_group()  # the pool children too, as the kernel would on a node loss
    pool.process.wait()


def message_id(content: bytes) -> str:
    return email.message_from_bytes(content, policy=email.policy.default)["Message-ID"]


def collapse_identity(send) -> tuple[str, str]:
    message = send.body["message"]
    return message["apns"]["headers"]["apns-collapse-id"], message["android"]["notification"]["tag"]


def test_a_delivery_repeated_after_sigkill_carries_the_same_identity(client, auth, fleet, vendors):
    smtp_handler: StallFirstDataHandler = vendors.smtp._controller.handler
    device = f"device-{uuid.uuid4().hex[:12]}"
    vendors.fcm_messages.script(device, Hang(STALL_SECONDS))
    env = {**vendors.worker_env(), **POOL_ENV}
    fleet.worker("maintenance", concurrency=1, env=FAST_RECOVERY)
    fleet.beat(env=FAST_RECOVERY)
    pools = fleet.workers({"email": 1, "push": 1}, env=env)

    [email_id] = post_notifications(client, auth, [email_body("ada@example.com", priority="critical")])
    [push_id] = post_notifications(client, auth, [push_body(device, priority="critical")])

    # Both vendors hold the whole first message and have not answered: kill now.
    wait_until(lambda: smtp_handler.stalled and vendors.fcm_messages.sends_to(device), timeout=30,
               message="the first attempts never reached the vendors")
    for pool in pools.values():
        kill_inside_the_call(pool)
    assert fetch(email_id).status == "sending" and fetch(push_id).status == "sending"

    fleet.workers({"email": 1, "push": 1}, env=env)
    wait_until(lambda: fetch(email_id).status == "sent" and fetch(push_id).status == "sent", timeout=60,
               message="the killed deliveries were not recovered")

    first_mail, [repeat_mail] = smtp_handler.stalled[0], smtp_handler.messages
    message_ids = [message_id(first_mail), message_id(repeat_mail.content)]
    sends = vendors.fcm_messages.sends_to(device)
    collapse_ids = [collapse_identity(send) for send in sends]
    report("SIGKILL inside the provider call", email_message_ids=message_ids,
           email_attempts=fetch(email_id).attempts, push_collapse_ids=collapse_ids,
           push_attempts=fetch(push_id).attempts)

    assert message_ids == [f"<{email_id}@herald.example>"] * 2
    assert fetch(email_id).provider_message_id == message_ids[0]
    assert fetch(email_id).attempts == 2
    assert len(sends) == 2 and fetch(push_id).attempts == 2
    assert collapse_ids == [(push_id, push_id)] * 2
