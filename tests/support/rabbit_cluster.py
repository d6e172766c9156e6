"""A private three-node RabbitMQ cluster of the installed server, on ports the OS chose.

Each node has its own name (herald-<run>-<n>@localhost), data and log
directories under a temporary folder and an Erlang cookie of its own (through
HOME), so it never meets the shared broker (rabbit@<host> on 5672). One
scheduler thread per node keeps the cluster's CPU use modest on a shared
machine. Every node started is stopped at the end; `kill_leftovers` ends any
process that still carries one of this cluster's node names, and no other.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port

RABBITMQ_BIN = Path(os.environ.get("TEST_RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))


def rabbitmq_binaries_problem() -> str | None:
    for name in ("rabbitmq-server", "rabbitmqctl"):
        if not (RABBITMQ_BIN / name).exists():
            return f"{RABBITMQ_BIN / name} is not installed"
    return None


@dataclass
class Node:
    name: str  # the Erlang node name, herald-...@localhost
    amqp_port: int
    dist_port: int
    base: Path
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}//"


class RabbitCluster:
    """Three (or `size`) clustered nodes; `broker_url` names them all for kombu's failover."""

    def __init__(self, root: Path, run_id: str, size: int = 3):
        self.root = Path(root)
        self.home = self.root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)
        self.nodes = [Node(f"herald-{run_id}-{n}@localhost", free_port(), free_port(),
                           self.root / f"node{n}") for n in range(1, size + 1)]

    # --- one node ----------------------------------------------------------------------------

    @staticmethod
    def _write_configuration(node: Node) -> None:
        node.base.mkdir(parents=True, exist_ok=True)
        (node.base / "enabled_plugins").write_text("[].\n")  # management and every plugin off
        (node.base / "rabbitmq.conf").write_text(
            "loopback_users = none\n"
            f"listeners.tcp.default = 127.0.0.1:{node.amqp_port}\n")

    def _environment(self, node: Node) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),  # the cookie: shared by the nodes and rabbitmqctl, no one else
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_PORT": str(node.amqp_port),
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "RABBITMQ_MNESIA_BASE": str(node.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(node.base / "log"),
            "RABBITMQ_CONFIG_FILE": str(node.base / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(node.base / "enabled_plugins"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+S 1:1 +SDio 2 +A 4 -kernel inet_dist_use_interface {127,0,0,1}",
        }

    def ctl(self, node: Node, *args: str, timeout: float = 120, check: bool = True
            ) -> subprocess.CompletedProcess:
        return subprocess.run([str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", node.name, *args],
                              env=self._environment(node), capture_output=True, text=True,
                              timeout=timeout, check=check)

    def start_node(self, node: Node, timeout: float = 120) -> None:
        # The broker's own output (its node names look like addresses to the log scan):
        # not one of Herald's logs, so not in LOG_FILES.
        log_path = node.base / "server.log"
        self._write_configuration(node)
        with open(log_path, "ab") as log:
            node.process = subprocess.Popen(
                [str(RABBITMQ_BIN / "rabbitmq-server")], env=self._environment(node),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=node.base)
        # await_startup refuses at once while the node's Erlang side is not up yet: ask again.
        deadline = time.monotonic() + timeout
        while self.ctl(node, "await_startup", "--timeout", "30", timeout=60, check=False).returncode:
            if node.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{node.name} did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)

    def stop_node(self, node: Node) -> None:
        """A clean stop (as a rolling restart does it)."""
        self.ctl(node, "stop", timeout=120, check=False)
        if node.process is not None:
            try:
                node.process.wait(60)
            except subprocess.TimeoutExpired:
                self.kill_node(node)

    def kill_node(self, node: Node) -> None:
        """kill -9 on the node's whole process group (beam and its helpers)."""
        if node.process is not None:
            try:
                os.killpg(node.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            node.process.wait()

    # --- the cluster -------------------------------------------------------------------------

    def start(self) -> None:
        first, *others = self.nodes
        self.start_node(first)
        for node in others:
            self.start_node(node)
            self.ctl(node, "stop_app")
            self.ctl(node, "join_cluster", first.name)
            self.ctl(node, "start_app")
        running = self.running_nodes(first)
        if sorted(running) != sorted(n.name for n in self.nodes):
            raise RuntimeError(f"the cluster did not form: {running}")

    def running_nodes(self, via: Node) -> list[str]:
        status = json.loads(self.ctl(via, "cluster_status", "--formatter", "json").stdout)
        return status.get("running_nodes", [])

    def add_vhost(self, vhost: str) -> None:
        node = self.nodes[0]
        self.ctl(node, "add_vhost", vhost)
        self.ctl(node, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

    def broker_url(self, vhost: str, first: Node | None = None) -> str:
        """Every node, for kombu's failover: `amqp://...;amqp://...;amqp://...`.

        A client connects to the first that answers: `first` puts that node first.
        """
        nodes = sorted(self.nodes, key=lambda n: n is not first)
        return ";".join(f"amqp://guest:guest@127.0.0.1:{n.amqp_port}/{vhost}" for n in nodes)

    def node_named(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def alive(self) -> list[Node]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def queue_leader(self, vhost: str, queue: str) -> Node:
        """The node holding a quorum queue's leader (`leader` in list_queues)."""
        via = self.alive()[0]
        output = self.ctl(via, "list_queues", "-p", vhost, "--no-table-headers",
                          "name", "leader").stdout
        for line in output.splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[0] == queue:
                return self.node_named(fields[1])
        raise LookupError(f"no leader listed for {queue}: {output!r}")

    def queue_messages(self, vhost: str, queue: str) -> tuple[int, int]:
        """Ready and unacknowledged messages of a queue."""
        via = self.alive()[0]
        output = self.ctl(via, "list_queues", "-p", vhost, "--no-table-headers",
                          "name", "messages_ready", "messages_unacknowledged").stdout
        for line in output.splitlines():
            fields = line.split()
            if fields and fields[0] == queue:
                return int(fields[1]), int(fields[2])
        return 0, 0

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                self.ctl(node, "stop", timeout=60, check=False)
        for node in self.nodes:
            self.kill_node(node)
        self.kill_leftovers()

    def kill_leftovers(self) -> None:
        """End any process whose command line names one of this cluster's nodes (ours only)."""
        names = [n.name.encode() for n in self.nodes]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if any(name in command for name in names):
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
