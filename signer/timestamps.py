"""Signature timestamps for CAdES-B-T: from this node's TSA, or from an external
RFC 3161 TSA over HTTP (the Government TSA answers in seconds to minutes).

A timestamper takes the hash of a signature value and returns a DER
TimeStampToken, or None when the deployment chose ``on_failure = "degrade"``
and the TSA failed (the signature then stays CAdES-B-B and the response says
so). With ``on_failure = "fail"`` the failure raises ``Unavailable``.

External TSAs get: a timeout per attempt, ``attempts`` tries with exponential
backoff, and at most ``max_concurrency`` requests in flight from this process
(others wait their turn, within their own deadline). Every external reply is
checked against its request (imprint, nonce) and its signature verified before
it is embedded. PAdES timestamps (``HttpTimestamper.query``, pyHanko checks the
reply) take the same road: one ``[cades]`` client for both, one HTTP exchange
(``signer.formats.tsp.post_query``) shared with the CLI.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from signer.config import CadesTimestampSettings
from signer.digest import Digest
from signer.errors import KysoError, Unavailable
from signer.formats.tsp import (
    TimestampError,
    check_response,
    make_request,
    post_query,
    token_from_response,
)

log = logging.getLogger(__name__)

Timestamper = Callable[[Digest], bytes | None]


class _FailurePolicy:
    def __init__(self, on_failure: str, what: str) -> None:
        self.degrade = on_failure == "degrade"
        self.what = what

    def failed(self, reason: str) -> None:
        if self.degrade:
            log.warning("signature timestamp from %s failed (%s): returning CAdES-B-B",
                        self.what, reason)
            return
        raise Unavailable(
            f"the timestamp authority ({self.what}) failed: {reason}; retry later, or ask "
            "for CAdES-B-B"
        )


class InternalTimestamper:
    """Timestamps from this node's own TSA (recorded like any other token)."""

    def __init__(self, issue: Callable[[Digest], bytes], on_failure: str) -> None:
        self._issue = issue
        self._policy = _FailurePolicy(on_failure, "this node's TSA")

    def __call__(self, digest: Digest) -> bytes | None:
        try:
            return self._issue(digest)
        except KysoError as exc:
            self._policy.failed(exc.message)
            return None


class _NoReply(Exception):
    """Every attempt failed without a TimeStampResp (the reason is the message)."""


class HttpTimestamper:
    """Timestamps from an external RFC 3161 TSA over HTTP(S), per the ``[cades]`` settings:
    CAdES signature timestamps (call it) and PAdES ones (``query``)."""

    def __init__(self, settings: CadesTimestampSettings) -> None:
        self._s = settings
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        self._policy = _FailurePolicy(settings.on_failure, settings.url)

    def __call__(self, digest: Digest) -> bytes | None:
        request, _nonce = make_request(digest.value, digest.alg.value)
        try:
            reply = self._exchange(request)
            check_response(reply, request_der=request)
            return token_from_response(reply)
        except TimestampError as exc:  # a refusal or a bad token: retrying won't help
            reason = f"rejected: {exc}"
        except _NoReply as exc:
            reason = str(exc)
        self._policy.failed(reason)
        return None

    def query(self, request_der: bytes) -> bytes:
        """The DER TimeStampResp the TSA gives for the DER TimeStampReq ``request_der``
        (a refusal included: the caller reads it), with the retries and limits of
        ``__call__``. Raises ``Unavailable`` when no attempt got a reply, whatever
        ``on_failure`` says: the level a caller asked for is not lowered here."""
        try:
            return self._exchange(request_der)
        except _NoReply as exc:
            raise Unavailable(
                f"the timestamp authority ({self._s.url}) failed: {exc}; retry later"
            ) from None

    def _exchange(self, request: bytes) -> bytes:
        """One reply for ``request``: up to ``attempts`` tries, each with its timeout and
        a slot among ``max_concurrency``; ``_NoReply`` when none answered."""
        s = self._s
        deadline = time.monotonic() + s.attempts * (s.timeout_s + s.backoff_s * 2**s.attempts)
        delay = s.backoff_s
        reason = "no attempt made"
        for attempt in range(1, s.attempts + 1):
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                reason = f"{s.max_concurrency} requests already in flight"
                break
            try:
                return post_query(s.url, request, s.timeout_s)
            except OSError as exc:  # TsaTransportError: unreachable, HTTP error, not a reply
                reason = f"attempt {attempt}/{s.attempts}: {exc}"
                log.info("TSA %s: %s", s.url, reason)
            finally:
                self._slots.release()
            if attempt < s.attempts:
                time.sleep(delay)
                delay *= 2
        raise _NoReply(reason)
