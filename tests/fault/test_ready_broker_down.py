"""/ready of a real API process whose path to RabbitMQ is cut: 503 naming the broker, quickly.

The API's Celery app is built once per process from BROKER_URL, so the API runs
under gunicorn with BROKER_URL pointing through a proxy that the test takes
down: refused (the broker is gone; connections are reset at once) and silent
(a partition; connections are accepted and never answered, so only /ready's
own timeouts bound it). The shared RabbitMQ itself is never stopped.
"""

from __future__ import annotations

import json
import os
import time

import requests

from api.health.service import BROKER_CHECK_TIMEOUT
from tests.fault.harness import Stopwatch, report, via_proxy
from tests.support.waiting import wait_until


def get_ready(base: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    response = requests.get(f"{base}/ready", timeout=30)
    return response.status_code, response.json(), time.monotonic() - started


def test_ready_names_the_broker_when_rabbitmq_is_unreachable(broker_proxy, fleet):
    base = fleet.api(env={"BROKER_URL": via_proxy(os.environ["BROKER_URL"], broker_proxy)}, workers=1)

    up_status, up_body, up_took = get_ready(base)
    assert (up_status, up_body["checks"]) == (200, {"database": "ok", "broker": "ok"}), up_body

    broker_proxy.down()
    refused_status, refused, refused_took = get_ready(base)
    broker_proxy.down(silent=True)
    silent_status, silent, silent_took = get_ready(base)
    broker_proxy.up()
    recovery = Stopwatch()
    # The next probe finds the broker again: /ready opens a fresh connection each time.
    wait_until(lambda: get_ready(base)[0] == 200, timeout=10,
               message="/ready did not recover once the broker was back")
    recovered_in = recovery()

    for status, body in ((refused_status, refused), (silent_status, silent)):
        assert status == 503, body
        assert body["status"] == "unavailable"
        assert body["down"] == ["broker"]
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["broker"].startswith("unreachable: ")
        assert {q["messages"] for q in body["queues"].values()} == {"unknown"}
    print(f"\n[fault] /ready, broker refused: {json.dumps(refused)}")
    print(f"[fault] /ready, broker silent: {json.dumps(silent)}")
    report("/ready with the broker cut", up_ms=up_took * 1000, refused_ms=refused_took * 1000,
           silent_ms=silent_took * 1000, refused_check=refused["checks"]["broker"],
           silent_check=silent["checks"]["broker"], up_again_to_200_ms=recovered_in * 1000)
    # Refused fails at once; silent waits out one connect timeout, no more.
    assert refused_took < 1.0
    assert silent_took < BROKER_CHECK_TIMEOUT + 1.0
