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
it is embedded.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from signer.config import CadesTimestampSettings
from signer.digest import Digest
from signer.errors import KysoError, Unavailable
from signer.formats.tsp import TimestampError, check_response, make_request, token_from_response

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


class HttpTimestamper:
    """Timestamps from an external RFC 3161 TSA over HTTP(S)."""

    def __init__(self, settings: CadesTimestampSettings) -> None:
        self._s = settings
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        self._policy = _FailurePolicy(settings.on_failure, settings.url)

    def __call__(self, digest: Digest) -> bytes | None:
        s = self._s
        request, _nonce = make_request(digest.value, digest.alg.value)
        deadline = time.monotonic() + s.attempts * (s.timeout_s + s.backoff_s * 2**s.attempts)
        delay = s.backoff_s
        reason = "no attempt made"
        for attempt in range(1, s.attempts + 1):
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                reason = f"{s.max_concurrency} requests already in flight"
                break
            try:
                reply = self._post(request)
                check_response(reply, request_der=request)
                return token_from_response(reply)
            except TimestampError as exc:  # a refusal or a bad token: retrying won't help
                reason = f"rejected: {exc}"
                break
            except (OSError, urllib.error.URLError) as exc:
                reason = f"attempt {attempt}/{s.attempts}: {exc}"
                log.info("TSA %s: %s", s.url, reason)
            finally:
                self._slots.release()
            if attempt < s.attempts:
                time.sleep(delay)
                delay *= 2
        self._policy.failed(reason)
        return None

    def _post(self, request: bytes) -> bytes:
        req = urllib.request.Request(
            self._s.url,
            data=request,
            headers={"Content-Type": "application/timestamp-query"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=self._s.timeout_s) as resp:
            ctype = resp.headers.get("Content-Type", "")
            if not ctype.startswith("application/timestamp-reply"):
                raise OSError(f"unexpected Content-Type {ctype!r}")
            body: bytes = resp.read(1 << 20)
            return body
