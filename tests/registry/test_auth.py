from __future__ import annotations

import pytest

from registry.auth import AuthStore, Grant, Role, hash_token
from registry.db.store import RegistryStore
from signer.errors import AlreadyExists, InvalidRequest, NotFound


@pytest.mark.parametrize(
    ("grant", "code", "covered"),
    [
        (Grant(Role.SIGNER, "", False), "000.00.00.H49", True),
        (Grant(Role.SIGNER, "", False), None, True),
        (Grant(Role.SIGNER, "000.00.00.H13", False), "000.00.00.H13", True),
        (Grant(Role.SIGNER, "000.00.00.H13", False), "000.00.20.H13", False),
        (Grant(Role.SIGNER, "000.00.00.H13", True), "000.00.20.H13", True),
        (Grant(Role.SIGNER, "000.00.00.H13", True), "001.02.20.H13", True),
        (Grant(Role.SIGNER, "000.00.20.H13", True), "000.00.21.H13", False),
        (Grant(Role.SIGNER, "000.00.00.H13", True), "000.00.20.H49", False),
        (Grant(Role.SIGNER, "000.00.00.H13", True), None, False),
        (Grant(Role.SIGNER, "H55", True), "H55.242.7", True),
        (Grant(Role.SIGNER, "H55", True), "H56.1", False),
        (Grant(Role.SIGNER, "H55.2", True), "H55.24", False),
    ],
)
def test_grant_scopes(grant: Grant, code: str | None, covered: bool) -> None:
    assert grant.covers(code) is covered


def test_clients_tokens_grants_and_revocation(db_url: str) -> None:
    store = RegistryStore(db_url)
    store.migrate()
    auth = AuthStore(store.engine)
    info, token = auth.create_client("vpub-h13")
    assert token is not None and token.startswith("kyso_") and len(token) > 40
    assert info.token_hint == token[:9]
    with pytest.raises(AlreadyExists):
        auth.create_client("vpub-h13")
    with pytest.raises(InvalidRequest, match="token, a certificate"):
        auth.create_client("x", with_token=False)
    auth.grant("vpub-h13", Role.SIGNER, "000.00.00.H13", subtree=True)
    p = auth.by_token(token)
    assert p is not None and p.allowed((Role.SIGNER,), "000.00.07.H13")
    assert not p.allowed((Role.KEY_ADMIN,), "000.00.07.H13")
    assert auth.by_token(token + "x") is None
    # Only the hash is stored.
    from sqlalchemy import text

    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM api_clients")).scalar()
    assert stored == hash_token(token) and token not in str(stored)
    new = auth.new_token("vpub-h13")
    assert auth.by_token(token) is None and auth.by_token(new) is not None
    auth.ungrant("vpub-h13", Role.SIGNER, "000.00.00.H13")
    assert auth.by_token(new).grants == ()  # type: ignore[union-attr]
    auth.revoke("vpub-h13")
    assert auth.by_token(new) is None
    with pytest.raises(NotFound, match="kyso admin client list"):
        auth.revoke("nobody")
    with pytest.raises(InvalidRequest, match="unknown role"):
        Role.parse("superuser")


def test_certificate_clients(db_url: str) -> None:
    store = RegistryStore(db_url)
    store.migrate()
    auth = AuthStore(store.engine)
    auth.create_client("iOffice", with_token=False, cert_der=b"\x30\x03fake")
    assert auth.by_certificate(b"\x30\x03fake") is not None
    assert auth.by_certificate(b"\x30\x03other") is None
