"""The registry store: agencies, keys and certificates over SQLAlchemy 2.

Returns frozen domain records, never ORM objects, so sessions stay short and
callers cannot write by accident. SQLAlchemy errors are translated here, once:
connection trouble becomes ``StoreUnavailable``, uniqueness violations
``AlreadyExists``; the SQL detail is logged, not sent to clients.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import Table, bindparam, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from registry.agencies.codes import parse_code
from registry.db.models import ACTIVE, CLOSED, AgencyEventRow, AgencyRow, CertificateRow, KeyRow
from signer.errors import AlreadyExists, InvalidRequest, NotFound, NotUsable, StoreUnavailable
from signer.keys.types import KeyAlgorithm, KeyInfo, Scheme

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Built once: the per-request key state check runs this (compiled-statement cache hit).
_KEY_STATE = select(KeyRow.state, KeyRow.compromised_at, KeyRow.state_reason).where(
    KeyRow.key_id == bindparam("key_id")
)


class KeyState(enum.Enum):
    PENDING = "pending"
    ACTIVE = "active"
    RETIRED = "retired"
    COMPROMISED = "compromised"


class KeyPurpose(enum.Enum):
    SEAL = "seal"  # an agency's organization key
    DEV_CA = "dev-ca"  # the development CA
    TSA = "tsa"  # the time-stamp authority
    AUDIT = "audit"  # signs the audit log's checkpoints


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
    activated_at: datetime | None = None
    state_changed_at: datetime | None = None
    state_reason: str | None = None
    compromised_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """A key's state as the signer re-checks it before each request (see ``key_state``)."""

    state: KeyState
    compromised_at: datetime | None
    reason: str | None


def compromised_message(key_id: bytes, when: datetime | None, reason: str | None) -> str:
    on = f"{_aware(when):%Y-%m-%d %H:%M:%S} UTC" if when else "an unknown date"
    why = f" ({reason})" if reason else ""
    return f"key {key_id.hex()} was marked compromised on {on}{why}: rotate to a new key"


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


def unregistered(code: str) -> NotFound:
    """The refusal for a code this registry does not hold."""
    return NotFound(f"agency {code} is not registered: check the code, or add it with "
                    "`kyso admin agency add`")


