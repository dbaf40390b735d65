"""The signing core: resolve an agency's active key, check it may sign now, sign
a batch of digests raw or as CAdES-B-B. No protobuf here (see ``signer.service``)."""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table

from registry.agencies.codes import parse_code
from registry.audit import AuditLog, current_actor, wait_all
from registry.db.records import SignatureRecordRow
from registry.db.store import KeyRecord, KeyState, RegistryStore
from signer.digest import Digest, HashAlg
from signer.errors import InvalidRequest, NotUsable
from signer.formats.cms import CadesSigner
from signer.keys.store import Pkcs11KeyStore
from signer.keys.types import Scheme
from signer.runtime.observe import SIGNATURES
from signer.timestamps import Timestamper

_SIGNATURES = cast(Table, SignatureRecordRow.__table__)


class OutputFormat(enum.Enum):
    RAW = "raw"
    CMS = "cms"  # detached CMS SignedData, CAdES-B-B or B-T


class CadesLevel(enum.Enum):
    B_B = "B-B"
    B_T = "B-T"


@dataclass(frozen=True, slots=True)
class SignResult:
    key: KeyRecord
    scheme: Scheme
    signatures: list[bytes]
    levels: list[CadesLevel | None]  # None for raw signatures


class _Material:
    """An agency's signing key as resolved from the registry, with CMS builders
    made once per hash algorithm and scheme (they pre-encode the fixed parts)."""

    def __init__(self, key: KeyRecord, keystore: Pkcs11KeyStore, loaded_at: float) -> None:
        self.key = key
        self.loaded_at = loaded_at
        self._keystore = keystore
        self._cades: dict[tuple[HashAlg, Scheme], CadesSigner] = {}
        self._lock = threading.Lock()

    def cades(self, alg: HashAlg, scheme: Scheme) -> CadesSigner:
        signer = self._cades.get((alg, scheme))
        if signer is None:
            with self._lock:
                signer = self._cades.get((alg, scheme))
                if signer is None:
                    cert = self.key.certificate
                    assert cert is not None
                    signer = CadesSigner(
                        certificate_der=cert.der,
                        chain_der=list(cert.chain),
                        key=self._keystore.key(self.key.key_id),
                        scheme=scheme,
                        hash_alg=alg,
                        public_key_der=self.key.public_key_der,
                    )
                    self._cades[(alg, scheme)] = signer
        return signer


