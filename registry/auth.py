"""Clients (document systems and people), their credentials and their grants.

Credentials
    * Bearer tokens: ``kyso_`` + 43 base64url characters (256 random bits), shown
      once at creation. Only SHA-256 of the token is stored: with 256 bits of
      entropy a fast hash is enough (nothing to brute-force), and it keeps
      per-call authentication cheap. Revocable.
    * mTLS client certificates: the client is found by the SHA-256 fingerprint
      of its certificate (DER), registered at creation.

Grants: a role, optionally scoped to an agency code (``scope``), optionally
to its whole subtree. An empty scope means every agency.

    signer          sign (and read signing certificates) for the agencies in scope
    registry-admin  manage agency codes in scope (e.g. one province's subtree)
    key-admin       keys and certificates in scope; with an empty scope, also clients
    auditor         read-only: registry, keys, audit log
"""

from __future__ import annotations

import base64
import enum
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from registry.agencies.codes import parse_code
from registry.db.clients import ClientRow, GrantRow
from signer.errors import AlreadyExists, InvalidRequest, NotFound

TOKEN_PREFIX = "kyso_"


class Role(enum.Enum):
    SIGNER = "signer"
    REGISTRY_ADMIN = "registry-admin"
    KEY_ADMIN = "key-admin"
    AUDITOR = "auditor"

    @classmethod
    def parse(cls, name: str) -> Role:
        for r in cls:
            if r.value == name.strip().lower():
                return r
        raise InvalidRequest(
            f"unknown role {name!r}: use one of " + ", ".join(r.value for r in cls)
        )


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role
    scope: str  # "" = every agency
    subtree: bool

    def covers(self, code: str | None) -> bool:
        """Does this grant reach agency ``code``? ``None`` asks for a global grant."""
        if not self.scope:
            return True
        if code is None:
            return False
        code = parse_code(code).code
        if code == self.scope:
            return True
        if not self.subtree:
            return False
        parent = parse_code(code).parent
        while parent is not None:
            if parent == self.scope:
                return True
            parent = parse_code(parent).parent
        return False

    def __str__(self) -> str:
        where = self.scope or "all agencies"
        return f"{self.role.value} on {where}{' and its subtree' if self.subtree else ''}"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    kind: str
    grants: tuple[Grant, ...]

    def allowed(self, roles: tuple[Role, ...], code: str | None) -> bool:
        return any(g.role in roles and g.covers(code) for g in self.grants)


@dataclass(frozen=True, slots=True)
class ClientInfo:
    name: str
    kind: str
    token_hint: str | None
    cert_sha256: str | None
    created_at: datetime
    revoked_at: datetime | None
    grants: tuple[Grant, ...]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def cert_fingerprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _grants(row: ClientRow) -> tuple[Grant, ...]:
    return tuple(Grant(Role(g.role), g.scope, g.subtree) for g in row.grants)


def _info(row: ClientRow) -> ClientInfo:
    return ClientInfo(row.name, row.kind, row.token_hint, row.cert_sha256, row.created_at,
                      row.revoked_at, _grants(row))


class AuthStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self, doing: str) -> Iterator[Session]:
        from registry.db.store import translate_sql_errors

        with translate_sql_errors(doing), self._sessions.begin() as s:
            yield s

    def create_client(
        self, name: str, *, kind: str = "system", with_token: bool = True,
        cert_der: bytes | None = None,
    ) -> tuple[ClientInfo, str | None]:
        """Create a client; returns its info and the token (shown once), if any."""
        name = name.strip()
        if not name or len(name) > 128:
            raise InvalidRequest("client name must be 1 to 128 characters")
        if kind not in ("system", "person"):
            raise InvalidRequest("client kind is 'system' (a document system) or 'person'")
        if not with_token and cert_der is None:
            raise InvalidRequest("a client needs a token, a certificate, or both")
        token = new_token() if with_token else None
        with self._session("creating a client") as s:
            if s.scalar(select(ClientRow.id).where(ClientRow.name == name)):
                raise AlreadyExists(f"client {name!r} already exists")
            row = ClientRow(
                name=name, kind=kind,
                token_hash=hash_token(token) if token else None,
                token_hint=token[:9] if token else None,
                cert_sha256=cert_fingerprint(cert_der) if cert_der else None,
                created_at=datetime.now(UTC),
            )
            s.add(row)
            s.flush()
            return _info(row), token

    def new_token(self, name: str) -> str:
        """Replace a client's token (the old one stops working)."""
        token = new_token()
        with self._session("replacing a token") as s:
            row = self._row(s, name)
            row.token_hash, row.token_hint = hash_token(token), token[:9]
        return token

    def revoke(self, name: str) -> ClientInfo:
        with self._session("revoking a client") as s:
            row = self._row(s, name)
            if row.revoked_at is None:
                row.revoked_at = datetime.now(UTC)
            s.flush()
            return _info(row)

    def grant(self, name: str, role: Role, scope: str = "", subtree: bool = False) -> ClientInfo:
        scope = parse_code(scope).code if scope else ""
        with self._session("granting a role") as s:
            row = self._row(s, name)
            if not any(g.role == role.value and g.scope == scope and g.subtree == subtree
                       for g in row.grants):
                row.grants.append(GrantRow(role=role.value, scope=scope, subtree=subtree))
            s.flush()
            return _info(row)

    def ungrant(self, name: str, role: Role, scope: str = "") -> ClientInfo:
        scope = parse_code(scope).code if scope else ""
        with self._session("removing a role") as s:
            row = self._row(s, name)
            row.grants = [g for g in row.grants if not (g.role == role.value and g.scope == scope)]
            s.flush()
            return _info(row)

    def get(self, name: str) -> ClientInfo:
        with self._session("reading a client") as s:
            return _info(self._row(s, name))

    def list(self) -> list[ClientInfo]:
        with self._session("listing clients") as s:
            return [_info(r) for r in s.scalars(select(ClientRow).order_by(ClientRow.name))]

    def by_token(self, token: str) -> Principal | None:
        return self._principal(ClientRow.token_hash == hash_token(token))

    def by_certificate(self, der: bytes) -> Principal | None:
        return self._principal(ClientRow.cert_sha256 == cert_fingerprint(der))

    def _principal(self, where: object) -> Principal | None:
        with self._session("authenticating") as s:
            row = s.scalar(select(ClientRow).where(where))  # type: ignore[arg-type]
            if row is None or row.revoked_at is not None:
                return None
            return Principal(row.name, row.kind, _grants(row))

    def _row(self, s: Session, name: str) -> ClientRow:
        row = s.scalar(select(ClientRow).where(ClientRow.name == name))
        if row is None:
            raise NotFound(f"client {name!r} does not exist: see `kyso admin client list`")
        return row