def successors_of(s: Session, row: AgencyRow) -> tuple[str, ...]:
    """The active codes answering for ``row``'s code today (itself while it is active):
    following ``successor_code``, and a split's parts, until active codes are reached."""
    out: list[str] = []
    seen: set[str] = set()
    todo = [row]
    while todo:
        r = todo.pop(0)
        if r.code in seen:
            continue
        seen.add(r.code)
        if r.status == ACTIVE:
            out.append(r.code)
            continue
        nxt: list[str] = [r.successor_code] if r.successor_code else []
        if not nxt:  # a split: the parts are the closing event's related codes
            last = s.scalars(
                select(AgencyEventRow)
                .where(AgencyEventRow.code == r.code, AgencyEventRow.kind == "split")
                .order_by(AgencyEventRow.id.desc())
            ).first()
            nxt = list(last.related_codes) if last else []
        for c in nxt:
            found = s.scalar(select(AgencyRow).where(AgencyRow.code == c))
            if found is not None:
                todo.append(found)
    return tuple(out)


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
        activated_at=_aware(row.activated_at) if row.activated_at else None,
        state_changed_at=_aware(row.state_changed_at) if row.state_changed_at else None,
        state_reason=row.state_reason,
        compromised_at=_aware(row.compromised_at) if row.compromised_at else None,
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
        self._hot = _ThreadConnections(self.engine)

    def close(self) -> None:
        self._hot.close()
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

    def get_agency(self, code: str) -> Agency:
        parsed = parse_code(code)
        with self._session("reading an agency") as s:
            row = s.scalar(
                select(AgencyRow)
                .where(AgencyRow.code == parsed.code)
                .options(selectinload(AgencyRow.keys).selectinload(KeyRow.certificates))
            )
            if row is None:
                raise unregistered(parsed.code)
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
        self,
        key_id: bytes,
        cert_der: bytes,
        chain: tuple[bytes, ...] = (),
        *,
        activate: bool = True,
    ) -> KeyRecord:
        """Record the key's certificate and (with ``activate``) make the key the active one
        of its agency and purpose; a previously active key is retired (kept for
        verification) in the same transaction, so there is never a moment without one."""
        rec = cert_record(cert_der, chain)
        with self._session("recording a certificate") as s:
            row = self._key_row(s, key_id)
            if row.state in (KeyState.COMPROMISED.value, KeyState.RETIRED.value):
                raise NotUsable(
                    f"key {key_id.hex()} is {row.state}: it cannot get a new certificate; "
                    "generate a new key instead"
                )
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
            if activate:
                self._activate(s, row, now)
            s.flush()
            s.refresh(row, ["agency", "certificates"])
            return _key_record(row)

    def activate_key(self, key_id: bytes, reason: str | None = None) -> KeyRecord:
        """Make a (pending or already active) key the active one of its agency and purpose;
        the previous active key is retired in the same transaction."""
        with self._session("activating a key") as s:
            row = self._key_row(s, key_id)
            if row.state not in (KeyState.PENDING.value, KeyState.ACTIVE.value):
                raise NotUsable(
                    f"key {key_id.hex()} is {row.state} and cannot be activated again: "
                    "generate a new key (`kyso admin key rotate`)"
                )
            if not row.certificates:
                raise NotUsable(
                    f"key {key_id.hex()} has no certificate: import one with "
                    "`kyso admin cert import`"
                )
            self._activate(s, row, datetime.now(UTC), reason)
            s.flush()
            s.refresh(row, ["agency", "certificates"])
            return _key_record(row)

    def retire_key(self, key_id: bytes, *, force: bool = False, reason: str | None = None
                   ) -> KeyRecord:
        """Retire a key (kept for verification, never signs again). The active key of an
        agency is retired only with ``force``: that leaves the agency unable to sign."""
        with self._session("retiring a key") as s:
            row = self._key_row(s, key_id)
            if row.state == KeyState.COMPROMISED.value:
                raise NotUsable(f"key {key_id.hex()} is compromised; it stays compromised")
            if row.state == KeyState.RETIRED.value:
                return _key_record(row)
            if row.state == KeyState.ACTIVE.value and not force:
                who = row.agency.code if row.agency else row.purpose
                raise NotUsable(
                    f"key {key_id.hex()} is the active key of {who}: rotate to a new key "
                    f"first (`kyso admin key rotate {who}`), or force it to leave {who} "
                    "without a signing key"
                )
            now = datetime.now(UTC)
            row.state = KeyState.RETIRED.value
            row.state_changed_at = now
            row.state_reason = reason
            s.flush()
            s.refresh(row, ["agency", "certificates"])
            return _key_record(row)

    def mark_compromised(self, key_id: bytes, reason: str) -> KeyRecord:
        """Mark a key compromised, whatever its state; it never signs again."""
        with self._session("marking a key compromised") as s:
            row = self._key_row(s, key_id)
            if row.state == KeyState.COMPROMISED.value:
                raise NotUsable(
                    compromised_message(key_id, row.compromised_at, row.state_reason)
                    .replace(": rotate to a new key", " already")
                )
            now = datetime.now(UTC)
            row.state = KeyState.COMPROMISED.value
            row.state_changed_at = now
            row.compromised_at = now
            row.state_reason = reason
            s.flush()
            s.refresh(row, ["agency", "certificates"])
            return _key_record(row)

    def key_state(self, key_id: bytes) -> KeyStatus:
        """The key's current state: one SELECT on the unique ``keys.key_id`` index.

        Called by every signer node before each signing request (after its 2 s key
        cache), so that retiring or compromising a key takes effect on the next request.
        """
        with self._translate("checking a key's state"), self.engine.connect() as conn:
            row = conn.execute(_KEY_STATE, {"key_id": key_id.hex()}).first()
        if row is None:
            raise NotFound(f"key {key_id.hex()} is not registered")
        return KeyStatus(
            KeyState(row.state),
            _aware(row.compromised_at) if row.compromised_at else None,
            row.state_reason,
        )

    def key_active(self, key_id: bytes) -> bool:
        """Whether the key is active now and its agency (if it has one) not closed: the
        per-request check of every signer node.

        One SELECT on the unique ``keys.key_id`` index (joined to the agency's row by
        primary key), on a connection kept by the calling thread (no pool checkout,
        pre-ping or SQL compilation): ~5 µs instead of ~100 µs on SQLite here, which
        matters at thousands of requests per second.
        """
        state = self._hot.scalar(_KEY_ACTIVE_SQL, key_id.hex(), "checking a key's state")
        if state is None:
            raise NotFound(f"key {key_id.hex()} is not registered")
        return bool(state == KeyState.ACTIVE.value)

    def keys_of(self, agency_code: str) -> list[KeyRecord]:
        """Every key of an agency, oldest first."""
        with self._session("listing keys") as s:
            agency_id = self._agency_id(s, agency_code)
            rows = s.scalars(
                select(KeyRow)
                .where(KeyRow.agency_id == agency_id)
                .order_by(KeyRow.id)
                .options(selectinload(KeyRow.certificates), selectinload(KeyRow.agency))
            ).all()
            return [_key_record(r) for r in rows]

    def key_by_public_key(self, agency_code: str, public_key_der: bytes) -> KeyRecord | None:
        """The agency's key with exactly this DER SubjectPublicKeyInfo, if any."""
        with self._session("finding a key by its public key") as s:
            agency_id = self._agency_id(s, agency_code)
            row = s.scalars(
                select(KeyRow).where(
                    KeyRow.agency_id == agency_id, KeyRow.public_key_der == public_key_der
                )
            ).first()
            return _key_record(row) if row else None

    def has_public_key(self, public_key_der: bytes) -> bool:
        """Whether any key kyso holds (any agency's, the CA's, the TSA's ...) has exactly
        this DER SubjectPublicKeyInfo."""
        with self._session("finding a key by its public key") as s:
            found = s.scalar(select(KeyRow.id).where(KeyRow.public_key_der == public_key_der)
                             .limit(1))
            return found is not None

    def _activate(self, s: Session, row: KeyRow, now: datetime, reason: str | None = None
                  ) -> None:
        """Retire the agency's (purpose's) active key and activate ``row``: one transaction."""
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
            p.state_changed_at = now
            p.state_reason = f"superseded by key {row.key_id}"
        if row.state != KeyState.ACTIVE.value:
            row.state = KeyState.ACTIVE.value
            row.activated_at = now
            row.state_changed_at = now
            row.state_reason = reason

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
            agency = s.scalar(select(AgencyRow).where(AgencyRow.code == parsed.code))
            if agency is None:
                raise unregistered(parsed.code)
            if agency.status == CLOSED:
                now = successors_of(s, agency)
                succ = (f"; sign for {' or '.join(now)}, which answers for it now"
                        if now and now != (parsed.code,) else "")
                raise NotUsable(
                    f"agency code {parsed.code} was closed on {agency.valid_to}"
                    + (f" (merged or moved into {agency.successor_code})"
                       if agency.successor_code else "")
                    + f": it signs no more{succ}"
                )
            agency_id = agency.id
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
                last = s.scalars(
                    select(KeyRow)
                    .where(
                        KeyRow.agency_id == agency_id,
                        KeyRow.purpose == KeyPurpose.SEAL.value,
                        KeyRow.state != KeyState.PENDING.value,
                    )
                    .order_by(KeyRow.state_changed_at.desc().nulls_last(), KeyRow.id.desc())
                ).first()
                if last is not None and last.state == KeyState.COMPROMISED.value:
                    raise NotUsable(
                        f"agency {parsed.code} cannot sign: "
                        + compromised_message(
                            bytes.fromhex(last.key_id), last.compromised_at, last.state_reason
                        )
                        + f" (`kyso admin key rotate {parsed.code}`)"
                    )
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

    def newest_of(self, purpose: KeyPurpose) -> KeyRecord | None:
        """The most recently created key of a server purpose (TSA, audit, CA), any state."""
        with self._session("reading keys") as s:
            row = s.scalars(select(KeyRow).where(KeyRow.purpose == purpose.value)
                            .order_by(KeyRow.id.desc())).first()
            return _key_record(row) if row else None

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
            raise unregistered(parsed.code)
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

    def _translate(self, doing: str) -> AbstractContextManager[None]:
        return translate_sql_errors(doing)


