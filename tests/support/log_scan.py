"""After a run: search every log the run's Herald processes wrote for addresses, keys, tokens and secrets.

The haystack is each log file a test process wrote (tests/support/processes.py,
gunicorn and Celery output whole, not only their log records) plus the
in-process API's and workers' log records (tests/conftest.py writes them to a
file). The needles:

- shapes: a Herald API key, an email address, an E.164 phone number, a Google
  OAuth access token, a PEM private key;
- exact values: every recipient address, phone number and push token the
  run stored (remembered as the rows are written), and every secret the test
  modules configured vendors with (module constants named *PASSWORD,
  *AUTH_TOKEN, *SECRET).

Herald's own sender addresses are not personal data and are allowed.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event

SHAPES = {
    "api key": re.compile(r"hrd_(?:live|test)_[\w-]{4,}"),
    # (no `*` in the local part: a masked address, a***@example.com, is not one)
    "email address": re.compile(r"[\w.!#$%&'+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+"),
    "phone number": re.compile(r"(?<![\w+])\+\d{7,15}(?!\d)"),
    "oauth token": re.compile(r"ya29\.[\w-]{8,}"),
    "inbox token": re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
# Where Herald's own mail comes from: configuration, not a person's address.
ALLOWED = {"notifications@herald.example", "support@herald.example", "notify@herald.test",
           "herald@example.com"}
SECRET_NAMES = re.compile(r"(?:^|_)(?:PASSWORD|AUTH_TOKEN|SECRET)$")
MIN_EXACT = 8  # shorter values (a token "t1") would match ordinary words

# Values the run stored that may identify a person or a device.
stored_values: set[str] = set()


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    kind: str
    excerpt: str  # masked: the report must not leak what it found

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.excerpt}"


def remember_stored_values() -> None:
    """Listen to the ORM: every notification's recipient and recipient's addresses, as written."""
    from common.models import Notification, Recipient

    @event.listens_for(Notification, "before_insert", propagate=True)
    def _notification(_mapper, _connection, row):
        stored_values.add(row.recipient)

    @event.listens_for(Recipient, "before_insert", propagate=True)
    @event.listens_for(Recipient, "before_update", propagate=True)
    def _recipient(_mapper, _connection, row):
        stored_values.update([row.email, row.phone, *(row.push_tokens or [])])


def configured_secrets() -> set[str]:
    """The secrets test modules gave the fake vendors (constants such as SMTP_PASSWORD)."""
    found = set()
    for name, module in list(sys.modules.items()):
        if not name.startswith("tests.") or module is None:
            continue
        for attribute, value in vars(module).items():
            if isinstance(value, str) and SECRET_NAMES.search(attribute):
                found.add(value)
    return found


def _masked(text: str) -> str:
    return f"{text[:3]}…({len(text)} characters)"


def _exact_pattern(values: set[str]) -> re.Pattern | None:
    values = sorted((v for v in values if isinstance(v, str) and len(v) >= MIN_EXACT),
                    key=len, reverse=True)
    return re.compile("|".join(map(re.escape, values))) if values else None


def scan(paths, exact: set[str]) -> tuple[list[Finding], int, int]:
    """(findings, files read, lines read) over the files that exist among `paths`."""
    exact_pattern = _exact_pattern(exact)
    findings, files, lines = [], 0, 0
    for path in sorted({Path(p) for p in paths}):
        if not path.is_file():
            continue
        files += 1
        with path.open(errors="replace") as log:
            for number, line in enumerate(log, 1):
                lines += 1
                for kind, pattern in SHAPES.items():
                    findings += [Finding(path, number, kind, _masked(m.group()))
                                 for m in pattern.finditer(line) if m.group() not in ALLOWED]
                if exact_pattern is not None:
                    findings += [Finding(path, number, "stored value or secret", _masked(m.group()))
                                 for m in exact_pattern.finditer(line)]
    return findings, files, lines
