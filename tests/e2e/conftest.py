"""End-to-end fixtures: one demo server per module (tests/servers.py starts it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import hsm_unavailable_reason
from tests.servers import Server, server_env, start_server, stop_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("e2e")
    env = server_env(workdir, "kyso-e2e")
    env["KYSO_SERVER_MAX_BATCH"] = "64"
    srv = start_server(workdir, env, "--demo")
    yield srv
    stop_server(srv)
