"""Redis lost under the API's rate limits: no 500, no request held up, the budgets still kept.

The API reaches the shared Redis through a proxy that the test takes down:
refusing connections (Redis stopped) or silently swallowing them (a network
path that drops packets). Each API process then counts in its own memory with
the same budgets, and goes back to Redis once it answers again.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from common.config import settings
from tests.support import services
from tests.support.factories import push_body
from tests.support.settings import replace
from tests.support.tcp_proxy import TcpProxy

# Past this a request was held up by the outage: the storage timeout is 0.5 s.
SLOWEST_ANSWER_SECONDS = 1.5


@pytest.fixture
def redis_proxy(redis):
    with TcpProxy(services.REDIS_HOST, services.REDIS_PORT) as proxy:
        yield proxy


@pytest.fixture
def limited_client(db, redis_proxy):
    from api import create_app

    prefix = f"{os.environ['RATE_LIMIT_KEY_PREFIX']}-{uuid.uuid4().hex[:8]}"
    app = create_app(replace(settings(), rate_limit_writes="3/minute", rate_limit_key_prefix=prefix,
                             rate_limit_storage_url=f"redis://127.0.0.1:{redis_proxy.port}/0"))
    yield app.test_client()
    with app.app_context():
        db.engine.dispose()


def timed_previews(client, auth, count: int) -> tuple[list[int], float]:
    statuses, slowest = [], 0.0
    for _ in range(count):
        started = time.monotonic()
        response = client.post("/v1/notifications/preview", json=push_body(), headers=auth)
        slowest = max(slowest, time.monotonic() - started)
        statuses.append(response.status_code)
    return statuses, slowest


@pytest.mark.parametrize("silent", [False, True], ids=["refused", "swallowed"])
def test_losing_redis_falls_back_to_counting_in_memory(limited_client, redis_proxy, auth, silent):
    before, _ = timed_previews(limited_client, auth, 2)
    assert before == [200, 200]  # counted in Redis: one left there

    redis_proxy.down(silent=silent)
    during, slowest = timed_previews(limited_client, auth, 4)

    # Memory starts from nothing: three more, then the budget holds again.
    assert during == [200, 200, 200, 429]
    assert slowest < SLOWEST_ANSWER_SECONDS


def test_the_limits_go_back_to_redis_once_it_answers(limited_client, redis_proxy, auth,
                                                     monkeypatch):
    assert timed_previews(limited_client, auth, 2)[0] == [200, 200]
    redis_proxy.down()
    assert timed_previews(limited_client, auth, 1)[0] == [200]  # in memory now

    redis_proxy.up()
    # The limiter looks at Redis again after a pause that doubles from 1 s.
    time.sleep(2.5)
    statuses, _ = timed_previews(limited_client, auth, 2)

    # Redis still holds the two counted before the outage: one left, then 429.
    assert statuses == [200, 429]
