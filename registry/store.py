"""The registry store: agencies, keys and certificates over SQLAlchemy 2.

Returns frozen domain records, never ORM objects, so sessions stay short and
callers cannot write by accident. SQLAlchemy errors are translated here, once:
connection trouble becomes ``StoreUnavailable``, uniqueness violations
``AlreadyExists``; the SQL detail is logged, not sent to clients.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from registry.codes import AgencyCode, parse_code
from registry.models import AgencyRow, CertificateRow, KeyRow
from signer.errors import AlreadyExists, InvalidRequest, NotFound, NotUsable, StoreUnavailable
from signer.keys.types import KeyAlgorithm, KeyInfo, Scheme

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class KeyState(enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    RETIRED = "retired"
    COMPROMISED = "compromised"


class KeyPurpose(enum.Enum):
    SEAL = "seal"  # an agency's organization key
    DEV_CA = "dev-ca"  # the development CA
    TSA = "tsa"  # the time-stamp authority


@dataclass(frozen=True, slots=True)
class CertRecord:
    der: bytes
    chain: tuple[bytes, ...]
    subject: str
    issuer: str
    serial_hex: str
    not_before: datetime
    not_after: datetime

    def valid_at(self, when: datetime) -> bool:
        return self.not_before <= when <= self.not_after


@dataclass(frozen=True, slots=True)
class KeyRecord:
    key_id: bytes
    label: str
    agency_code: str | None
    purpose: KeyPurpose
    algorithm: KeyAlgorithm
    scheme: Scheme
    state: KeyState
    public_key_der: bytes
    certificate: CertRecord | None


@dataclass(frozen=True, slots=True)
class Agency:
    code: str
    name: str
    format: str
    level: int
    parent_code: str | None
    keys: tuple[KeyRecord, ...]


def cert_record(der: bytes, chain: tuple[bytes, ...] = ()) -> CertRecord:
    cert = x509.load_der_x509_certificate(der)
    return CertRecord(
        der=der,
        chain=chain,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        serial_hex=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def split_der_sequence(blob: bytes) -> tuple[bytes, ...]:
    """Split concatenated DER SEQUENCEs (each certificate is one)."""
    out = []
    i = 0
    while i < len(blob):
        if blob[i] != 0x30:
            raise ValueError("not a DER SEQUENCE")
        first = blob[i + 1]
        if first < 0x80:
            length, hdr = first, 2
        else:
            n = first & 0x7F
            length, hdr = int.from_bytes(blob[i + 2 : i + 2 + n], "big"), 2 + n
        out.append(blob[i : i + hdr + length])
        i += hdr + length
    return tuple(out)


def _aware(dt: datetime) -> datetime:
    # SQLite returns naive datetimes even for timezone=True columns; we store UTC.
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _key_record(row: KeyRow) -> KeyRecord:
    cert = None
    if row.certificates:
        c = row.certificates[-1]
        cert = CertRecord(
            der=c.der,
            chain=split_der_sequence(c.chain_der),
            subject=c.subject,
            issuer=c.issuer,
            serial_hex=c.serial_hex,
            not_before=_aware(c.not_before),
            not_after=_aware(c.not_after),
        )
    return KeyRecord(
        key_id=bytes.fromhex(row.key_id),
        label=row.label,
        agency_code=row.agency.code if row.agency else None,
        purpose=KeyPurpose(row.purpose),
        algorithm=KeyAlgorithm(row.algorithm),
        scheme=Scheme(row.scheme),
        state=KeyState(row.state),
        public_key_der=row.public_key_der,
        certificate=cert,
    )


def _agency(row: AgencyRow) -> Agency:
    return Agency(
        code=row.code,
        name=row.name,
        format=row.format,
        level=row.level,
        parent_code=row.parent_code,
        keys=tuple(_key_record(k) for k in row.keys),
    )


class RegistryStore:
    """Agencies, keys and certificates in SQLite (default) or PostgreSQL."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:" and not path.startswith("file:"):
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    # -- schema -------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self._translate("migrating the database"), self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            # "heads": independent features add migrations on their own branches.
            command.upgrade(cfg, "heads")

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except DBAPIError:
            return False

    # -- agencies -----------------------------------------------------------

    def create_agency(self, code: AgencyCode | str, name: str) -> Agency:
        parsed = code if isinstance(code, AgencyCode) else parse_code(code)
        name = name.strip()
        if not name:
            raise InvalidRequest("agency name is empty: give the body's official name")
        with self._session("creating an agency") as s:
            if s.scalar(select(AgencyRow.id).where(AgencyRow.code == parsed.code)):
                raise AlreadyExists(f"agency {parsed.code} already exists")
            row = AgencyRow(
                code=parsed.code,
                name=name,
                format=parsed.format.value,
                level=parsed.level,
                parent_code=parsed.parent,
                created_at=datetime.now(UTC),
            )
            s.add(row)
            s.flush()
            return Agency(row.code, row.name, row.format, row.level, row.parent_code, ())

    def get_agency(self, code: str) -> Agency:
        parsed = parse_code(code)
        with self._session("reading an agency") as s:
            row = s.scalar(
                select(AgencyRow)
                .where(AgencyRow.code == parsed.code)
                .options(selectinload(AgencyRow.keys).selectinload(KeyRow.certificates))
            )
            if row is None:
                raise NotFound(
                    f"agency {parsed.code} is not registered: check the code, or add it "
                    "with `kyso admin agency add`"
                )
            return _agency(row)

    def list_agencies(self) -> list[Agency]:
        with self._session("listing agencies") as s:
            rows = s.scalars(
                select(AgencyRow)
                .order_by(AgencyRow.code)
                .options(selectinload(AgencyRow.keys).selectinload(KeyRow.certificates))
            ).all()
            return [_agency(r) for r in rows]

    # -- keys and certificates ------------------------------------------------

    def add_key(
        self,
        info: KeyInfo,
        *,
        scheme: Scheme,
        purpose: KeyPurpose,
        agency_code: str | None = None,
    ) -> KeyRecord:
        with self._session("recording a key") as s:
            agency_id = None
            if agency_code is not None:
                agency_id = self._agency_id(s, agency_code)
            row = KeyRow(
                key_id=info.key_id.hex(),
                label=info.label,
                agency_id=agency_id,
                purpose=purpose.value,
                algorithm=info.algorithm.value,
                scheme=scheme.value,
                state=KeyState.PENDING.value,
                public_key_der=info.public_key_der,
                created_at=datetime.now(UTC),
            )
            s.add(row)
            s.flush()
            s.refresh(row, ["agency", "certificates"])
            return _key_record(row)

    def attach_certificate(
        self, key_id: bytes, cert_der: bytes, chain: tuple[bytes, ...] = ()
    ) -> KeyRecord:
        """Record the key's certificate and make the key the active one of its
        agency and purpose; a previously active key is retired (kept for verification)."""
        rec = cert_record(cert_der, chain)
        with self._session("recording a certificate") as s:
            row = self._key_row(s, key_id)
            now = datetime.now(UTC)
            s.add(
                CertificateRow(
                    key_pk=row.id,
                    der=cert_der,
                    chain_der=b"".join(chain),
                    subject=rec.subject,
                    issuer=rec.issuer,
                    serial_hex=rec.serial_hex,
                    not_before=rec.not_before,
                    not_after=rec.not_after,
                    created_at=now,
                )
            )
            previous = s.scalars(
                select(KeyRow).where(
                    KeyRow.agency_id == row.agency_id
                    if row.agency_id is not None
                    else KeyRow.agency_id.is_(None),
                    KeyRow.purpose == row.purpose,
                    KeyRow.state == KeyState.ACTIVE.value,
                    KeyRow.id != row.id,
                )
            ).all()
            for p in previous:
                p.state = KeyState.RETIRED.value
            row.state = KeyState.ACTIVE.value
            row.activated_at = now
            s.flush()
            s.refresh(row, ["agency", "certificates"])
            return _key_record(row)

    def get_key(self, key_id: bytes) -> KeyRecord:
        with self._session("reading a key") as s:
            return _key_record(self._key_row(s, key_id))

    def active_key(self, purpose: KeyPurpose, agency_code: str | None = None) -> KeyRecord | None:
        with self._session("reading the active key") as s:
            q = select(KeyRow).where(
                KeyRow.purpose == purpose.value, KeyRow.state == KeyState.ACTIVE.value
            )
            if agency_code is not None:
                q = q.where(KeyRow.agency_id == self._agency_id(s, agency_code))
            row = s.scalars(q.order_by(KeyRow.activated_at.desc(), KeyRow.id.desc())).first()
            return _key_record(row) if row else None

    def signing_key(self, agency_code: str) -> KeyRecord:
        """The key an agency signs with now, or a ``NotUsable`` saying what is missing."""
        parsed = parse_code(agency_code)
        with self._session("finding the signing key") as s:
            agency_id = self._agency_id(s, parsed.code)
            row = s.scalars(
                select(KeyRow)
                .where(
                    KeyRow.agency_id == agency_id,
                    KeyRow.purpose == KeyPurpose.SEAL.value,
                    KeyRow.state == KeyState.ACTIVE.value,
                )
                .order_by(KeyRow.activated_at.desc(), KeyRow.id.desc())
            ).first()
            if row is None:
                pending = s.scalar(
                    select(KeyRow.id).where(
                        KeyRow.agency_id == agency_id, KeyRow.state == KeyState.PENDING.value
                    )
                )
                hint = (
                    "its key has no certificate yet: issue one with "
                    f"`kyso admin cert issue {parsed.code}`"
                    if pending
                    else f"generate one with `kyso admin key generate {parsed.code}` and "
                    "issue its certificate"
                )
                raise NotUsable(f"agency {parsed.code} has no active signing key: {hint}")
            return _key_record(row)

    def newest_key(self, agency_code: str) -> KeyRecord:
        with self._session("reading keys") as s:
            agency_id = self._agency_id(s, agency_code)
            row = s.scalars(
                select(KeyRow)
                .where(KeyRow.agency_id == agency_id, KeyRow.purpose == KeyPurpose.SEAL.value)
                .order_by(KeyRow.id.desc())
            ).first()
            if row is None:
                raise NotUsable(
                    f"agency {agency_code} has no key: generate one with "
                    f"`kyso admin key generate {agency_code}`"
                )
            return _key_record(row)

    # -- internals ----------------------------------------------------------

    def _agency_id(self, s: Session, code: str) -> int:
        parsed = parse_code(code)
        agency_id = s.scalar(select(AgencyRow.id).where(AgencyRow.code == parsed.code))
        if agency_id is None:
            raise NotFound(
                f"agency {parsed.code} is not registered: check the code, or add it with "
                "`kyso admin agency add`"
            )
        return agency_id

    def _key_row(self, s: Session, key_id: bytes) -> KeyRow:
        row = s.scalar(select(KeyRow).where(KeyRow.key_id == key_id.hex()))
        if row is None:
            raise NotFound(f"key {key_id.hex()} is not registered")
        return row

    @contextmanager
    def _session(self, doing: str) -> Iterator[Session]:
        with self._translate(doing), self._sessions.begin() as s:
            yield s

    @contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        try:
            yield
        except IntegrityError as exc:
            log.warning("integrity error while %s: %s", doing, exc.orig)
            raise AlreadyExists(f"conflict while {doing}: the record already exists") from exc
        except (OperationalError, DBAPIError) as exc:
            log.error("database error while %s: %s", doing, exc)
            raise StoreUnavailable(
                f"the database is unavailable while {doing}; retry later"
            ) from exc


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit survives power loss, not only a crash (records are acknowledged
    # only once committed; group commit keeps the fsync cost per group, not per record).
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
