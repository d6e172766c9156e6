"""docker-compose.yml gives the API a Redis for its shared rate limits.

Checked as YAML: there is no Docker engine here to run `docker compose config`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import yaml

from common.config import PROJECT_ROOT, load_settings

DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def with_defaults(value: str) -> str:
    """What compose makes of `${NAME:-default}` when NAME is unset."""
    return DEFAULTED.sub(lambda match: match.group(2), value)


def test_redis_runs_healthy_unpublished_and_with_a_password():
    redis = compose()["services"]["redis"]

    assert redis["image"].startswith("redis:")
    assert "ports" not in redis  # only the API reaches it, on the compose network
    assert redis["healthcheck"]["test"][:2] == ["CMD", "redis-cli"]
    command = redis["command"]
    assert with_defaults(command[command.index("--requirepass") + 1]) == "herald"


def test_the_api_counts_its_rate_limits_in_that_redis():
    api = compose()["services"]["api"]
    url = with_defaults(api["environment"]["RATE_LIMIT_STORAGE_URL"])

    parts = urlsplit(url)
    assert (parts.scheme, parts.hostname, parts.port, parts.password) == \
        ("redis", "redis", 6379, "herald")
    assert api["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert api["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    # The API keeps every other setting of the shared environment.
    assert api["environment"]["DATABASE_URL"].startswith("postgresql+psycopg2://")


def test_the_compose_url_is_one_the_settings_accept(monkeypatch):
    url = with_defaults(compose()["services"]["api"]["environment"]["RATE_LIMIT_STORAGE_URL"])
    monkeypatch.setenv("RATE_LIMIT_STORAGE_URL", url)

    assert load_settings().rate_limit_storage_url == url
