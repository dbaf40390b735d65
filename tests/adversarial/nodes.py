"""The attacker's tools: a real node (``kyso serve`` on SoftHSM and SQLite or PostgreSQL)
and direct write access to its database, the way someone holding the database
credentials (but not the HSM PIN) would have it. The ``node`` fixture is conftest.py's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from tests.servers import Server, start_server, stop_server

DEMO = "000.00.00.H13"


@dataclass
class Node:
    """A node the test can stop, tamper with and start again (same token, same database)."""

    workdir: Path
    env: dict[str, str]
    args: tuple[str, ...]
    server: Server | None = None

    def start(self) -> Server:
        self.server = start_server(self.workdir, self.env, *self.args)
        return self.server

    def stop(self) -> int:
        """Stop the node; a node that does not stop cleanly fails the test with its log
        (and, if it hung, every thread's stack)."""
        assert self.server is not None
        rc = stop_server(self.server)
        assert rc == 0, f"the node exited {rc}:\n{self.server.log()[-6000:]}"
        return rc

    def database(self) -> Engine:
        """A connection to the node's database, as a database writer has it."""
        return create_engine(self.env["KYSO_STORE_URL"])


def connection_per_node(endpoint: str, nodes: set[str]) -> dict[str, grpc.Channel]:
    """One connection to each worker behind a shared port: fresh connections until the
    kernel has handed one to each (tests/e2e/test_workers.py says why 64 are enough)."""
    found: dict[str, grpc.Channel] = {}
    for _ in range(64):
        ch = grpc.insecure_channel(endpoint, options=[("grpc.use_local_subchannel_pool", 1)])
        _, call = health_pb2_grpc.HealthStub(ch).Check.with_call(
            health_pb2.HealthCheckRequest(), timeout=10)
        name = dict(call.trailing_metadata())["x-kyso-node"]
        if name in found:
            ch.close()
        else:
            found[name] = ch
        if set(found) == nodes:
            return found
    for ch in found.values():
        ch.close()
    raise AssertionError(f"no connection reached every worker: {sorted(found)}")
