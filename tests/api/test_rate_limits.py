"""Per-service request budgets: 429 in the error shape with Retry-After and RateLimit-* headers.

The limits count in the real Redis, under this run's key prefix (plus one per
test, so tests do not share counts); the sharing test runs two real gunicorn
processes against it.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import uuid

import pytest
import requests
from sqlalchemy import update

from common.config import settings
from common.models import ApiKey, utcnow
from tests.api.helpers import assert_error, stored_counts
from tests.support.factories import push_body
from tests.support.processes import HeraldProcess
from tests.support.settings import replace
from tests.support.waiting import wait_until

# Windows of a minute: a test's few requests all fall inside one.
WRITES = "3/minute"
READS = "5/minute"


def unique_prefix() -> str:
    return f"{os.environ['RATE_LIMIT_KEY_PREFIX']}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def limited_app(db, redis):
    """The API with small budgets counted in Redis; `configure(**changes)` makes another."""
    from api import create_app

    made = []

    def configure(**changes):
        config = replace(settings(), rate_limit_storage_url=redis, rate_limit_writes=WRITES,
                         rate_limit_reads=READS, rate_limit_key_prefix=unique_prefix())
        app = create_app(replace(config, **changes))
        made.append(app)
        return app

    yield configure
    for app in made:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def limited(limited_app):
    return limited_app().test_client()


def bearer(service: str, kind: str = "live", **limits) -> dict:
    from api.keys.service import create_api_key
    from common.db import db

    key, secret = create_api_key(service, kind)
    for column, value in limits.items():
        setattr(key, column, value)
    db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def preview(client, headers):
    """A write that stores nothing: POST counts against the write budget like any other."""
    return client.post("/v1/notifications/preview", json=push_body(), headers=headers)


def test_the_write_after_the_budget_is_429_in_the_error_shape_and_stores_nothing(limited, auth):
    accepted = [limited.post("/v1/notifications", json=push_body(), headers=auth) for _ in range(3)]
    assert [response.status_code for response in accepted] == [202, 202, 202]

    refused = limited.post("/v1/notifications", json=push_body(), headers=auth)

    error = assert_error(refused, 429)
    assert error["code"] == "rate_limited"
    assert "3 per 1 minute" in error["message"] and "write" in error["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Limit"] == "3"
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["RateLimit-Reset"]) <= 60
    assert stored_counts()["notifications"] == 3


def refusals_counted(kind: str, budget: str) -> float:
    from prometheus_client import REGISTRY

    labels = {"kind": kind, "budget": budget}
    return REGISTRY.get_sample_value("herald_api_rate_limited_total", labels) or 0.0


def test_refusals_are_counted_for_prometheus_and_logged_once_a_minute(limited, auth, caplog):
    writes, reads = (refusals_counted("live", budget) for budget in ("writes", "reads"))
    caplog.set_level(logging.INFO, logger="api.rate_limits")
    for _ in range(6):
        preview(limited, auth)

    assert refusals_counted("live", "writes") == writes + 3
    assert refusals_counted("live", "reads") == reads
    lines = [r.getMessage() for r in caplog.records if r.name == "api.rate_limits"]
    assert lines == ["rate limit: live key of service test-service over its writes budget "
                     "(3 per 1 minute); refusing with 429"]


def test_every_counted_answer_says_what_is_left(limited, auth):
    remaining = [preview(limited, auth).headers["RateLimit-Remaining"] for _ in range(3)]

    assert remaining == ["2", "1", "0"]
    response = preview(limited, auth)
    assert response.headers["RateLimit-Limit"] == "3"
    assert "Retry-After" in response.headers


def test_the_counts_live_in_redis_under_the_configured_prefix(limited_app, auth, redis):
    import redis as redis_client

    prefix = unique_prefix()
    preview(limited_app(rate_limit_key_prefix=prefix).test_client(), auth)

    connection = redis_client.Redis.from_url(redis)
    try:
        names = [name.decode() for name in connection.scan_iter(match=f"*{prefix}*")]
    finally:
        connection.close()
    assert names and all("live:test-service/writes/3/1/minute" in name for name in names)


def test_reads_have_their_own_budget(limited, auth):
    for _ in range(3):
        preview(limited, auth)
    assert preview(limited, auth).status_code == 429

    reads = [limited.get("/v1/notifications", headers=auth) for _ in range(6)]

    assert [response.status_code for response in reads] == [200] * 5 + [429]
    assert reads[0].headers["RateLimit-Limit"] == "5"
    assert "read" in reads[-1].get_json()["error"]["message"]


def test_one_service_spending_its_budget_leaves_another_untouched(limited, auth, other_auth):
    for _ in range(3):
        preview(limited, auth)
    assert preview(limited, auth).status_code == 429

    response = preview(limited, other_auth)

    assert response.status_code == 200
    assert response.headers["RateLimit-Remaining"] == "2"


def test_keys_of_one_service_share_its_budget_and_test_keys_have_their_own(limited, auth):
    second_live_key = bearer("test-service")
    test_key = bearer("test-service", "test")
    for headers in (auth, second_live_key, auth):
        assert preview(limited, headers).status_code == 200

    assert preview(limited, second_live_key).status_code == 429
    assert preview(limited, test_key).status_code == 200


def test_a_key_with_its_own_limits_is_held_to_them(limited, db):
    headers = bearer("bulk-sender", write_rate_limit="5/minute", read_rate_limit="1/minute")

    writes = [preview(limited, headers) for _ in range(6)]
    reads = [limited.get("/v1/notifications", headers=headers) for _ in range(2)]

    assert [response.status_code for response in writes] == [200] * 5 + [429]
    assert writes[0].headers["RateLimit-Limit"] == "5"
    assert [response.status_code for response in reads] == [200, 429]


def test_a_malformed_key_limit_written_by_hand_falls_back_to_the_default(limited, caplog):
    headers = bearer("hand-edited", write_rate_limit="lots/second")

    writes = [preview(limited, headers) for _ in range(4)]

    assert [response.status_code for response in writes] == [200, 200, 200, 429]
    assert writes[0].headers["RateLimit-Limit"] == "3"
    assert "has malformed rate limits; using the default" in caplog.text


def test_the_default_takes_several_windows_and_the_tightest_one_is_reported(limited_app, auth):
    client = limited_app(rate_limit_writes="4/second;2/minute").test_client()

    responses = [preview(client, auth) for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 429]
    assert responses[1].headers["RateLimit-Limit"] == "2"  # the minute: fewer left than the second
    assert responses[1].headers["RateLimit-Remaining"] == "0"
    assert "2 per 1 minute" in responses[2].get_json()["error"]["message"]


def test_requests_without_a_valid_key_are_401_and_spend_nothing(limited, auth):
    for headers in ({}, {"Authorization": "Bearer hrd_live_not-a-key"}, {"Authorization": "Basic x"}):
        for _ in range(6):
            response = limited.get("/v1/notifications", headers=headers)
            assert_error(response, 401, "Authorization")
            assert "RateLimit-Remaining" not in response.headers

    assert limited.get("/v1/notifications", headers=auth).headers["RateLimit-Remaining"] == "4"


def test_a_revoked_key_is_refused_at_once_though_the_limiter_remembers_its_caller(limited, auth, db):
    assert limited.get("/v1/notifications", headers=auth).status_code == 200
    db.session.execute(update(ApiKey).values(revoked_at=utcnow()))
    db.session.commit()

    assert_error(limited.get("/v1/notifications", headers=auth), 401, "Authorization")


def test_probes_metrics_and_receipts_are_not_counted(limited, auth):
    for _ in range(7):
        for path in ("/health", "/metrics"):
            response = limited.get(path, headers=auth)
            assert response.status_code == 200
            assert "RateLimit-Limit" not in response.headers
        receipt = limited.post(f"/v1/receipts/twilio/{uuid.uuid4()}", headers=auth)
        assert receipt.status_code != 429 and "RateLimit-Limit" not in receipt.headers

    assert limited.get("/v1/notifications", headers=auth).headers["RateLimit-Remaining"] == "4"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the block ends: nothing listens


def test_an_unreachable_redis_means_counting_in_memory_not_500(limited_app, auth, caplog):
    client = limited_app(rate_limit_storage_url=f"redis://127.0.0.1:{closed_port()}/0").test_client()

    responses = [preview(client, auth) for _ in range(4)]

    assert [response.status_code for response in responses] == [200, 200, 200, 429]
    assert responses[3].get_json()["error"]["code"] == "rate_limited"
    assert "falling back to in-memory storage" in caplog.text


def test_rate_limits_can_be_switched_off(limited_app, auth):
    client = limited_app(rate_limits_enabled=False).test_client()

    responses = [preview(client, auth) for _ in range(5)]

    assert [response.status_code for response in responses] == [200] * 5
    assert "RateLimit-Limit" not in responses[0].headers


def start_api(name: str, env: dict, log_dir) -> tuple[HeraldProcess, str]:
    api = HeraldProcess(name, [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0",
                               "--workers", "1", "--no-control-socket", "api:create_app()"],
                        log_dir, env)
    api.wait_for_log("Listening at: ")
    port = api.log().split("Listening at: http://127.0.0.1:")[1].split()[0]
    return api, f"http://127.0.0.1:{port}"


def test_two_api_processes_share_one_budget_through_redis(db, redis, auth, tmp_path):
    env = {"RATE_LIMIT_STORAGE_URL": redis, "RATE_LIMIT_READS": "4/minute",
           "RATE_LIMIT_KEY_PREFIX": unique_prefix()}
    first, second = start_api("api-1", env, tmp_path), start_api("api-2", env, tmp_path)
    try:
        bases = [first[1], second[1]]
        for base in bases:
            wait_until(lambda: requests.get(f"{base}/health", timeout=2).ok, timeout=30)

        answers = [requests.get(f"{base}/v1/notifications", headers=auth, timeout=10)
                   for base in bases * 3]

        assert [answer.status_code for answer in answers] == [200, 200, 200, 200, 429, 429]
        assert [answer.headers.get("RateLimit-Remaining") for answer in answers] == \
            ["3", "2", "1", "0", "0", "0"]
        assert answers[5].json()["error"]["code"] == "rate_limited"
        assert int(answers[5].headers["Retry-After"]) >= 1
    finally:
        first[0].stop()
        second[0].stop()


def run_cli(app, *args):
    return app.test_cli_runner().invoke(args=["keys", *args])


def test_keys_create_and_set_limits_store_a_key_budget(limited_app, db):
    app = limited_app()
    created = run_cli(app, "create", "cli-service", "--write-limit", "10/second;100/minute")
    assert created.exit_code == 0, created.output
    key = db.session.query(ApiKey).filter_by(service="cli-service").one()
    assert (key.write_rate_limit, key.read_rate_limit) == ("10/second;100/minute", None)

    changed = run_cli(app, "set-limits", "cli-service", "--write-limit", "default",
                      "--read-limit", "50/second")

    assert changed.exit_code == 0, changed.output
    db.session.refresh(key)
    assert (key.write_rate_limit, key.read_rate_limit) == (None, "50/second")


@pytest.mark.parametrize("limit", ["lots", "0/second", "10/fortnight", "1/second;" * 20, ""])
def test_keys_create_refuses_a_malformed_limit(limited_app, db, limit):
    result = run_cli(limited_app(), "create", "cli-service", "--write-limit", limit)

    assert result.exit_code == 2
    assert "--write-limit" in result.output
    assert db.session.query(ApiKey).count() == 0


def test_set_limits_names_a_service_without_keys(limited_app, db):
    result = run_cli(limited_app(), "set-limits", "nobody", "--read-limit", "5/second")

    assert result.exit_code == 1
    assert "no active live key for service 'nobody'" in result.output


def test_inbox_reads_are_counted_per_recipient_on_the_read_budget(limited, auth):
    def inbox_headers(recipient: str) -> dict:
        token = limited.post(f"/v1/recipients/{recipient}/inbox-token", headers=auth).get_json()
        return {"Authorization": f"Bearer {token['token']}"}

    alice, bob = inbox_headers("alice-1"), inbox_headers("bob-1")
    answers = [limited.get("/v1/inbox/count", headers=alice).status_code for _ in range(6)]

    assert answers == [200] * 5 + [429]  # READS is 5 a minute
    error = assert_error(limited.get("/v1/inbox", headers=alice), 429)
    assert error["code"] == "rate_limited"
    assert limited.get("/v1/inbox/count", headers=bob).status_code == 200  # his own budget
