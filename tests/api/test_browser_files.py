"""The inbox client and the demo page as the API serves them: the page only when INBOX_DEMO is on."""

from __future__ import annotations

import pytest

from common.config import settings
from tests.api.helpers import assert_error
from tests.support.settings import replace


@pytest.fixture
def demo_client(app, db):
    from api import create_app

    return create_app(replace(settings(), inbox_demo=True)).test_client()


def test_the_demo_page_is_off_by_default(client):
    assert_error(client.get("/demo/inbox"), 404)
    assert_error(client.get("/static/inbox-demo.js"), 404)


def test_the_client_is_served_even_with_the_demo_off(client):
    response = client.get("/static/herald-inbox.js")

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert "global.HeraldInbox = {" in response.get_data(as_text=True)


def test_the_demo_page_loads_only_its_own_scripts(demo_client):
    response = demo_client.get("/demo/inbox")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert '<script src="/static/herald-inbox.js"></script>' in page
    assert '<script src="/static/inbox-demo.js"></script>' in page
    assert "<script>" not in page  # no inline script: the policy below forbids them
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert response.headers["Referrer-Policy"] == "no-referrer"
    for asset in ("/static/inbox-demo.js", "/static/inbox-demo.css"):
        assert demo_client.get(asset).status_code == 200


def test_the_demo_page_allows_the_configured_stream_origin(app, db):
    from api import create_app

    config = replace(settings(), inbox_demo=True,
                     inbox_demo_stream_url="http://127.0.0.1:8001/v1/inbox/stream")
    response = create_app(config).test_client().get("/demo/inbox")

    assert "connect-src 'self' http://127.0.0.1:8001;" in response.headers["Content-Security-Policy"]
    assert 'data-stream-url="http://127.0.0.1:8001/v1/inbox/stream"' in response.get_data(as_text=True)


def test_only_the_browser_files_are_served(demo_client):
    assert_error(demo_client.get("/static/../api/__init__.py"), 404)
    assert_error(demo_client.get("/static/inbox-demo.html"), 404)
    assert_error(demo_client.get("/static/views.py"), 404)
    assert_error(demo_client.get("/demo/inbox-demo.js"), 404)
