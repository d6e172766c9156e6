"""Flower's settings for Herald: `celery -A workers flower --conf=workers/flowerconfig.py`.

Flower executes this file (it is not imported) and takes every top-level name
that matches one of its options; helpers start with an underscore so they
never do. Each option here is a default that a FLOWER_<OPTION> variable
overrides (read with the rest of Herald's settings, common/config.py), and a
command-line flag overrides both.

The rule for logins: with FLOWER_BASIC_AUTH ("user:password", comma-separated
pairs) the UI and the HTTP API ask for one of them. Without it Flower listens
on the loopback interface only and its API is open to that machine, as the
embedded `make run` wants; asked to listen anywhere else, it refuses to start.
"""

import os

# Flower has already read the FLOWER_* variables and the command line when it
# runs this file (and reads the command line again afterwards, so flags win).
from tornado.options import options as _requested

from common.config import settings as _settings

_config = _settings()
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}

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
    # Flower reads this variable itself, per request (it has no option for it);
    # an explicit FLOWER_UNAUTHENTICATED_API=false still wins.
    os.environ.setdefault("FLOWER_UNAUTHENTICATED_API", "true")

# Workers, task history and counters survive a restart: saved every minute and at
# shutdown. Compose mounts a volume on $HERALD_VAR_DIR/flower.
persistent = _config.flower_persistent
db = str(_config.flower_db)
if persistent:
    _config.flower_db.parent.mkdir(parents=True, exist_ok=True)
state_save_interval = _config.flower_state_save_interval  # milliseconds

# A bounded history: Flower is the live view, the notification_events table is
# the record. The relay and the sweeper (every 2 s and 15 s) take a share of it.
max_tasks = _config.flower_max_tasks
max_workers = _config.flower_max_workers
# Replaced replicas (a compose re-creation names them after the new container)
# leave the dashboard a day after their last heartbeat.
purge_offline_workers = _config.flower_purge_offline_workers
