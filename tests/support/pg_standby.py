"""A private PostgreSQL primary and streaming standby of the installed server, on ports the OS chose.

Both data directories live under a temporary folder; the standby is made
with `pg_basebackup -R` and streams from the primary under the name
`standby1`. With `synchronous=True` the primary waits for the standby to
have flushed each commit (`synchronous_standby_names`), so a committed row
is on both nodes. `fail_over` stops the primary as a crash would and
promotes the standby, as an operator or a failover manager does. Never
touches the shared instance on 5432.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import psycopg2

from tests.support.processes import LOG_FILES, free_port

PG_BIN = Path(os.environ.get("TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
STANDBY_NAME = "standby1"


def postgres_binaries_problem() -> str | None:
    for name in ("initdb", "pg_ctl", "pg_basebackup"):
        if not (PG_BIN / name).exists():
            return f"{PG_BIN / name} is not installed"
    return None


class PrimaryAndStandby:
    def __init__(self, root: Path, synchronous: bool = True):
        self.root = Path(root)
        self.synchronous = synchronous
        self.primary_dir, self.standby_dir = self.root / "primary", self.root / "standby"
        self.primary_port, self.standby_port = free_port(), free_port()
        self.root.mkdir(parents=True, exist_ok=True)
        # PostgreSQL refuses to run as root: its files and processes belong to `postgres` then.
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.root.chmod(0o755)

    def _run(self, *command: str, timeout: float = 120) -> str:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=timeout)
        if result.returncode:
            raise RuntimeError(f"{command[0]} failed: {result.stdout}{result.stderr}")
        return result.stdout

    def _pg_ctl(self, data: Path, *args: str) -> str:
        log = data.parent / f"{data.name}.log"
        LOG_FILES.add(log)
        return self._run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), *args)

    def start(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.primary_dir), "-U", "postgres",
                  "--auth=trust", "--no-sync")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.primary_port),
            "unix_socket_directories": f"'{self.root}'",
            "wal_level": "replica",
            "max_wal_senders": "5",
            "hot_standby": "on",
            "max_connections": "100",
            "shared_buffers": "32MB",
            # A commit is acknowledged once the standby has flushed it (synchronous) or at once.
            "synchronous_standby_names": f"'{STANDBY_NAME}'" if self.synchronous else "''",
            "synchronous_commit": "on",
        }
        with open(self.primary_dir / "postgresql.auto.conf", "a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        with open(self.primary_dir / "pg_hba.conf", "a") as hba:
            hba.write("host replication postgres 127.0.0.1/32 trust\n")
        self._pg_ctl(self.primary_dir, "start", "-w", "-t", "60")
        self._run(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port),
                  "-U", "postgres", "-D", str(self.standby_dir), "-R", "-X", "stream",
                  "--no-sync")
        with open(self.standby_dir / "postgresql.auto.conf", "a") as conf:
            # The same settings as the primary's, but its own port and name in the stream.
            conf.write(f"port = {self.standby_port}\n")
            # Once promoted it is alone: waiting for a synchronous standby of its own
            # (the setting pg_basebackup copied) would hang every commit.
            conf.write("synchronous_standby_names = ''\n")
            conf.write(f"primary_conninfo = 'host=127.0.0.1 port={self.primary_port} "
                       f"user=postgres application_name={STANDBY_NAME}'\n")
        self._pg_ctl(self.standby_dir, "start", "-w", "-t", "60")
        self._wait_for_streaming()

    def _wait_for_streaming(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        wanted = "sync" if self.synchronous else "async"
        while time.monotonic() < deadline:
            rows = self.query(self.primary_port,
                              "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s",
                              (STANDBY_NAME,))
            if rows and rows[0][0] == wanted:
                return
            time.sleep(0.3)
        raise RuntimeError(f"the standby is not streaming ({wanted}) after {timeout}s")

    def query(self, port: int, sql: str, parameters=(), database: str = "postgres") -> list[tuple]:
        connection = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname=database,
                                      connect_timeout=5)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, parameters)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def create_database(self, name: str) -> None:
        self.query(self.primary_port, f'CREATE DATABASE "{name}"')

    def url(self, database: str) -> str:
        """libpq's multi-host connection, in SQLAlchemy's form (one `host=` per node; a
        comma-separated list is read as one host name): whichever node accepts writes."""
        return (f"postgresql+psycopg2://postgres@/{database}?host=127.0.0.1:{self.primary_port}"
                f"&host=127.0.0.1:{self.standby_port}&target_session_attrs=read-write")

    def stop_primary(self) -> None:
        """As a crash would: no checkpoint, connections cut."""
        self._pg_ctl(self.primary_dir, "stop", "-m", "immediate", "-w")

    def promote_standby(self) -> None:
        self._pg_ctl(self.standby_dir, "promote", "-w", "-t", "60")

    def stop(self) -> None:
        for data in (self.standby_dir, self.primary_dir):
            if (data / "postmaster.pid").exists():
                try:
                    self._pg_ctl(data, "stop", "-m", "immediate", "-w")
                except RuntimeError:
                    pass

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
