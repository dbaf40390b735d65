"""Shared fixtures. HSM tests run against a throwaway SoftHSM2 token provisioned per session.

PKCS#11 allows one login per process, so the whole test session shares one opened
``keystore``; a test that needs a store of its own (other PIN, other timeouts) runs it in a
subprocess.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from registry.db.store import RegistryStore
from signer.keys.store import Pkcs11KeyStore
from tests.helpers import (
    POSTGRES_ENV,
    HsmEnv,
    fresh_database_url,
    hsm_unavailable_reason,
    make_store,
    provision,
)

TEST_TOKEN_LABEL = "kyso-test"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The PostgreSQL pass of ``make test`` leaves out the modules marked
    ``database_free`` (nothing in them touches a database: they ran, unchanged, in the
    SQLite pass). Everything else runs in both passes."""
    if not os.environ.get(POSTGRES_ENV):
        return
    drop = [i for i in items if i.get_closest_marker("database_free") is not None]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [i for i in items if i.get_closest_marker("database_free") is None]


@pytest.fixture(scope="session")
def hsm_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HsmEnv]:
    """A fresh SoftHSM2 token labelled ``kyso-test``; SOFTHSM2_CONF points at it meanwhile."""
    reason = hsm_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    env = provision(tmp_path_factory.mktemp("hsm"), TEST_TOKEN_LABEL)
    saved = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = env.softhsm2_conf  # SoftHSM2 reads it at C_Initialize
    try:
        yield env
    finally:
        if saved is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = saved


@pytest.fixture(scope="session")
def keystore(hsm_env: HsmEnv) -> Iterator[Pkcs11KeyStore]:
    """The process's one opened key store on the test token (pool_size=4)."""
    store = make_store(hsm_env, pool_size=4)
    store.open()
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new empty database for one test (SQLite, or PostgreSQL under KYSO_TEST_POSTGRES_URL)."""
    return fresh_database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture
def store(db_url: str) -> Iterator[RegistryStore]:
    """The registry store on a new database, migrated; closed after the test."""
    s = RegistryStore(db_url)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def clean_kyso_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KYSO_* variable of the caller's environment reaches the settings."""
    for k in list(os.environ):
        if k.startswith("KYSO_"):
            monkeypatch.delenv(k)
