"""A small Server-Sent Events client for the stream tests: the wire format read line by line."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import requests


@dataclass
class Event:
    event: str
    data: dict
    id: int | None = None


@dataclass
class EventStream:
    """GET /v1/inbox/stream; `events()` yields what arrives, comments included as ("comment", text)."""

    base: str
    token: str
    last_event_id: int | None = None
    read_timeout: float = 30.0
    comments: list[str] = field(default_factory=list)

    def __post_init__(self):
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        self.response = requests.get(f"{self.base}/v1/inbox/stream", headers=headers, stream=True,
                                     timeout=(5, self.read_timeout))
        self._lines = self.response.iter_lines(chunk_size=1, decode_unicode=True)

    def next(self) -> Event | str | None:
        """The next event, or a comment's text; None when the server closed the stream."""
        fields: dict[str, str] = {}
        for line in self._lines:
            if line == "":
                if fields:
                    return Event(fields.get("event", "message"), json.loads(fields.get("data", "{}")),
                                 int(fields["id"]) if "id" in fields else None)
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                return line[1:].strip()
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        return None

    def wait_subscribed(self) -> None:
        while (item := self.next()) != "subscribed":
            if item is None:
                raise AssertionError("the stream closed before it subscribed")

    def notifications(self, count: int, timeout: float = 60.0) -> list[Event]:
        """The next `count` notification events (count events and comments skipped)."""
        found, deadline = [], time.monotonic() + timeout
        while len(found) < count:
            assert time.monotonic() < deadline, f"only {len(found)} of {count} notifications came"
            item = self.next()
            assert item is not None, f"the stream closed after {len(found)} of {count}"
            if isinstance(item, Event) and item.event == "notification":
                found.append(item)
        return found

    def counts(self, count: int, timeout: float = 30.0) -> list[dict]:
        """The data of the next `count` count events (other events and comments skipped)."""
        found, deadline = [], time.monotonic() + timeout
        while len(found) < count:
            assert time.monotonic() < deadline, f"only {len(found)} of {count} count events came"
            item = self.next()
            assert item is not None, "the stream closed"
            if isinstance(item, Event) and item.event == "count":
                found.append(item.data)
        return found

    def until_keepalive(self) -> list[Event]:
        """Every event before the next keepalive comment: what the stream had left to send."""
        found = []
        while (item := self.next()) != "keepalive":
            assert item is not None, "the stream closed"
            if isinstance(item, Event):
                found.append(item)
        return found

    def everything(self) -> list[Event]:
        """Every event until the server closes the stream (its token expired)."""
        found = []
        while (item := self.next()) is not None:
            if isinstance(item, Event):
                found.append(item)
        return found

    def close(self) -> None:
        self.response.close()
