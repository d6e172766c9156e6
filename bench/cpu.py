"""Who used the CPUs during a phase: PostgreSQL, RabbitMQ, the API, the workers and the rest, from /proc."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1


def _process_ticks() -> dict[int, tuple[str, int, int]]:
    """pid -> (command name, session id, user + system ticks) of every process we may read."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue  # it exited meanwhile
        name = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        # After the name: state ppid pgrp session ... utime (11) stime (12).
        found[int(entry.name)] = (name, int(fields[3]), int(fields[11]) + int(fields[12]))
    return found


def _machine_busy_ticks() -> int:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values[:8]) - idle


def _group_of(pid: int, name: str, session: int, sessions: dict[int, str]) -> str | None:
    if pid == os.getpid():
        return "bench"  # polling, seeding, and the FCM fake of drain_latency
    if session in sessions:
        return sessions[session]
    if name.startswith("postgres") or name == "postmaster":
        return "postgres"
    if name == "beam.smp":
        return "rabbitmq"
    return None


@dataclass
class CpuSplit:
    """Cores used on average by each group over a window (2.0 = both CPUs of this machine)."""

    seconds: float
    cores: dict[str, float]

    def describe(self) -> str:
        parts = ", ".join(f"{group} {used:.2f}" for group, used in self.cores.items())
        return f"CPU (cores of {CPUS}): {parts}"


class CpuSampler:
    """Counts CPU between start() and stop() for PostgreSQL, RabbitMQ and our own process sessions.

    `sessions` maps a session id (each HeraldProcess leads its own) to a label,
    so a gunicorn master and its workers, or a pool and its children, add up.
    PostgreSQL and RabbitMQ are the machine's shared servers: other work on
    them is counted too, and "other" is every busy tick no group claims.
    """

    def __init__(self, sessions: dict[int, str]):
        self.sessions = sessions

    def start(self) -> CpuSampler:
        self._started = time.monotonic()
        self._before = _process_ticks()
        self._busy_before = _machine_busy_ticks()
        return self

    def stop(self, extra: dict[str, float] | None = None) -> CpuSplit:
        """`extra`: CPU seconds measured another way (a load client's rusage), added as groups."""
        elapsed = time.monotonic() - self._started
        after = _process_ticks()
        busy = _machine_busy_ticks() - self._busy_before
        totals: dict[str, int] = {}
        for pid, (name, session, ticks) in after.items():
            group = _group_of(pid, name, session, self.sessions)
            if group is None:
                continue
            earlier = self._before.get(pid)
            used = ticks - (earlier[2] if earlier and earlier[0] == name else 0)
            totals[group] = totals.get(group, 0) + max(used, 0)
        cores = {group: ticks / TICKS / elapsed for group, ticks in sorted(totals.items())}
        for group, cpu_seconds in (extra or {}).items():
            cores[group] = cpu_seconds / elapsed
        claimed_ticks = sum(totals.values()) + sum((extra or {}).values()) * TICKS
        cores["other"] = max(busy - claimed_ticks, 0) / TICKS / elapsed
        return CpuSplit(elapsed, cores)
