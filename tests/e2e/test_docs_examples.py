"""The curl examples of README.md and docs/*.md run as pasted against a real API under gunicorn.

Each page's API examples (the ```sh blocks that call http://127.0.0.1:8000) run in order in one
bash, as a reader pastes them one after another: in a directory whose var/dev-api-key holds a
key, as under `make run`, with only the API's address changed. Every request must answer 2xx.
Flower's examples need a Flower and are not run here.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.support.docs import ROOT, code_blocks, name, pages
from tests.support.processes import start_api
from tests.support.waiting import wait_until

MAKE_RUN_API = "http://127.0.0.1:8000"
# Each curl also reports its status on stderr; the examples' own output (stdout) is untouched.
REPORT_STATUS = """curl() { command curl --write-out '%{stderr}HTTP %{http_code} %{url_effective}\\n' "$@"; }
set -euo pipefail
"""


def api_examples(page) -> list[str]:
    return [block for block in code_blocks(page, "sh") if MAKE_RUN_API in block]


PAGES_WITH_EXAMPLES = [page for page in pages() if api_examples(page)]


@pytest.fixture(scope="module")
def api(app, log_dir):
    process, base = start_api(log_dir, name="api-docs")
    yield base
    process.stop()


@pytest.fixture
def reader_dir(tmp_path, db):
    """Where a reader pastes the examples: the repository root after `make run`, as far as the
    examples can tell (a development key in var/dev-api-key)."""
    from api.keys.service import create_api_key

    _key, secret = create_api_key("development")
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "dev-api-key").write_text(secret + "\n")
    return tmp_path


def run_as_pasted(blocks: list[str], base: str, where) -> subprocess.CompletedProcess:
    script = REPORT_STATUS + "\n".join(blocks).replace(MAKE_RUN_API, base)
    return subprocess.run(["bash", "-c", script], cwd=where, capture_output=True, text=True,
                          timeout=60)


def test_the_docs_have_api_examples():
    assert {name(page) for page in PAGES_WITH_EXAMPLES} >= {"README.md", "docs/api.md"}


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=name)
def test_every_api_example_runs_as_pasted(page, api, reader_dir):
    blocks = api_examples(page)

    result = run_as_pasted(blocks, api, reader_dir)

    statuses = re.findall(r"^HTTP (\d{3}) (\S+)$", result.stderr, re.M)
    calls = sum(len(re.findall(r"\bcurl ", block)) for block in blocks)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(statuses) == calls, result.stderr[-2000:]
    assert [(code, url) for code, url in statuses if not code.startswith("2")] == []
    for line in result.stdout.splitlines():
        json.loads(line)  # every answer the examples print is the API's JSON


def test_the_readme_first_notification_is_sent(api, reader_dir, push_pool):
    """The front page's promise: a moment after the POST, the listing it shows says `sent`."""
    send, follow = api_examples(ROOT / "README.md")[:2]
    read_key = send.splitlines()[0]
    assert read_key == "KEY=$(cat var/dev-api-key)"

    accepted = json.loads(run_as_pasted([send], api, reader_dir).stdout)

    def listed() -> dict:
        return json.loads(run_as_pasted([read_key, follow], api, reader_dir).stdout)["data"][0]

    wait_until(lambda: listed()["status"] == "sent", timeout=30,
               message="the README's first notification was not sent")
    assert listed()["id"] == accepted["id"]
