"""Flower's settings for Herald: `celery -A workers flower --conf=workers/flowerconfig.py`.

Flower executes this file (it is not imported) and takes every top-level name
that matches one of its options; helpers start with an underscore so they
never do. Each option here is a default that a FLOWER_<OPTION> variable
overrides, and a command-line flag overrides both.

The rule for logins: with FLOWER_BASIC_AUTH ("user:password", comma-separated
pairs) the UI and the HTTP API ask for one of them. Without it Flower listens
on the loopback interface only and its API is open to that machine, as the
embedded `make run` wants; asked to listen anywhere else, it refuses to start.
"""

import os
from pathlib import Path

# Flower has already read the FLOWER_* variables and the command line when it
# runs this file (and reads the command line again afterwards, so flags win).
from tornado.options import options as _requested

from common.config import PROJECT_ROOT as _PROJECT_ROOT

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _number(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


# An empty FLOWER_BASIC_AUTH (compose passes one when it is unset) means no login,
# not a login nobody can give.
basic_auth = [pair.strip() for pair in _requested.basic_auth or [] if pair.strip()]
if any(":" not in pair for pair in basic_auth):
    raise SystemExit("FLOWER_BASIC_AUTH must be user:password pairs separated by commas")

address = _requested.address or "127.0.0.1"
if not basic_auth:
    if address not in _LOOPBACK:
        raise SystemExit(
            f"Flower without a login listens on 127.0.0.1 only: set FLOWER_BASIC_AUTH=user:password "
            f"to listen on {address}"
        )
    # Flower reads this per request; an explicit FLOWER_UNAUTHENTICATED_API=false still wins.
    os.environ.setdefault("FLOWER_UNAUTHENTICATED_API", "true")

# Workers, task history and counters survive a restart: saved every minute and at
# shutdown. Compose mounts a volume on $HERALD_VAR_DIR/flower.
_state_dir = Path(os.environ.get("HERALD_VAR_DIR") or _PROJECT_ROOT / "var") / "flower"
persistent = os.environ.get("FLOWER_PERSISTENT", "true").strip().lower() in {"1", "true", "yes", "on"}
db = os.environ.get("FLOWER_DB") or str(_state_dir / "flower-state")
if persistent:
    Path(db).parent.mkdir(parents=True, exist_ok=True)
state_save_interval = _number("FLOWER_STATE_SAVE_INTERVAL", 60_000)  # milliseconds

# A bounded history: Flower is the live view, the notification_events table is
# the record. The relay and the sweeper (every 2 s and 15 s) take a share of it.
max_tasks = _number("FLOWER_MAX_TASKS", 10_000)
max_workers = _number("FLOWER_MAX_WORKERS", 500)
# Replaced replicas (a compose re-creation names them after the new container)
# leave the dashboard a day after their last heartbeat.
purge_offline_workers = _number("FLOWER_PURGE_OFFLINE_WORKERS", 24 * 3600)
