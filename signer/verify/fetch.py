"""Network fetching during verification: what may be asked, of whom, how often, how long.

A submitted document names URLs in its certificates (AIA caIssuers, OCSP responders,
CRL distribution points). Following them on the document's say-so lets anyone make
this server send requests to hosts of their choosing (SSRF) and keep a handler busy
through a chain of slow or redirecting URLs. So (issue 12, item 5):

* nothing is fetched unless ``[verify] fetch = "revocation"``;
* only CRLs and OCSP responses, only for the certificates of a path that already ends
  at a configured anchor (``trust`` decides that first, offline). Issuer certificates
  (AIA caIssuers) are never downloaded: a path is built from the anchors and the
  certificates the document carries;
* only from hosts in ``fetch_allowed_hosts`` (exact host name or IP, and port),
  checked for every connection, redirects included, before any DNS lookup;
* at most ``fetch_max_requests`` HTTP requests and ``fetch_budget_s`` seconds per
  ``Verify`` call (counted from its first download), each request at most
  ``fetch_timeout_s``.

``GuardedFetcherBackend`` is the only fetcher backend the verifier hands to
pyhanko-certvalidator. The host, count and time rules are enforced in its connection
pool (``_GuardedConnector.connect``), which every request of its HTTP session goes
through, so no fetcher, pyHanko's or a later one on the same session, can go around
them.

Exceptions::

    aiohttp.ClientConnectionError
     └── FetchRefused          a request the rules forbid; raised before connecting
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import ssl
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import certifi
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace
from asn1crypto import cms, crl, ocsp, x509
from pyhanko_certvalidator.authority import Authority
from pyhanko_certvalidator.errors import CRLFetchError, OCSPFetchError
from pyhanko_certvalidator.fetchers.aiohttp_fetchers import AIOHttpFetcherBackend
from pyhanko_certvalidator.fetchers.api import (
    CertificateFetcher,
    CRLFetcher,
    FetcherBackend,
    Fetchers,
    FetchLimits,
    OCSPFetcher,
)

from signer.catalogue import Message, legacy

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_BRACKETED = re.compile(r"^\[(?P<ip>[^\]]+)\](?::(?P<port>[^:]*))?$")

# Why a download was refused or failed is a ``signer.catalogue`` message (``fetch.*``),
# naming the setting to change as the person who must change it sees it.


class FetchRefused(aiohttp.ClientConnectionError):
    """A request the fetch rules forbid: raised before any connection or DNS lookup.

    A ``ClientConnectionError``, so pyHanko's fetchers report it as the usual fetch
    failure of their kind (and the revocation check as INDETERMINATE)."""


# --- the allow-list ------------------------------------------------------------------


def _normal_host(host: str) -> str:
    """Lower case, no trailing dot, IP literals in their canonical text form."""
    host = host.strip().lower().removesuffix(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


@dataclass(frozen=True, slots=True)
class AllowedHost:
    """One ``fetch_allowed_hosts`` entry: a host name or IP literal, and a port.

    Matching is exact: no wildcards, no subdomains, no resolution (``crl.ca.gov.vn``
    does not admit ``ocsp.ca.gov.vn``, ``127.0.0.1`` does not admit ``localhost``).
    Without a port the entry admits the scheme's default port only (80 for http, 443
    for https); with one, that port only.
    """

    host: str
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> AllowedHost:
        """Parse ``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; ``ValueError`` says what is
        wrong and how to write it."""
        raw = text.strip()
        if not raw:
            raise ValueError("an empty host name: write a host such as crl.ca.gov.vn")
        if "://" in raw or any(c in raw for c in "/?#@") or any(c.isspace() for c in raw):
            raise ValueError(
                f"{text!r} is not a host: write the host name or host:port only, e.g. "
                "crl.ca.gov.vn or crl.ca.gov.vn:8080, not a URL"
            )
        if "*" in raw:
            raise ValueError(
                f"{text!r}: wildcards are not supported; list every CRL/OCSP host exactly"
            )
        port_text: str | None = None
        bracketed = _BRACKETED.match(raw)
        if bracketed:
            host, port_text = bracketed["ip"], bracketed["port"]
            try:
                host = str(ipaddress.IPv6Address(host))
            except ValueError:
                raise ValueError(f"{text!r}: [{host}] is not an IPv6 address") from None
        elif raw.count(":") > 1:
            try:
                host = str(ipaddress.IPv6Address(raw))
            except ValueError:
                raise ValueError(
                    f"{text!r} is neither host:port nor an IPv6 address (write an IPv6 "
                    "address with a port as [2001:db8::1]:8080)"
                ) from None
        else:
            host, sep, port_text_ = raw.partition(":")
            port_text = port_text_ if sep else None
            if not host.isascii():
                raise ValueError(
                    f"{text!r}: write internationalised host names in their ASCII form "
                    "(xn--...)"
                )
            host = _normal_host(host)
            try:
                ipaddress.ip_address(host)
            except ValueError:
                labels = host.split(".")
                if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
                    raise ValueError(
                        f"{text!r} is not a valid host name (letters, digits and hyphens "
                        "in dot-separated labels) or IP address"
                    ) from None
        port: int | None = None
        if port_text is not None:
            if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
            port = int(port_text)
        return cls(host, port)

    def admits(self, scheme: str, host: str, port: int) -> bool:
        if _normal_host(host) != self.host:
            return False
        if self.port is None:
            return port == DEFAULT_PORTS.get(scheme)
        return port == self.port

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


# --- the policy (per node) and the allowance (per call) ----------------------------------


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """What the deployment allows (``[verify] fetch*``). Immutable; one per node."""

    enabled: bool = False
    allowed_hosts: tuple[AllowedHost, ...] = ()
    budget_s: float = 15.0
    max_requests: int = 8
    request_timeout_s: float = 10.0

    def allows_host(self, scheme: str, host: str, port: int) -> bool:
        return scheme in DEFAULT_PORTS and any(
            a.admits(scheme, host, port) for a in self.allowed_hosts
        )


def _where(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown[:100]}:{port}"


@dataclass
class FetchAllowance:
    """One ``Verify`` call's share of fetching: its count of requests, its deadline, and
    why requests were refused or failed. Used from the call's event loop only."""

    policy: FetchPolicy
    clock: Callable[[], float] = time.monotonic
    requests: int = 0
    reasons: list[Message] = field(default_factory=list)
    _deadline: float | None = None

    def remaining_s(self) -> float:
        """Seconds left of the budget; the clock starts at the first download."""
        if self._deadline is None:
            return self.policy.budget_s
        return self._deadline - self.clock()

    def note(self, reason: Message) -> None:
        self.reasons.append(reason)

    def reasons_since(self, mark: int) -> list[Message]:
        """The reasons noted since ``mark`` (a former ``len(reasons)``), each once."""
        return list(dict.fromkeys(self.reasons[mark:]))

    def admit(self, scheme: str, host: str, port: int) -> None:
        """Count one HTTP request, or raise ``FetchRefused`` saying which rule forbids it."""
        where = _where(scheme, host, port)
        if not self.policy.enabled:
            self._refuse(where, Message.of("fetch.off"))
        if not self.policy.allows_host(scheme, host, port):
            self._refuse(where, Message.of("fetch.host_not_allowed", detail=where))
        if self.requests >= self.policy.max_requests:
            self._refuse(where, Message.of("fetch.cap", max=self.policy.max_requests))
        if self._deadline is None:
            self._deadline = self.clock() + self.policy.budget_s
        elif self.remaining_s() <= 0:
            self._refuse(where, self.budget_reason())
        self.requests += 1
        log.info("verify: fetching revocation data from %s (%d of at most %d)", where,
                 self.requests, self.policy.max_requests)

    def budget_reason(self) -> Message:
        return Message.of("fetch.budget", seconds=f"{self.policy.budget_s:g}")

    def _refuse(self, where: str, reason: Message) -> None:
        self.note(reason)
        text = legacy(reason)
        log.info("verify: not fetching from %s: %s", where, text)
        raise FetchRefused(text)

    async def bounded(self, work: Awaitable[T], error: type[Exception]) -> T:
        """Await one fetch within what is left of the budget; turn a timeout or an
        unexpected failure into ``error`` (the fetch error pyHanko expects)."""
        remaining = self.remaining_s()
        if remaining <= 0:
            if asyncio.iscoroutine(work):
                work.close()
            reason = self.budget_reason()
            self.note(reason)
            raise error(legacy(reason))
        try:
            async with asyncio.timeout(remaining):
                return await work
        except TimeoutError:
            # asyncio.timeout (the budget), or aiohttp's per-request total timeout,
            # which it raises as a bare TimeoutError
            reason = (self.budget_reason() if self.remaining_s() <= 0 else
                      Message.of("fetch.timeout",
                                 seconds=f"{self.policy.request_timeout_s:g}"))
            self.note(reason)
            raise error(legacy(reason)) from None
        except error:
            raise
        except Exception as exc:  # a fetcher bug or an unexpected transport error
            log.info("verify: revocation download failed", exc_info=True)
            raise error(legacy(Message.of("fetch.failed", detail=type(exc).__name__))) from exc


