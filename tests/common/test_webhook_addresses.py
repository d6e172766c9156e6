"""Server-side request forgery: production refuses URLs that reach our own network, at every step.

The resolver is the network edge here: `socket.getaddrinfo` answers as a DNS
server would, so a name can resolve to a public address once and to a private
one the next time (DNS rebinding).
"""

from __future__ import annotations

import socket

import pytest

from common.webhooks.addresses import Refused, resolve, url_problem


def answering(monkeypatch, *addresses_per_call):
    """Make the resolver answer each call with the next list of addresses."""
    answers = list(addresses_per_call)
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        calls.append(host)
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.5", "192.168.1.1", "169.254.169.254",
    "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "224.0.0.1",
])
def test_a_name_resolving_to_a_non_public_address_is_refused(monkeypatch, address):
    answering(monkeypatch, [address])

    with pytest.raises(Refused, match="non-public"):
        resolve("https://hooks.example.net/in", allow_private=False)


@pytest.mark.parametrize("url", ["https://127.0.0.1/in", "https://[::1]/in", "https://10.0.0.1/in",
                                 "https://localhost/in"])
def test_loopback_and_private_literals_are_refused(url):
    with pytest.raises(Refused):
        resolve(url, allow_private=False)


def test_one_private_address_among_public_ones_is_refused(monkeypatch):
    answering(monkeypatch, ["93.184.215.14", "10.0.0.7"])

    with pytest.raises(Refused):
        resolve("https://hooks.example.net/in", allow_private=False)


def test_a_public_name_is_vetted_once_and_its_address_kept(monkeypatch):
    calls = answering(monkeypatch, ["93.184.215.14"])

    target = resolve("https://hooks.example.net:8443/in?x=1", allow_private=False)

    assert (target.host, target.port, target.path, target.address) == (
        "hooks.example.net", 8443, "/in?x=1", "93.184.215.14")
    assert calls == ["hooks.example.net"]


def test_dns_rebinding_is_refused_at_send_time(monkeypatch):
    """Public when the endpoint was created, loopback at the attempt: the attempt refuses."""
    answering(monkeypatch, ["93.184.215.14"], ["127.0.0.1"])

    resolve("https://rebind.example.net/in", allow_private=False)  # creation: accepted
    with pytest.raises(Refused):
        resolve("https://rebind.example.net/in", allow_private=False)  # the attempt


@pytest.mark.parametrize("url", ["http://hooks.example.net/in", "ftp://hooks.example.net/in",
                                 "https:///in", "https://a b.example/in"])
def test_production_takes_https_urls_with_a_host_only(url):
    assert url_problem(url, allow_private=False) is not None


def test_the_development_setting_allows_http_and_loopback():
    assert url_problem("http://127.0.0.1:8080/in", allow_private=True) is None
    assert resolve("http://127.0.0.1:8080/in", allow_private=True).address == "127.0.0.1"
