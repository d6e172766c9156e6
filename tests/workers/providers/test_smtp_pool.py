"""A pool's threads share a bounded set of SMTP connections, one message per connection at a time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.fake_smtp import FakeSmtpServer
from tests.workers.providers.test_smtp import (PASSWORD, USERNAME, certificate, delivery,  # noqa: F401
                                               settings_for)
from workers.providers.base import TransientError
from workers.providers.smtp import SmtpProvider
from workers.providers.smtp_pool import SmtpConnectionPool

SIZE = 3
THREADS = 12
MESSAGES = 36


@pytest.fixture
def server(certificate):  # noqa: F811 - the module fixture imported above
    with FakeSmtpServer("starttls", certificate=certificate, credentials=(USERNAME, PASSWORD)) as server:
        yield server


def pool_for(server, certificate, size: int = SIZE, wait: float = 5.0) -> SmtpConnectionPool:  # noqa: F811
    settings = settings_for(server, certificate)
    return SmtpConnectionPool(lambda: SmtpProvider(settings, timeout=5.0), size=size, wait=wait)


def test_many_threads_send_every_message_over_at_most_size_connections(server, certificate):  # noqa: F811
    pool = pool_for(server, certificate)
    requests = [delivery(f"user{i}@example.com") for i in range(MESSAGES)]
    try:
        with ThreadPoolExecutor(THREADS) as threads:
            receipts = list(threads.map(pool.send, requests))
    finally:
        pool.close()
    assert len({r.provider_message_id for r in receipts}) == MESSAGES
    assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(r.recipient for r in requests)
    assert 1 <= server.connections <= SIZE


def test_a_delivery_that_finds_no_free_connection_in_time_is_transient(
        server, certificate, monkeypatch):  # noqa: F811
    pool = pool_for(server, certificate, size=1, wait=0.2)
    held, release = threading.Event(), threading.Event()
    original = SmtpProvider.send

    def slow_send(self, request):
        held.set()
        release.wait(5)
        return original(self, request)

    monkeypatch.setattr(SmtpProvider, "send", slow_send)
    first = threading.Thread(target=pool.send, args=(delivery(),))
    first.start()
    try:
        assert held.wait(5)
        with pytest.raises(TransientError) as raised:
            pool.send(delivery("other@example.com"))
        assert raised.value.code == "smtp_busy"
    finally:
        release.set()
        first.join()
        pool.close()