# "active" only for an active key whose agency (if any) is not closed.
_KEY_ACTIVE_SQL = (
    f"SELECT CASE WHEN a.status = 'closed' THEN 'agency-closed' ELSE k.state END "
    f"FROM {KeyRow.__tablename__} k LEFT JOIN {AgencyRow.__tablename__} a "
    "ON a.id = k.agency_id WHERE k.key_id = ?"
)


def raw_connect(engine: Engine) -> Any:
    """A DBAPI connection of the engine's database, outside its pool, in autocommit
    mode (never "idle in transaction"; transactions are begun explicitly)."""
    dialect = engine.dialect
    cargs, cparams = dialect.create_connect_args(engine.url)
    conn = dialect.connect(*cargs, **cparams)
    if dialect.paramstyle == "qmark":  # sqlite3
        _sqlite_pragmas(conn, None)
        conn.isolation_level = None
    else:
        conn.autocommit = True
    return conn


class BulkTransaction:
    """One open transaction of a :class:`BulkWriter` (see there)."""

    def __init__(self, writer: BulkWriter, cursor: Any) -> None:
        self._writer = writer
        self._cur = cursor

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """INSERT ``rows`` (mappings with the same keys) into ``table``."""
        if rows:
            sql, params = self._writer.bind(table, rows)
            self._cur.executemany(sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement written with ``?`` placeholders; its rows, if it returns any."""
        self._cur.execute(sql if self._writer.qmark else sql.replace("?", "%s"), tuple(params))
        return list(self._cur.fetchall()) if self._cur.description else []


class BulkWriter:
    """INSERTs of many rows in one transaction, for a writer thread (group commit).

    It keeps a connection of its own and prepares each table's INSERT once, binding
    values with the column types' own converters, so what it writes reads back
    through SQLAlchemy exactly as an ORM insert would. Skipping SQLAlchemy's
    per-statement work (statement construction, cache keys, parameter processing,
    pool checkout with pre-ping) took the audit writer from ~60 % of the server's
    GIL time to a small share (py-spy, docs/benchmarks.md).

    Errors are raised as SQLAlchemy's ``IntegrityError`` / ``DataError`` /
    ``DBAPIError`` so callers handle them as SQLAlchemy's own; after any error the
    connection is dropped and the next transaction opens a new one.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self.qmark = engine.dialect.paramstyle == "qmark"
        self._conn: Any = None
        self._prepared: dict[tuple[Table, tuple[str, ...]], tuple[str, list[Any]]] = {}

    @contextmanager
    def transaction(self) -> Iterator[BulkTransaction]:
        """``with w.transaction() as tx: tx.insert(table, rows) …`` commits on exit."""
        dbapi = self._dialect.loaded_dbapi
        try:
            if self._conn is None:
                self._conn = raw_connect(self._engine)
            conn = self._conn
            cur = conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE" if self.qmark else "BEGIN")
                yield BulkTransaction(self, cur)
                cur.execute("COMMIT")
            finally:
                cur.close()
        except dbapi.IntegrityError as exc:
            self._drop()
            raise IntegrityError("bulk insert", None, exc) from exc
        except dbapi.DataError as exc:
            self._drop()
            raise DataError("bulk insert", None, exc) from exc
        except dbapi.Error as exc:
            self._drop()
            raise DBAPIError("bulk insert", None, exc) from exc
        except BaseException:
            self._drop()
            raise

    def bind(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[Any]]:
        """The INSERT statement for ``rows``' keys and each row's bound parameters."""
        names = tuple(rows[0])
        prepared = self._prepared.get((table, names))
        if prepared is None:
            prepared = self._prepared[(table, names)] = insert_statement(
                self._dialect, table, names)
        sql, procs = prepared
        return sql, [tuple(p(r[n]) if p else r[n] for n, p in zip(names, procs, strict=True))
                     for r in rows]

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                pass

    def close(self) -> None:
        self._drop()


def insert_statement(dialect: Any, table: Table, names: Sequence[str]) -> tuple[str, list[Any]]:
    """A DBAPI INSERT of ``names`` into ``table`` in ``dialect``'s parameter style, and the
    columns' bind converters (so raw DBAPI writes read back through SQLAlchemy as its own)."""
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {table.name} ({', '.join(names)}) "
           f"VALUES ({', '.join([mark] * len(names))})")
    return sql, [table.c[n].type.bind_processor(dialect) for n in names]


