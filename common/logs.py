"""Log lines for people (`LOG_FORMAT=text`) or for collectors (`json`), and address masking.

In JSON every record is one line: an object with `ts`, `level`, `logger`,
`message`, the process, the Celery task when there is one, and the record's
structured fields (`extra=fields(...)`). A delivery's line carries the
notification id, channel, attempt, worker, outcome and a masked address, so no
raw email address, phone number or push token reaches the logs.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from celery import current_task

from common import channels

# The LogRecord attribute that carries a record's structured fields.
FIELDS = "herald_fields"


def fields(**values) -> dict:
    """`extra=` for a log call: fields that the JSON format puts at the top level."""
    return {FIELDS: values}


# --- masking ------------------------------------------------------------------------------------

def mask_recipient(channel: str, address: str | None) -> str | None:
    """The address of a notification on `channel`, fit for a log line (each channel masks its own)."""
    if not address:
        return address
    if channel not in channels.names():
        return "***"  # no channel knows this address's shape: show none of it
    return channels.channel(channel).mask(address)


# --- formats ------------------------------------------------------------------------------------

def _current_task():
    """The Celery task this process is running, if any (None outside a worker's task)."""
    task = current_task._get_current_object() if current_task else None
    return task if task is not None and task.request.id else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the record's structured fields at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc)
                          .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "process_name": record.processName,
        }
        task = _current_task()
        if task is not None:
            entry["task"] = task.name
            entry["task_id"] = task.request.id
        for name, value in (getattr(record, FIELDS, None) or {}).items():
            entry.setdefault(name, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # json.dumps escapes newlines, so a traceback stays on its line.
        return json.dumps(entry, ensure_ascii=False, default=str)


def use_json(*loggers: logging.Logger) -> None:
    """Give every handler of these loggers the JSON format (keeping where they write)."""
    formatter = JsonFormatter()
    for logger in loggers:
        for handler in logger.handlers:
            handler.setFormatter(formatter)


def json_to_stderr(level: int = logging.INFO) -> None:
    """Root logs as JSON on stderr, for a process nobody else configures logging for."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
