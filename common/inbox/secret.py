"""The inbox token secret of the embedded setup: made once under var/, shared by every local process."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_NAME = "inbox-token-secret"


def local_secret(var_dir: Path) -> str:
    """The secret in var/inbox-token-secret, written (owner-only) by the first process that asks."""
    path = Path(var_dir) / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process made it; it may still be writing the line.
        for _ in range(100):
            if value := path.read_text().strip():
                return value
            os.sched_yield()
        raise RuntimeError(f"{path} is empty: delete it, or set INBOX_TOKEN_SECRET") from None
    value = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    return value
