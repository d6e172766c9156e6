"""Rate limit settings: defaults that need no server (`make run`), errors naming bad values."""

import pytest

from common.config import ConfigError, load_settings


def test_the_default_counts_in_memory_with_budgets_for_writes_and_reads(monkeypatch):
    for name in ("RATE_LIMIT_STORAGE_URL", "RATE_LIMIT_WRITES", "RATE_LIMIT_READS",
                 "RATE_LIMITS_ENABLED"):
        monkeypatch.delenv(name, raising=False)

    config = load_settings()

    assert config.rate_limits_enabled
    assert config.rate_limit_storage_url == "memory://"
    assert config.rate_limit_writes == "50/second;3000/minute"
    assert config.rate_limit_reads == "100/second;6000/minute"


@pytest.mark.parametrize("name, value", [
    ("RATE_LIMIT_WRITES", "fast"),
    ("RATE_LIMIT_WRITES", "0/second"),
    ("RATE_LIMIT_READS", "100/fortnight"),
    ("RATE_LIMIT_READS", "5/second;" * 30),
    ("RATE_LIMIT_STORAGE_URL", "memcached://cache:11211"),
    ("RATE_LIMIT_STORAGE_URL", "127.0.0.1:6379"),
])
def test_a_malformed_value_names_its_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_the_storage_password_stays_out_of_the_settings_repr(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_STORAGE_URL", "redis://:very-secret@cache:6379/0")

    config = load_settings()

    assert config.rate_limit_storage_url == "redis://:very-secret@cache:6379/0"
    assert "very-secret" not in repr(config)
