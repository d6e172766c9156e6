"""Reading the sandbox provider's outbox files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


class Outbox:
    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def clear(self) -> None:
        for file in self.directory.glob("*.jsonl"):
            file.unlink()

    def deliveries(self, channel: str) -> list[dict]:
        file = self.directory / f"{channel}.jsonl"
        if not file.exists():
            return []
        return [json.loads(line) for line in file.read_text().splitlines() if line]

    def counts(self, channel: str) -> Counter:
        """How many times each notification id was delivered."""
        return Counter(d["notification_id"] for d in self.deliveries(channel))
