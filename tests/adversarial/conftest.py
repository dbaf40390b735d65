"""Adversarial fixtures: a demo node an attacker works against (tests/adversarial/nodes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adversarial.nodes import Node
from tests.helpers import hsm_unavailable_reason
from tests.servers import server_env


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
