"""Module-scoped fixtures of the verifier's unit tests: the software PKI (built once per
session, ``world.world`` is cached) and a verifier that trusts its CA."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from signer.verify.engine import Verifier
from tests.signer.verify.world import World, registry_engine, world


@pytest.fixture(scope="module")
def w() -> World:
    return world()


@pytest.fixture(scope="module")
def verifier(w: World) -> Verifier:
    """Trusts the test CA (revocation-free, like the development CA); no agency registry."""
    return w.verifier()


@pytest.fixture(scope="module")
def registry(w: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    store = registry_engine(tmp_path_factory.mktemp("registry"), w)
    yield store
    store.close()


@pytest.fixture(scope="module")
def agency_verifier(w: World, registry: Any) -> Verifier:
    """Trusts the test CA and finds agencies in a SQLite registry holding the seal key."""
    return w.verifier(registry.engine)
