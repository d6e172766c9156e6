"""Fixtures for the API tests: a second calling service."""

from __future__ import annotations

import pytest


@pytest.fixture
def other_auth(db):
    """Credentials of a different calling service, to check that services are kept apart."""
    from api.keys.service import create_api_key

    _key, secret = create_api_key("other-service")
    return {"Authorization": f"Bearer {secret}"}
