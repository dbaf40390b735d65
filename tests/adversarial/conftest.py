"""The attacker's tools: a real node (``kyso serve`` on SoftHSM and SQLite or
PostgreSQL) and direct write access to its database, the way someone holding the
database credentials (but not the HSM PIN) would have it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from tests.e2e.conftest import Server, server_env, start_server, stop_server
from tests.helpers import hsm_unavailable_reason

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
        assert self.server is not None
        return stop_server(self.server)

    def database(self) -> Engine:
        """A connection to the node's database, as a database writer has it."""
        return create_engine(self.env["KYSO_STORE_URL"])


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    """A demo node (agency 000.00.00.H13, an admin token), started; stopped at the end."""
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    env = server_env(tmp_path, "kyso-adv")
    n = Node(tmp_path, env, ("--demo",))
    n.start()
    yield n
    if n.server is not None and n.server.proc.poll() is None:
        n.stop()
