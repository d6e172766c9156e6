"""The end-of-run log scan (tests/support/log_scan.py) finds each kind of leak, and not masked values."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.support.log_scan import scan

TOKEN = "fcm-device-token-0123456789"


def kinds(tmp_path, text: str, exact=frozenset()) -> list[str]:
    log = tmp_path / "worker.log"
    log.write_text(text)
    findings, files, lines = scan([log, tmp_path / "missing.log"], set(exact))
    assert (files, lines) == (1, text.count("\n"))
    return [finding.kind for finding in findings]


def test_each_kind_of_leak_is_found(tmp_path):
    text = ("GET /v1/notifications hrd_live_AbCdEf123456\n"
            "to ada.lovelace@example.com\n"
            "sms to +447700900123 accepted\n"
            "Authorization: Bearer ya29.fake-abcdefghijkl\n"
            "-----BEGIN PRIVATE KEY-----\n"
            f"push to {TOKEN} sent\n")

    assert kinds(tmp_path, text, {TOKEN}) == ["api key", "email address", "phone number",
                                              "oauth token", "private key", "stored value or secret"]


def test_masked_values_and_heralds_own_addresses_are_not_leaks(tmp_path):
    text = ("smtp n-1 to a***@example.com accepted\n"
            "sms to +4477******23, key hrd_live_[hidden]\n"
            f"push to {TOKEN[:6]}… sent, from notifications@herald.example\n"
            f"at {datetime.now(timezone.utc).isoformat()}, 12 ms\n")

    assert kinds(tmp_path, text, {TOKEN}) == []


def test_a_finding_does_not_repeat_what_it_found(tmp_path):
    log = tmp_path / "api.log"
    log.write_text(f"push to {TOKEN}\n")

    [finding] = scan([log], {TOKEN})[0]

    assert TOKEN not in str(finding) and str(finding).startswith(f"{log}:1: ")
