"""Fixtures of the CLI's unit tests: a ``FakeKyso`` in place of the server, and a
runner of ``kyso`` in this process with a clean environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.clients.cli.fake import FakeKyso, Kyso


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeKyso:
    f = FakeKyso()
    f.install(monkeypatch)
    return f


@pytest.fixture
def kyso(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Kyso:
    """The CLI, run in ``tmp_path``, with no KYSO_* variable of the caller's environment,
    no colours and a wide terminal (rich would otherwise fold tables at 80 columns)."""
    for name in list(os.environ):
        if name.startswith("KYSO_") or name in ("FORCE_COLOR", "TTY_COMPATIBLE",
                                                "TTY_INTERACTIVE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    # The consoles exist since clients.cli.common was first imported, by whichever test
    # came first: COLUMNS alone does not reach one made earlier (nor one on TERM=dumb).
    from clients.cli import common

    for console in (common.out, common.err):
        monkeypatch.setattr(console, "_width", 200)
        monkeypatch.setattr(console, "_height", 50)
    monkeypatch.chdir(tmp_path)
    return Kyso()
