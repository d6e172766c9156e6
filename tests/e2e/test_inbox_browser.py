"""The inbox demo page in headless Chromium, against a real API, stream and inapp pool.

An item posted while the page is open arrives live and the bell's count goes
up; a click marks it read and the count goes down. Caller text is shown as
text: markup in a title or body never runs. With HERALD_SCREENSHOTS=1 the
test also saves the page as docs/inbox-demo.png, the README's picture.
"""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from common.config import PROJECT_ROOT
from tests.support.broker import purge
from tests.support.browser import browser  # noqa: F401  (a fixture)
from tests.support.processes import start_api, start_worker, stop_all
from tests.support.realtime import start_realtime

SCREENSHOT = PROJECT_ROOT / "docs" / "inbox-demo.png"
# Caller text that would run if the page put it into the DOM as HTML.
HOSTILE_TITLE = '<img src=x onerror="window.injected = 1">'
HOSTILE_BODY = "<script>window.injected = 2</script><b>not bold</b>"
WAIT_MS = 30_000  # Playwright counts milliseconds; generous for a loaded machine
RECIPIENT = "browser-user-1"


@pytest.fixture(scope="module")
def herald(app, log_dir):
    """The demo page's API, the stream and an inapp pool; the API's base URL."""
    started = []
    try:
        purge("inapp")
        started.append(start_worker("inapp", log_dir, concurrency=2))
        realtime, stream_base = start_realtime(log_dir, "realtime-browser")
        started.append(realtime)
        api, base = start_api(log_dir, name="api-demo", env={
            "INBOX_DEMO": "true", "INBOX_DEMO_STREAM_URL": f"{stream_base}/v1/inbox/stream"})
        started.append(api)
        yield base
    finally:
        stop_all(started)


def send_inapp(client, auth, title: str, body: str) -> str:
    response = client.post("/v1/notifications", headers=auth, json={
        "channel": "inapp", "to": RECIPIENT, "content": {"title": title, "body": body}})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def inbox_token(client, auth) -> str:
    response = client.post(f"/v1/recipients/{RECIPIENT}/inbox-token", headers=auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def bell(page) -> str:
    return page.inner_text("#unread-count")


def test_an_item_arrives_live_and_a_click_marks_it_read(herald, browser, client, auth):
    earlier = send_inapp(client, auth, "Welcome to Herald", "Your inbox is ready.")
    token = inbox_token(client, auth)
    page = browser.new_page(viewport={"width": 720, "height": 260})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{herald}/demo/inbox#token={token}")
    page.wait_for_selector(f"#items li[data-id='{earlier}']", timeout=WAIT_MS)
    page.wait_for_selector("#state[data-state=live]", timeout=WAIT_MS)
    assert bell(page) == "1"
    assert token not in page.url  # taken out of the address bar once read

    arrived = send_inapp(client, auth, "Your order shipped", "Arriving on Tuesday.")
    page.wait_for_selector(f"#items li[data-id='{arrived}']", timeout=WAIT_MS)  # no reload
    expect(page.locator("#unread-count")).to_have_text("2", timeout=WAIT_MS)
    assert page.eval_on_selector_all("#items li", "items => items.map(i => i.dataset.id)") == [
        arrived, earlier]  # newest first
    if os.environ.get("HERALD_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOT))

    page.click(f"#items li[data-id='{arrived}']")
    expect(page.locator("#unread-count")).to_have_text("1", timeout=WAIT_MS)
    assert page.get_attribute(f"#items li[data-id='{arrived}']", "class") == "item read"
    counts = client.get("/v1/inbox/count", headers={"Authorization": f"Bearer {token}"})
    assert counts.get_json()["unread"] == 1  # the API agrees with the bell
    assert errors == []
    page.close()


def test_caller_text_is_shown_as_text_never_run(herald, browser, client, auth):
    token = inbox_token(client, auth)
    # Without the page's Content-Security-Policy, which would block an inline handler on its
    # own: what is checked here is that the page never parses caller text as HTML.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{herald}/demo/inbox#token={token}")
    page.wait_for_selector("#state[data-state=live]", timeout=WAIT_MS)

    hostile = send_inapp(client, auth, HOSTILE_TITLE, HOSTILE_BODY)

    item = f"#items li[data-id='{hostile}']"
    page.wait_for_selector(item, timeout=WAIT_MS)
    assert page.inner_text(f"{item} .title") == HOSTILE_TITLE
    assert page.inner_text(f"{item} .body") == HOSTILE_BODY
    assert page.query_selector_all("#items img, #items script, #items b") == []
    assert page.evaluate("window.injected") is None
    context.close()