# --- the fetcher backend ---------------------------------------------------------------


class _GuardedConnector(aiohttp.TCPConnector):
    """Admits every connection through the call's allowance, before DNS or TCP."""

    def __init__(self, allowance: FetchAllowance, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._allowance = allowance

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> Connection:
        url = req.url
        self._allowance.admit(url.scheme, url.raw_host or "", url.port or 0)
        return await super().connect(req, traces, timeout)


class _GuardedOcspFetcher(OCSPFetcher):
    def __init__(self, inner: OCSPFetcher, allowance: FetchAllowance) -> None:
        self._inner, self._allowance = inner, allowance

    async def fetch(
        self, cert: x509.Certificate | cms.AttributeCertificateV2, authority: Authority
    ) -> ocsp.OCSPResponse:
        return await self._allowance.bounded(self._inner.fetch(cert, authority),
                                             OCSPFetchError)

    def fetched_responses(self) -> Iterable[ocsp.OCSPResponse]:
        return self._inner.fetched_responses()

    def fetched_responses_for_cert(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> Iterable[ocsp.OCSPResponse]:
        return self._inner.fetched_responses_for_cert(cert)


class _GuardedCrlFetcher(CRLFetcher):
    def __init__(self, inner: CRLFetcher, allowance: FetchAllowance) -> None:
        self._inner, self._allowance = inner, allowance

    async def fetch(
        self, cert: x509.Certificate | cms.AttributeCertificateV2, *,
        use_deltas: bool | None = None,
    ) -> Iterable[crl.CertificateList]:
        return await self._allowance.bounded(
            self._inner.fetch(cert, use_deltas=use_deltas), CRLFetchError)

    def fetched_crls(self) -> Iterable[crl.CertificateList]:
        return self._inner.fetched_crls()

    def fetched_crls_for_cert(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> Iterable[crl.CertificateList]:
        return self._inner.fetched_crls_for_cert(cert)


async def _no_certificates() -> AsyncGenerator[x509.Certificate, None]:
    return
    yield  # an async generator that yields nothing


class _NoCertificateFetcher(CertificateFetcher):
    """Issuer certificates (AIA caIssuers, a CRL's issuer) are never downloaded."""

    def __init__(self, allowance: FetchAllowance) -> None:
        self._allowance = allowance

    def fetch_cert_issuers(
        self, cert: x509.Certificate | cms.AttributeCertificateV2
    ) -> AsyncGenerator[x509.Certificate, None]:
        # asked only when no issuer is at hand, e.g. for an OCSP responder's certificate
        self._allowance.note(Message.of("fetch.issuer_not_downloaded"))
        return _no_certificates()

    def fetch_crl_issuers(self, certificate_list: Any) -> AsyncGenerator[x509.Certificate, None]:
        self._allowance.note(Message.of("fetch.crl_issuer_not_downloaded"))
        return _no_certificates()

    def fetched_certs(self) -> Iterable[x509.Certificate]:
        return ()


class GuardedFetcherBackend(FetcherBackend):
    """pyHanko's aiohttp fetchers on an HTTP session whose every request the call's
    ``FetchAllowance`` admits first. Create one per validation, inside its event loop;
    ``close`` it after."""

    def __init__(self, allowance: FetchAllowance) -> None:
        self._allowance = allowance
        self._session: aiohttp.ClientSession | None = None

    def get_fetchers(self) -> Fetchers:
        policy = self._allowance.policy
        if self._session is None:
            connector = _GuardedConnector(
                self._allowance, ssl=ssl.create_default_context(cafile=certifi.where()),
            )
            # trust_env=False: no proxy from the environment, the connector sees the target
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        inner = AIOHttpFetcherBackend(
            self._session, per_request_timeout=policy.request_timeout_s,
            # our allowance counts per call (redirects included); pyHanko's per context
            limits=FetchLimits(max_requests=None, max_cert_requests=0,
                               max_aia_urls_per_object=0),
        ).get_fetchers()
        return Fetchers(
            ocsp_fetcher=_GuardedOcspFetcher(inner.ocsp_fetcher, self._allowance),
            crl_fetcher=_GuardedCrlFetcher(inner.crl_fetcher, self._allowance),
            cert_fetcher=_NoCertificateFetcher(self._allowance),
        )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
