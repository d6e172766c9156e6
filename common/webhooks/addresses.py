"""Where a webhook may be sent: https, to a name that resolves only to global addresses.

Server-side request forgery: a caller's URL must not reach loopback,
private, link-local or any other non-global address of our own network. The
check runs when an endpoint is created and again at every attempt, and the
attempt connects to the very address it vetted (a name that resolves
elsewhere the second time, DNS rebinding, cannot slip through).
`WEBHOOK_ALLOW_PRIVATE_URLS` lifts it for development and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL = 2048


class Refused(ValueError):
    """The URL may not be called; the message says why, in words for the caller."""


@dataclass(frozen=True)
class Target:
    """A vetted URL: the name to send as Host and SNI, and the address to connect to."""

    scheme: str
    host: str
    port: int
    path: str  # with its query
    address: str


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """What is wrong with the form of `url`, before any lookup; None when nothing is."""
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return "not a valid URL"
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        return "must be an https:// URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if any(ord(c) < 0x21 or ord(c) == 0x7f for c in url):
        return "must not contain spaces or control characters"
    return None


def resolve(url: str, *, allow_private: bool) -> Target:
    """The address to connect to for `url`, or Refused (checked as `url_problem` and by address)."""
    if problem := url_problem(url, allow_private=allow_private):
        raise Refused(problem)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused("its host name does not resolve") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise Refused("its host name does not resolve")
    if not allow_private:
        # Every address must be global: a name answering with one private address among
        # public ones could be steered to it by the resolver's order.
        for address in addresses:
            if not _global(address):
                raise Refused("resolves to a loopback, private or otherwise non-public address")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


def _global(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