class SignerCore:
    """Signs digests for agencies with keys in the HSM.

    Key resolution (key record, certificate, CMS builders) is cached for
    ``cache_ttl_s`` seconds per agency. The key's *state* is not: before each
    request a cached key is re-checked with ``RegistryStore.key_state`` — one
    SELECT of ``state`` on the unique ``keys.key_id`` index, no ORM objects —
    so retiring, compromising or rotating away from a key takes effect on the
    very next request of every node sharing the database (Circular 15/2025:
    the key must be active and its certificate valid before each signature).
    A key found not active drops the cache entry and the agency's signing key
    is resolved again (the rotated-to key, or a NotUsable that names the
    compromise). Measured on this 2-core machine (SQLite WAL, warm connection
    pool, a throwaway script, 3 x 5,000 calls): ~90-130 µs per check, of which
    ~10 µs is the pool's pre-ping; the ORM lookup it replaces costs ~1 ms. That
    is ~10% of an RSA-2048 HSM signature (~1.1 ms) and about half the gRPC
    server CPU of a one-digest P-256 call (~220 µs), paid once per request,
    not per digest (batches amortise it). A global ``keys_version`` counter
    would cost the same single SELECT per request and invalidate every
    agency's cache on any change, so the per-key check was chosen. On
    PostgreSQL it is one network round trip (plus the pre-ping's).
    """

    def __init__(
        self,
        keystore: Pkcs11KeyStore,
        registry: RegistryStore,
        *,
        max_batch: int,
        cache_ttl_s: float = 2.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timestamper: Timestamper | None = None,
        timestamp_concurrency: int = 8,
        audit: AuditLog | None = None,
        node_id: str = "",
        hsm_parallelism: int = 1,
    ) -> None:
        # Digests of one batch are signed on up to this many HSM sessions at once
        # (PKCS#11 calls release the GIL); 1 signs them one after another.
        self._parallel = max(1, hsm_parallelism)
        self._hsm_pool = (
            ThreadPoolExecutor(self._parallel, thread_name_prefix="kyso-hsm")
            if self._parallel > 1
            else None
        )
        self._audit = audit
        self._node = node_id
        self._timestamper = timestamper
        self._ts_pool = (
            ThreadPoolExecutor(timestamp_concurrency, thread_name_prefix="kyso-bt")
            if timestamper is not None
            else None
        )
        self._keystore = keystore
        self._registry = registry
        self.max_batch = max_batch  # digests per call (read by GetLimits)
        self._ttl = cache_ttl_s
        self._clock = clock
        self._cache: dict[str, _Material] = {}

    def close(self) -> None:
        """Stop the HSM and timestamp worker threads (after the server has drained)."""
        for pool in (self._hsm_pool, self._ts_pool):
            if pool is not None:
                pool.shutdown(wait=True)

    def signing_key(self, agency_code: str) -> KeyRecord:
        return self._material(parse_code(agency_code).code).key

    def sign_digests(
        self,
        agency_code: str,
        digests: Sequence[Digest],
        output: OutputFormat,
        scheme: Scheme | None = None,
        level: CadesLevel = CadesLevel.B_B,
        documents: Sequence[tuple[str, str]] | None = None,
        reply: Callable[[SignResult], tuple[Table, dict[str, Any]]] | None = None,
    ) -> SignResult:
        """Sign ``digests``; ``documents`` gives each one's (type, number) for the statistics.

        ``reply`` makes the row that records the reply to this request (idempotency),
        committed in the same transaction as the signature and audit records."""
        if not digests:
            raise InvalidRequest("no digests to sign: send at least one")
        if len(digests) > self.max_batch:
            raise InvalidRequest(
                f"batch of {len(digests)} digests is larger than this server's limit of "
                f"{self.max_batch}: split it into several calls"
            )
        code = parse_code(agency_code).code
        material = self._material(code)
        key = material.key
        chosen = scheme or key.scheme
        if not chosen.fits(key.algorithm):
            raise InvalidRequest(
                f"scheme {chosen.value} does not fit agency {code}'s {key.algorithm.value} key: "
                f"use {key.algorithm.default_scheme.value} or leave the scheme unspecified"
            )
        now = self._clock()
        # Circular 15/2025: check the certificate is valid before signing.
        cert = key.certificate
        assert cert is not None
        if not cert.valid_at(now):
            raise NotUsable(
                f"agency {code}'s certificate (serial {cert.serial_hex}) is not valid now "
                f"(valid {cert.not_before:%Y-%m-%d} to {cert.not_after:%Y-%m-%d}): "
                "renew it or rotate the key"
            )
        if output is OutputFormat.RAW:
            if level is not CadesLevel.B_B:
                raise InvalidRequest("a CAdES level applies to CMS output only: ask for CMS")
            sigs = self._map(lambda d: self._keystore.sign_digest(key.key_id, d, chosen), digests)
            return self._audited(code, digests, output, documents, now, reply,
                                 SignResult(key, chosen, sigs, [None] * len(sigs)))
        if level is CadesLevel.B_B:
            sigs = self._map(lambda d: material.cades(d.alg, chosen).sign(d, now), digests)
            return self._audited(code, digests, output, documents, now, reply,
                                 SignResult(key, chosen, sigs, [CadesLevel.B_B] * len(sigs)))
        if self._timestamper is None or self._ts_pool is None:
            raise NotUsable("this server has no timestamp authority configured for CAdES-B-T")
        stamper = self._timestamper

        def one(d: Digest) -> tuple[bytes, CadesLevel]:
            stamped: list[bool] = []

            def ts(h: Digest) -> bytes | None:
                token = stamper(h)
                stamped.append(token is not None)
                return token

            sig = material.cades(d.alg, chosen).sign(d, now, ts)
            return sig, CadesLevel.B_T if stamped and stamped[0] else CadesLevel.B_B

        # A slow external TSA is waited for concurrently (bounded by the timestamper).
        pairs = list(self._ts_pool.map(one, digests))
        return self._audited(code, digests, output, documents, now, reply,
                             SignResult(key, chosen, [p[0] for p in pairs], [p[1] for p in pairs]))

    def _map(self, sign: Callable[[Digest], bytes], digests: Sequence[Digest]) -> list[bytes]:
        """Sign a batch, spread over the HSM sessions in contiguous chunks (order kept)."""
        if self._hsm_pool is None or len(digests) < 2 * self._parallel:
            return [sign(d) for d in digests]
        n = self._parallel
        size = -(-len(digests) // n)
        chunks = [digests[i:i + size] for i in range(0, len(digests), size)]

        def run(chunk: Sequence[Digest]) -> list[bytes]:
            return [sign(d) for d in chunk]

        futures = [self._hsm_pool.submit(run, c) for c in chunks]
        return [sig for f in futures for sig in f.result()]

    def _audited(self, code: str, digests: Sequence[Digest], output: OutputFormat,
                 documents: Sequence[tuple[str, str]] | None, now: datetime,
                 reply: Callable[[SignResult], tuple[Table, dict[str, Any]]] | None,
                 result: SignResult) -> SignResult:
        """One hash-chained audit record per call naming every digest it signed, and
        one signature record per signature, committed together (in groups) before
        the reply leaves: nothing acknowledged is unrecorded. Without an audit log
        (unit tests; the benchmark-only ``unsafe_skip_records`` mode) nothing is
        recorded."""
        if self._audit is None:
            SIGNATURES.labels(code, output.value).inc(len(digests))
            return result
        actor, key_id = current_actor.get(), result.key.key_id.hex()
        docs = documents or [("", "")] * len(digests)
        rows = [
            (_SIGNATURES, {
                "time": now, "node_id": self._node, "client": actor, "agency_code": code,
                "key_id": key_id, "hash_alg": d.alg.value, "digest": d.value,
                "output": output.value, "level": level.value if level else None,
                "document_type": doc[0], "document_number": doc[1],
            })
            for d, level, doc in zip(digests, result.levels, docs, strict=True)
        ]
        if reply is not None:
            rows.append(reply(result))
        levels = sorted({lv.value for lv in result.levels if lv is not None})
        wait_all([self._audit.append(actor, "sign", code, {
            "key_id": key_id, "format": output.value, "scheme": result.scheme.value,
            "levels": levels, "count": len(digests),
            "digests": [f"{d.alg.value}:{d.value.hex()}" for d in digests],
            "documents": [list(doc) for doc in docs] if documents else [],
        }, rows=rows)])
        SIGNATURES.labels(code, output.value).inc(len(digests))  # only once on record
        return result

    def _material(self, code: str) -> _Material:
        now = time.monotonic()
        m = self._cache.get(code)
        if m is not None and now - m.loaded_at < self._ttl:
            if self._registry.key_active(m.key.key_id):
                return m
            # Retired, compromised or rotated away from since cached: resolve again now.
            self._cache.pop(code, None)
            m = None
        key = self._registry.signing_key(code)
        if key.state is not KeyState.ACTIVE or key.certificate is None:
            raise NotUsable(
                f"agency {code} has no active key with a certificate: issue one with "
                f"`kyso admin cert issue {code}`"
            )
        if m is not None and m.key == key:
            m.loaded_at = now
            return m
        m = _Material(key, self._keystore, now)
        self._cache[code] = m
        return m