class _ThreadConnections:
    """One autocommit DBAPI connection per thread, for the hottest read of the
    signing path. A connection that fails is closed and replaced on the thread's
    next call; the failure surfaces as ``StoreUnavailable``. The callers are the
    server's handler threads, which live as long as the server, so there are at
    most ``server.threads`` such connections per node (on PostgreSQL, count them
    in ``max_connections``); ``close()`` closes them."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()
        self._qmark = engine.dialect.paramstyle == "qmark"

    def scalar(self, sql: str, param: object, doing: str) -> Any:
        conn = getattr(self._local, "conn", None)
        try:
            if conn is None:
                conn = self._connect()
            cur = conn.cursor()
            try:
                cur.execute(sql if self._qmark else sql.replace("?", "%s"), (param,))
                row = cur.fetchone()
            finally:
                cur.close()
        except self._engine.dialect.loaded_dbapi.Error as exc:
            log.error("database error while %s: %s", doing, exc)
            self._drop(conn)
            raise StoreUnavailable(
                f"the database is unavailable while {doing}; retry later"
            ) from exc
        return row[0] if row is not None else None

    def _connect(self) -> Any:
        conn = raw_connect(self._engine)  # autocommit: each SELECT sees the latest commit
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    def _drop(self, conn: Any) -> None:
        self._local.conn = None
        if conn is not None:
            with self._lock:
                if conn in self._all:
                    self._all.remove(conn)
            try:
                conn.close()
            except Exception:  # already broken
                pass

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.close()
            except Exception:
                pass


@contextmanager
def translate_sql_errors(doing: str) -> Iterator[None]:
    """The one translation of SQLAlchemy errors: uniqueness violations become
    ``AlreadyExists``, values the database refuses ``InvalidRequest``, connection
    trouble ``StoreUnavailable``; the SQL detail is logged, never sent to clients."""
    try:
        yield
    except IntegrityError as exc:
        log.warning("integrity error while %s: %s", doing, exc.orig)
        raise AlreadyExists(f"conflict while {doing}: the record already exists") from exc
    except DataError as exc:  # the request's own data, not an outage: never "retry later"
        log.warning("data refused by the database while %s: %s", doing, exc.orig)
        raise InvalidRequest(f"a value is too long or malformed for the database while "
                             f"{doing}: check the request") from exc
    except (OperationalError, DBAPIError) as exc:
        log.error("database error while %s: %s", doing, exc)
        raise StoreUnavailable(f"the database is unavailable while {doing}; retry later") from exc


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit survives power loss, not only a crash (records are acknowledged
    # only once committed; group commit keeps the fsync cost per group, not per record).
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
