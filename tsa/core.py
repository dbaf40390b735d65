"""The time-stamp authority: answer a DER TimeStampReq with a DER TimeStampResp.

Order of work for a granted request (nothing acknowledged is lost):
parse and check the request → check the clock → take a serial → read the time →
build and sign the token in the HSM → commit its record (group commit) → reply.
If the record cannot be committed the token is dropped, never sent.

Refusals (RFC 3161 PKIFailureInfo) are replies, not errors; only an outage of the
database or the HSM raises (``StoreUnavailable``, ``HsmUnavailable``), so transports
can say "retry" in their own terms (gRPC UNAVAILABLE, HTTP 503).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table

from registry.audit import AuditLog, current_actor, wait_all
from registry.db.store import KeyRecord
from registry.db.tsa import TsaTokenRow
from signer.digest import Digest
from signer.errors import NotUsable, Unavailable
from signer.formats.tsp import (
    FailureInfo,
    ParsedRequest,
    Rejection,
    granted_response,
    parse_request,
    rejection_response,
)
from signer.idempotency import Recorder
from signer.runtime.observe import TIMESTAMPS
from tsa.clock import ClockGuard
from tsa.serials import SerialAllocator
from tsa.token import TokenBuilder, TsaPolicy

_TOKENS = cast(Table, TsaTokenRow.__table__)

log = logging.getLogger(__name__)


class TsaCore:
    def __init__(
        self,
        *,
        keys: Callable[[], tuple[KeyRecord, TokenBuilder]],
        policy: TsaPolicy,
        serials: SerialAllocator,
        clock_guard: ClockGuard,
        node_id: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        audit: AuditLog | None = None,
    ) -> None:
        """``keys`` gives the active TSA key and its builder, checked per request
        (``tsa.keys.TsaKeys.current``); it raises ``NotUsable`` when there is none."""
        self._audit = audit
        self._keys = keys
        self._policy = policy
        self._serials = serials
        self._guard = clock_guard
        self._node = node_id
        self._clock = clock
        self.issued = 0

    def usable(self) -> str | None:
        """Why this TSA cannot grant timestamps now (no usable key), or None."""
        try:
            self._keys()
        except NotUsable as exc:
            return exc.message
        return None

    def respond(self, request_der: bytes, record: Recorder | None = None) -> bytes:
        """A DER TimeStampResp for ``request_der``: granted, or a rejection saying why.

        ``record`` makes a row recording a granted response (idempotency), committed
        with the token's record."""
        try:
            req = parse_request(request_der, self._policy)
        except Rejection as r:
            log.info("timestamp refused (%s): %s", r.failure.name, r.text)
            return rejection_response(r.failure, r.text)
        try:
            _token, response = self._issue(req, record)
        except Rejection as r:
            return rejection_response(r.failure, r.text)
        return response

    def issue_token(self, digest: Digest) -> bytes:
        """A TimeStampToken (DER ContentInfo) over ``digest``, for signature timestamps
        made in this process (CAdES-B-T); recorded like any other token.

        Raises ``Unavailable`` when the TSA refuses (e.g. the clock is unsynchronised).
        """
        req = ParsedRequest(
            hash_alg=digest.alg,
            imprint=digest.value,
            policy=self._policy.default_policy,
            nonce=None,
            cert_req=True,
            der=b"",
        )
        try:
            token, _response = self._issue(req)
        except Rejection as r:
            raise Unavailable(f"this node's TSA refused: {r.text}") from None
        return token

    def _issue(self, req: ParsedRequest, record: Recorder | None = None) -> tuple[bytes, bytes]:
        """The token granting ``req`` and its TimeStampResp, recorded; ``Rejection`` when
        the TSA cannot grant it now (logged here)."""
        status = self._guard.status()
        if not status.synchronised:
            log.warning("timestamp refused: %s", status.reason)
            raise Rejection(FailureInfo.TIME_NOT_AVAILABLE, status.reason)
        try:
            key, builder = self._keys()  # the key's state, checked for this request
        except NotUsable as exc:
            log.error("timestamp refused: %s", exc.message)
            raise Rejection(FailureInfo.SYSTEM_FAILURE, exc.message) from None
        serial = self._serials.next()  # may raise StoreUnavailable
        now = self._clock()
        try:
            builder.check_validity(now)
        except NotUsable as exc:
            log.error("timestamp refused: %s", exc.message)
            raise Rejection(
                FailureInfo.SYSTEM_FAILURE, "the TSA certificate is not valid now"
            ) from None
        token = builder.build_token(req, serial=serial, gen_time=now)
        response = granted_response(token)
        key_hex = key.key_id.hex()
        # The token record and its audit record are committed in one transaction of
        # the node's group commit; the reply waits for it. If it fails the token is
        # dropped, never sent. Without an audit log (the benchmark-only
        # ``unsafe_skip_records`` mode) nothing is recorded.
        if self._audit is not None:
            wait_all([self._audit.append(current_actor.get(), "timestamp", format(serial, "x"), {
                "imprint": req.imprint.hex(), "hash_alg": req.hash_alg.value,
                "policy": req.policy, "key_id": key_hex,
            }, rows=[(_TOKENS, {
                "serial": format(serial, "x"),
                "gen_time": now,
                "hash_alg": req.hash_alg.value,
                "imprint": req.imprint,
                "policy": req.policy,
                "nonce": format(req.nonce, "x") if req.nonce is not None else None,
                "node_id": self._node,
                "key_id": key_hex,
            }), *([record(response)] if record is not None else [])])])  # StoreUnavailable
        self.issued += 1
        TIMESTAMPS.inc()
        return token, response

