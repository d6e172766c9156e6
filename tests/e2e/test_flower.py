"""Flower as operators run it: a real process with a login, watching the three real pools.

Flower runs with Herald's settings (workers/flowerconfig.py) against this run's
RabbitMQ vhost; everything is checked through its HTTP API, as a script or a
dashboard of an operator's would read it.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
import requests

from common.config import PROJECT_ROOT
from tests.support.factories import BODIES
from tests.support.processes import CELERY, HeraldProcess
from tests.support.waiting import wait_until

CHANNELS = ("push", "email", "sms")
LOGIN = ("operator", "s3cret-pass")
CONF = "--conf=workers/flowerconfig.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Flower:
    """A Flower process on a free loopback port, and a way to call its API."""

    def __init__(self, log_dir: Path, env: dict[str, str], name: str = "flower"):
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = HeraldProcess(
            name, [*CELERY, "flower", CONF, f"--port={self.url.rsplit(':', 1)[1]}"], log_dir, env
        )
        self.process.wait_for_log("Visit me at")
        wait_until(self._answers, timeout=15, message=f"{name} does not answer")

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthcheck", timeout=2).ok
        except requests.ConnectionError:
            return False

    def get(self, path: str, auth=LOGIN, **params) -> requests.Response:
        return requests.get(f"{self.url}{path}", params=params, auth=auth, timeout=10)

    def api(self, path: str, **params):
        response = self.get(path, **params)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture(scope="module")
def flower(broker, log_dir):
    started = Flower(log_dir, {"FLOWER_BASIC_AUTH": ":".join(LOGIN) + ",viewer:other-pass"})
    yield started
    started.stop()


def pools_known_to(flower: Flower) -> set[str]:
    """Pools whose events Flower has received (worker-online, heartbeats)."""
    alive = flower.api("/api/workers", status=1)
    return {name.split("@")[0] for name, up in alive.items() if up}


def delivered_tasks(flower: Flower, ids: dict[str, str]) -> dict[str, dict] | None:
    """Flower's task for each notification id, once all of them have succeeded."""
    tasks = flower.api("/api/tasks", state="SUCCESS").values()
    found = {}
    for task in tasks:
        for nid in ids:
            if nid in (task.get("args") or ""):
                found[nid] = task
    return found if set(found) == set(ids) else None


def test_flower_shows_each_pool_and_its_deliveries_to_a_logged_in_operator(
        client, auth, pools, flower, log_dir):
    # Flower has to be listening to events before the tasks it should show run.
    wait_until(lambda: set(CHANNELS) <= pools_known_to(flower), timeout=15,
               message="Flower never heard from the three pools")

    ids = {}
    for channel in CHANNELS:
        for _ in range(2):
            response = client.post("/v1/notifications", json=BODIES[channel](), headers=auth)
            assert response.status_code == 202, response.get_json()
            ids[response.get_json()["id"]] = channel

    # Without a login, or with a wrong one, neither the API nor the UI answers.
    for path in ("/api/workers", "/api/tasks", "/", "/workers"):
        assert flower.get(path, auth=None).status_code == 401, path
        assert flower.get(path, auth=("operator", "wrong")).status_code == 401, path
    assert flower.get("/api/workers", auth=("viewer", "other-pass")).status_code == 200

    # The pools, by asking them over the broker (celery inspect).
    workers = flower.api("/api/workers", refresh=1)
    names = {name.split("@")[0]: name for name in workers}
    assert set(CHANNELS) <= set(names), sorted(workers)
    for channel in CHANNELS:
        queues = [q["name"] for q in workers[names[channel]]["active_queues"]]
        assert queues == [channel], (channel, queues)

    # Each delivery: named for its channel, run by that channel's pool, with the
    # notification id as the first argument.
    tasks = wait_until(lambda: delivered_tasks(flower, ids), timeout=20,
                       message="Flower does not list every delivery as SUCCESS")
    for nid, task in tasks.items():
        channel = ids[nid]
        assert task["name"] == f"herald.deliver.{channel}"
        assert task["worker"].startswith(f"{channel}@")
        assert task["args"].startswith(f"['{nid}', "), task["args"]
        assert task["result"] == "'sent'"
    # What docs/monitoring.md tells an operator to type to find a notification's tasks.
    some_id = next(iter(ids))
    assert [t["args"] for t in flower.api("/api/tasks", search=f"args:{some_id}").values()] == [
        tasks[some_id]["args"]]

    # The history survives a restart: saved at shutdown under HERALD_VAR_DIR/flower.
    flower.stop()
    assert list((Path(os.environ["HERALD_VAR_DIR"]) / "flower").glob("flower-state*"))
    restarted = Flower(log_dir, {"FLOWER_BASIC_AUTH": ":".join(LOGIN)}, name="flower-restarted")
    try:
        remembered = delivered_tasks(restarted, ids)
        assert remembered is not None and set(remembered) == set(ids)
    finally:
        restarted.stop()


def test_without_a_login_flower_serves_its_api_on_loopback_only(broker, log_dir, tmp_path):
    no_login = {"FLOWER_BASIC_AUTH": "", "FLOWER_DB": str(tmp_path / "flower-state")}
    open_flower = Flower(log_dir, no_login, name="flower-no-login")
    try:
        assert open_flower.get("/api/workers", auth=None, status=1).status_code == 200
    finally:
        open_flower.stop()

    refused = subprocess.run(
        [*CELERY, "flower", CONF, "--address=0.0.0.0", f"--port={free_port()}"], check=False,
        cwd=PROJECT_ROOT, env={**os.environ, **no_login}, capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode != 0
    assert "set FLOWER_BASIC_AUTH" in refused.stderr
