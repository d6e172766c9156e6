"""No writable database (a failover, a restart): the API answers 503 with Retry-After, never 500."""

from __future__ import annotations

import pytest

from api.errors import DATABASE_RETRY_AFTER_SECONDS
from common.config import settings
from tests.support.processes import free_port
from tests.support.settings import replace


@pytest.fixture
def client_without_database():
    from api import create_app

    # Nothing listens there: every connection attempt is refused, as while no node is primary.
    url = f"postgresql+psycopg2://postgres@/herald?host=127.0.0.1:{free_port()}" \
          f"&host=127.0.0.1:{free_port()}&target_session_attrs=read-write"
    return create_app(replace(settings(), database_url=url)).test_client()


@pytest.mark.parametrize("method, path, body", [
    ("post", "/v1/notifications", {"channel": "push", "to": "device-1",
                                   "content": {"title": "Hi", "body": "Hello"}}),
    ("get", "/v1/notifications", None),
])
def test_a_request_without_a_writable_database_is_a_503_to_retry(client_without_database, method,
                                                                   path, body):
    answer = getattr(client_without_database, method)(
        path, json=body, headers={"Authorization": "Bearer some-key"})

    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)
    assert answer.get_json()["error"]["code"] == "database_unavailable"
    assert answer.get_json()["error"]["status"] == 503
