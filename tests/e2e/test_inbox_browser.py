"""The inbox demo page in headless Chromium, against a real API, stream and inapp pool.

An item posted while the page is open arrives live and the bell's count goes
up; a click marks it read and the count goes down, as "Mark all read" takes
it to zero. Caller text is shown as
text: markup in a title or body never runs. When the stream is cut (a TCP
proxy between the browser and the stream), the items posted meanwhile arrive
after the reconnect, each once and in order; when the token expires, the page
says so instead of retrying. With HERALD_SCREENSHOTS=1 the
test also saves the page as docs/inbox-demo.png, the README's picture.
"""

from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from common.config import PROJECT_ROOT, settings
from common.inbox.store import Inbox
from common.inbox.tokens import issue
from common.models import utcnow
from tests.support.broker import purge
from tests.support.browser import browser  # noqa: F401  (a fixture)
from tests.support.processes import start_api, start_worker, stop_all
from tests.support.realtime import start_realtime
from tests.support.settings import replace
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

SCREENSHOT = PROJECT_ROOT / "docs" / "inbox-demo.png"
# Caller text that would run if the page put it into the DOM as HTML.
HOSTILE_TITLE = '<img src=x onerror="window.injected = 1">'
HOSTILE_BODY = "<script>window.injected = 2</script><b>not bold</b>"
WAIT_MS = 30_000  # Playwright counts milliseconds; generous for a loaded machine
RECIPIENT = "browser-user-1"


@pytest.fixture(scope="module")
def stream_path():
    """The way from the browser to the stream: a TCP proxy a test can cut, up until then."""
    return {}


@pytest.fixture(scope="module")
def herald(app, log_dir, stream_path):
    """The demo page's API, the stream (behind `stream_path`'s proxy) and an inapp pool; the
    API's base URL."""
    started = []
    try:
        purge("inapp")
        started.append(start_worker("inapp", log_dir, concurrency=2))
        realtime, stream_base = start_realtime(log_dir, "realtime-browser")
        started.append(realtime)
        proxy = TcpProxy("127.0.0.1", urlsplit(stream_base).port)
        stream_path["proxy"] = proxy
        api, base = start_api(log_dir, name="api-demo", env={
            "INBOX_DEMO": "true",
            "INBOX_DEMO_STREAM_URL": f"http://127.0.0.1:{proxy.port}/v1/inbox/stream"})
        started.append(api)
        yield base
    finally:
        stop_all(started)
        if "proxy" in stream_path:
            stream_path.pop("proxy").close()


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


def listed_seqs(page) -> list[int]:
    return [int(seq) for seq in page.eval_on_selector_all("#items li", "items => items.map(i => i.dataset.seq)")]


def unread(client, token: str) -> int:
    return client.get("/v1/inbox/count", headers={"Authorization": f"Bearer {token}"}).get_json()["unread"]


def test_an_item_arrives_live_and_a_click_marks_it_read(browser, herald, client, auth):
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


def test_caller_text_is_shown_as_text_never_run(browser, herald, client, auth):
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


def test_after_a_drop_the_page_catches_up_once_and_in_order(browser, herald, stream_path, client,
                                                             auth):
    """Items posted while the stream is cut arrive after the reconnect (`?since=` the last seq
    shown), each once, in order, and the bell counts them all, without a reload."""
    token = inbox_token(client, auth)
    send_inapp(client, auth, "Listed", "there when the page opens")
    wait_until(lambda: unread(client, token) == 1, timeout=30, message="the first item was not delivered")
    page = browser.new_page()
    page.goto(f"{herald}/demo/inbox#token={token}")
    page.wait_for_selector("#state[data-state=live]", timeout=WAIT_MS)
    live = send_inapp(client, auth, "Live", "arrived on the stream before the drop")
    page.wait_for_selector(f"#items li[data-id='{live}']", timeout=WAIT_MS)
    shown, before = listed_seqs(page), 2
    proxy = stream_path["proxy"]

    proxy.down()  # the stream's connection is reset; reconnects are refused
    expect(page.locator("#state")).to_have_attribute("data-state", "reconnecting", timeout=WAIT_MS)
    missed = [send_inapp(client, auth, f"While away {n}", "posted during the drop") for n in range(5)]
    wait_until(lambda: unread(client, token) == before + 5, timeout=30,
               message="the inapp pool did not deliver the items posted during the drop")
    proxy.up()

    for item in missed:
        page.wait_for_selector(f"#items li[data-id='{item}']", timeout=WAIT_MS)
    expect(page.locator("#state")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
    expect(page.locator("#unread-count")).to_have_text(str(before + 5), timeout=WAIT_MS)
    seqs = listed_seqs(page)
    assert shown == [2, 1]
    assert seqs == [7, 6, 5, 4, 3, 2, 1]  # each once, newest first
    page.close()


def test_an_expired_token_ends_the_stream_and_the_page_says_so(browser, herald):
    # Signed as POST .../inbox-token signs, with a lifetime of seconds instead of an hour.
    short = replace(settings(), inbox_token_ttl=timedelta(seconds=4))
    token, _expires_at = issue(Inbox("browser-test-service", RECIPIENT), short, utcnow())
    page = browser.new_page()
    page.goto(f"{herald}/demo/inbox#token={token}")
    page.wait_for_selector("#state[data-state=live]", timeout=WAIT_MS)

    # The stream closes at expiry; the client asks the API, hears 401 and stops retrying.
    expect(page.locator("#state")).to_have_attribute("data-state", "expired", timeout=WAIT_MS)
    assert "expired" in page.inner_text("#state")
    page.close()


def test_mark_all_read_reads_what_the_page_shows(browser, herald, client, auth):
    token = inbox_token(client, auth)
    for n in range(3):
        send_inapp(client, auth, f"Item {n}", "to be read all at once")
    wait_until(lambda: unread(client, token) == 3, timeout=30, message="the items were not delivered")
    page = browser.new_page()
    page.goto(f"{herald}/demo/inbox#token={token}")
    page.wait_for_selector("#state[data-state=live]", timeout=WAIT_MS)
    expect(page.locator("#unread-count")).to_have_text("3", timeout=WAIT_MS)

    page.click("#read-all")

    expect(page.locator("#unread-count")).to_have_text("0", timeout=WAIT_MS)
    expect(page.locator("#items li.unread")).to_have_count(0)
    assert unread(client, token) == 0
    page.close()
