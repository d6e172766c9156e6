"""The sandbox provider: one outbox line per delivery, and magic recipients that fail on purpose."""

import json
import time
import uuid

import pytest

from workers.providers.base import DeliveryRequest, PermanentError, TransientError
from workers.providers.sandbox import SandboxProvider


def request(recipient: str, attempt: int = 1, channel: str = "push") -> DeliveryRequest:
    return DeliveryRequest(notification_id=uuid.uuid4(), channel=channel, recipient=recipient,
                           title="Hi", body="Hello", html=None, data={"k": "v"},
                           priority="normal", attempt=attempt)


@pytest.fixture
def sandbox(tmp_path):
    return SandboxProvider("push", tmp_path, timeout=0.2)


def test_a_delivery_is_one_json_line_in_the_channel_outbox(sandbox, tmp_path):
    sent = request("device-token")

    receipt = sandbox.send(sent)

    [line] = (tmp_path / "push.jsonl").read_text().splitlines()
    recorded = json.loads(line)
    assert recorded["notification_id"] == str(sent.notification_id)
    assert (recorded["to"], recorded["data"]) == ("device-token", {"k": "v"})
    assert receipt.provider_message_id == recorded["message_id"]


@pytest.mark.parametrize("recipient", ["herald-fail-permanent-token", "x.herald-fail-permanent@example.com",
                                       "+15005550001", "@herald_fail_permanent"])
def test_permanent_magic_recipients_fail_for_good(sandbox, tmp_path, recipient):
    with pytest.raises(PermanentError) as failure:
        sandbox.send(request(recipient))
    assert failure.value.code == "sandbox_rejected"
    assert not (tmp_path / "push.jsonl").exists()


@pytest.mark.parametrize("recipient", ["herald-fail-transient-2", "+15005550102", "@herald_fail_transient_2"])
def test_transient_magic_recipients_fail_n_times_then_succeed(sandbox, recipient):
    for attempt in (1, 2):
        with pytest.raises(TransientError) as failure:
            sandbox.send(request(recipient, attempt))
        assert failure.value.code == "sandbox_unavailable"
    assert sandbox.send(request(recipient, 3)).provider_message_id


@pytest.mark.parametrize("recipient", ["herald-timeout", "+15005550009", "@herald_timeout"])
def test_timeout_magic_recipients_wait_out_the_timeout(sandbox, recipient):
    started = time.monotonic()
    with pytest.raises(TransientError) as failure:
        sandbox.send(request(recipient))
    assert failure.value.code == "sandbox_timeout"
    assert 0.2 <= time.monotonic() - started < 2


@pytest.mark.parametrize("chat", ["@herald_fail_permanent", "@herald_fail_transient_3", "@herald_timeout"])
def test_telegrams_magic_usernames_are_chats_the_api_accepts(chat):
    from common.channels.telegram import chat_problem

    assert chat_problem(chat) is None
