"""Adversarial: issue 12, item 5 — "Verification never fetches what an attacker names".

The promise attacked: ``Verify`` makes no network request on behalf of a submitted
document unless the deployment allows it (``[verify] fetch``), and then only to
download revocation data (CRL/OCSP) for certificates that already chain to a
configured anchor, only from allow-listed hosts (``fetch_allowed_hosts``), with at
most ``fetch_max_requests`` requests and ``fetch_budget_s`` seconds per call. When
revocation data is needed but not fetched, the signature is INDETERMINATE with a
reason that names the setting to change.

The attacker is a foreign signer: a test PKI with software keys (root, intermediate,
signer), whose certificates name AIA caIssuers, OCSP and CRL URLs on two real HTTP
servers on 127.0.0.1 that count every request they receive. One of them is the
"allow-listed" service, the other one stands for an internal host the attacker wants
kyso to reach. Documents are a detached CMS signature and a PAdES signature made with
pyHanko's software signer; the verifier is the server's own, built from settings the
way the server builds it. Nothing in the verifier is mocked.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import keys as a_keys
from asn1crypto import x509 as a_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from signer.config import VerifySettings
from signer.verify.engine import Kind, Verifier
from signer.verify.report import Indication, SignatureReport
from tests.documents import blank_pdf

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

NOW = datetime.now(UTC)
CONTENT = b"Cong van so 12/UBND: noi dung da ky.\n"
HOSTILE_URLS = 20  # revocation URLs per kind the hostile signer certificate names
SLOW_S = 60.0  # how long the slow handler would sleep if nobody released it


# --- counting HTTP servers -------------------------------------------------------------


class CountingServer:
    """A real HTTP server on 127.0.0.1 that records every request it receives.

    Paths: ``/slow/...`` sleeps (until released), ``/redirect/N`` answers 302 to
    ``/redirect/N+1``, ``/to/<url>`` answers 302 to ``<url>``; a path registered in
    ``routes`` answers 200 with its body; anything else 404.
    """

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.release = threading.Event()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                with outer._lock:
                    outer.hits.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if self.path.startswith("/slow/"):
                    outer.release.wait(SLOW_S)
                    try:
                        self.send_error(503)
                    except OSError:  # the client gave up long ago, as it should
                        pass
                    return
                if self.path.startswith("/redirect/"):
                    n = int(self.path.rsplit("/", 1)[1])
                    self.send_response(302)
                    self.send_header("Location", f"/redirect/{n + 1}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path.startswith("/to/"):
                    self.send_response(302)
                    self.send_header("Location", self.path.removeprefix("/to/"))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route = outer.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                content_type, body = route
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _serve  # http.server's naming
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.hits)

    def reset(self) -> None:
        with self._lock:
            self.hits.clear()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Servers:
    allowed: CountingServer  # the CA's revocation service, allow-listed when fetching is on
    internal: CountingServer  # a host the attacker wants kyso to reach: never allow-listed


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    s = Servers(CountingServer(), CountingServer())
    yield s
    s.allowed.close()
    s.internal.close()


@pytest.fixture(autouse=True)
def _fresh_counts(servers: Servers) -> None:
    servers.allowed.reset()
    servers.internal.reset()


# --- a test PKI with software keys -----------------------------------------------------


@dataclass
class Party:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def _name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Adversary Test PKI"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
    ])


def _issue(
    cn: str, issuer: Party | None, *, ca: bool, key: ec.EllipticCurvePrivateKey | None = None,
    crl: tuple[str, ...] = (), ocsp: tuple[str, ...] = (), ca_issuers: tuple[str, ...] = (),
) -> Party:
    key = key or ec.generate_private_key(ec.SECP256R1())
    signing_key = issuer.key if issuer is not None else key
    issuer_name = issuer.cert.subject if issuer is not None else _name(cn)
    issuer_pub = (issuer.cert.public_key() if issuer is not None else key.public_key())
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_pub),
                       critical=False)
    )
    if crl:
        b = b.add_extension(x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier(u)], None, None, None)
            for u in crl
        ]), critical=False)
    access = [
        x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                               x509.UniformResourceIdentifier(u)) for u in ocsp
    ] + [
        x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                               x509.UniformResourceIdentifier(u)) for u in ca_issuers
    ]
    if access:
        b = b.add_extension(x509.AuthorityInformationAccess(access), critical=False)
    return Party(key, b.sign(signing_key, hashes.SHA256()))


def _crl(issuer: Party) -> bytes:
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(NOW - timedelta(hours=1))
        .next_update(NOW + timedelta(days=7))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer.cert.public_key()), critical=False)
        .add_extension(x509.CRLNumber(1), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.DER)


@dataclass
class Pki:
    root: Party
    other_root: Party  # an anchor the signers do NOT chain to
    inter: Party
    hostile: Party  # names many URLs on both servers, caIssuers included
    good: Party  # names one CRL on the allowed server, which serves a valid one
    slow: Party  # names CRLs whose server never answers in time
    redirecting: Party  # names CRLs that redirect (a chain, and to the internal host)
    root_pem: Path
    other_root_pem: Path


@pytest.fixture(scope="module")
def pki(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Pki:
    a, i = servers.allowed, servers.internal
    root = _issue("Adversary Root", None, ca=True)
    other_root = _issue("Unrelated Root", None, ca=True)
    inter = _issue("Adversary Issuing CA", root, ca=True, crl=(a.url("/valid/root.crl"),),
                   ca_issuers=(a.url("/aia/root.cer"),))
    key = ec.generate_private_key(ec.SECP256R1())
    hostile = _issue(
        "Hostile Signer", inter, ca=False, key=key,
        crl=(*(a.url(f"/crl/{n}") for n in range(HOSTILE_URLS)), i.url("/internal.crl")),
        ocsp=(*(a.url(f"/ocsp/{n}") for n in range(HOSTILE_URLS)), i.url("/ocsp")),
        ca_issuers=(a.url("/aia/inter.cer"), i.url("/aia/inter.cer")),
    )
    good = _issue("Good Signer", inter, ca=False, key=key, crl=(a.url("/valid/inter.crl"),),
                  ca_issuers=(a.url("/aia/inter.cer"),))
    slow = _issue("Slow Signer", inter, ca=False, key=key,
                  crl=tuple(a.url(f"/slow/{n}") for n in range(HOSTILE_URLS)))
    redirecting = _issue("Redirecting Signer", inter, ca=False, key=key,
                         crl=(a.url("/redirect/0"), a.url("/to/" + i.url("/internal.crl"))))
    a.routes.update({
        "/valid/root.crl": ("application/pkix-crl", _crl(root)),
        "/valid/inter.crl": ("application/pkix-crl", _crl(inter)),
        "/aia/inter.cer": ("application/pkix-cert", inter.der),
        "/aia/root.cer": ("application/pkix-cert", root.der),
    })
    i.routes["/aia/inter.cer"] = ("application/pkix-cert", inter.der)
    d = tmp_path_factory.mktemp("adversary-pki")
    (d / "root.pem").write_bytes(root.cert.public_bytes(serialization.Encoding.PEM))
    (d / "other-root.pem").write_bytes(other_root.cert.public_bytes(serialization.Encoding.PEM))
    return Pki(root, other_root, inter, hostile, good, slow, redirecting,
               d / "root.pem", d / "other-root.pem")


# --- documents signed by the foreign signer ----------------------------------------------


def _simple_signer(signer: Party, chain: list[Party]) -> Any:
    from pyhanko.sign.signers import SimpleSigner
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key_der = signer.key.private_bytes(serialization.Encoding.DER,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    return SimpleSigner(
        signing_cert=a_x509.Certificate.load(signer.der),
        signing_key=a_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs(
            [a_x509.Certificate.load(p.der) for p in chain]),
    )


@dataclass(frozen=True)
class Document:
    kind: Kind
    data: bytes
    content: bytes | None


def make_document(fmt: str, signer: Party, chain: list[Party], *, times: int = 1) -> Document:
    """A detached CMS (CAdES-B-B) or a PAdES signature by ``signer``, embedding ``chain``;
    a PDF can be signed ``times`` times (one revision each)."""
    s = _simple_signer(signer, chain)
    if fmt == "cms":
        ci = asyncio.run(s.async_sign_general_data(CONTENT, "sha256", detached=True))
        return Document(Kind.CMS, ci.dump(), CONTENT)
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    data = blank_pdf()
    for n in range(1, times + 1):
        data = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(data)),
                                signers.PdfSignatureMetadata(field_name=f"Sig{n}"),
                                signer=s).getvalue()
    return Document(Kind.PDF, data, None)


FORMATS = ["cms", "pdf"]


# --- the verifier, built the way the server builds it -------------------------------------


def verifier(**settings: Any) -> Verifier:
    settings.setdefault("trust_dev_ca", False)
    return Verifier.from_settings(VerifySettings(**settings), dev_ca_der=None, engine=None)


def verify_all(v: Verifier, doc: Document) -> list[SignatureReport]:
    return v.verify(doc.data, kind=doc.kind, content=doc.content).signatures


def verify(v: Verifier, doc: Document) -> SignatureReport:
    sigs = verify_all(v, doc)
    assert len(sigs) == 1, sigs
    return sigs[0]


def fetching(servers: Servers, pki: Pki, **extra: Any) -> dict[str, Any]:
    """Settings that allow fetching from the allowed server only, with the real anchor."""
    base: dict[str, Any] = {
        "trust_anchor_files": (pki.root_pem,),
        "fetch": "revocation",
        "fetch_allowed_hosts": (servers.allowed.host,),
        "fetch_timeout_s": 5.0,
        "fetch_budget_s": 10.0,
        "fetch_max_requests": 8,
    }
    base.update(extra)
    return base


def errors(s: SignatureReport) -> str:
    return " | ".join(s.check.errors)


# --- (1) default settings: nothing is fetched, and the report says why ---------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_default_settings_fetch_nothing(servers: Servers, pki: Pki, fmt: str) -> None:
    doc = make_document(fmt, pki.hostile, [pki.inter])
    s = verify(verifier(trust_anchor_files=(pki.root_pem,)), doc)
    assert servers.allowed.hits == [] and servers.internal.hits == []
    assert s.intact and s.signature_valid and s.trusted, errors(s)
    assert s.indication is Indication.INDETERMINATE and s.check.sub_indication == "TRY_LATER"
    assert s.revocation == "unavailable"
    assert "[verify] fetch" in errors(s), errors(s)  # names the setting to change


@pytest.mark.parametrize("fmt", FORMATS)
def test_default_settings_do_not_download_a_missing_intermediate(
    servers: Servers, pki: Pki, fmt: str,
) -> None:
    doc = make_document(fmt, pki.hostile, [])  # the intermediate is only behind caIssuers
    s = verify(verifier(trust_anchor_files=(pki.root_pem,)), doc)
    assert servers.allowed.hits == [] and servers.internal.hits == []
    assert s.indication is Indication.INDETERMINATE
    assert s.check.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
    assert "intermediate" in errors(s).lower(), errors(s)


def with_embedded_crls(doc: Document, crls: list[bytes]) -> Document:
    """The document with the CRLs of its path embedded: a PDF's DSS (PAdES-B-LT), a CMS's
    unsigned ``crls`` field."""
    from asn1crypto import cms
    from asn1crypto import crl as a_crl

    lists = [a_crl.CertificateList.load(c) for c in crls]
    if doc.kind is Kind.CMS:
        ci = cms.ContentInfo.load(doc.data)
        ci["content"]["crls"] = cms.RevocationInfoChoices(
            [cms.RevocationInfoChoice(name="crl", value=c) for c in lists])
        return Document(doc.kind, ci.dump(force=True), doc.content)
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    out = BytesIO(doc.data)
    DocumentSecurityStore.add_dss(out, None, crls=lists)
    return Document(doc.kind, out.getvalue(), doc.content)


@pytest.mark.parametrize("fmt", FORMATS)
def test_embedded_revocation_data_needs_no_fetch(servers: Servers, pki: Pki, fmt: str) -> None:
    routes = servers.allowed.routes
    doc = with_embedded_crls(make_document(fmt, pki.good, [pki.inter]),
                             [routes["/valid/root.crl"][1], routes["/valid/inter.crl"][1]])
    s = verify(verifier(trust_anchor_files=(pki.root_pem,)), doc)
    assert servers.allowed.hits == [] and servers.internal.hits == []
    assert s.indication is Indication.PASSED, errors(s)
    assert s.revocation == "good"


# --- (2) fetching allowed, but the signer does not chain to an anchor: nothing is fetched --


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mode", ["default", "fetch-on"])
def test_unanchored_signer_triggers_no_request(
    servers: Servers, pki: Pki, fmt: str, mode: str,
) -> None:
    kw: dict[str, Any] = {"trust_anchor_files": (pki.other_root_pem,)}
    if mode == "fetch-on":
        kw = fetching(servers, pki, trust_anchor_files=(pki.other_root_pem,),
                      fetch_allowed_hosts=(servers.allowed.host, servers.internal.host))
    for chain in ([pki.inter], []):
        s = verify(verifier(**kw), make_document(fmt, pki.hostile, chain))
        assert s.indication is Indication.INDETERMINATE
        assert s.check.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND", errors(s)
        assert not s.trusted
    assert servers.allowed.hits == [] and servers.internal.hits == []


# --- (3) anchored and allow-listed: fetching works, within the cap and the budget ----------


@pytest.mark.parametrize("fmt", FORMATS)
def test_anchored_signer_is_checked_online(servers: Servers, pki: Pki, fmt: str) -> None:
    doc = make_document(fmt, pki.good, [pki.inter])
    s = verify(verifier(**fetching(servers, pki)), doc)
    assert s.indication is Indication.PASSED, errors(s)
    assert s.revocation == "good"
    assert sorted(servers.allowed.hits) == ["GET /valid/inter.crl", "GET /valid/root.crl"]
    assert servers.internal.hits == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_many_revocation_urls_stop_at_the_cap(servers: Servers, pki: Pki, fmt: str) -> None:
    doc = make_document(fmt, pki.hostile, [pki.inter])
    s = verify(verifier(**fetching(servers, pki, fetch_max_requests=3)), doc)
    assert 1 <= servers.allowed.count <= 3, servers.allowed.hits
    assert servers.internal.hits == []
    assert s.indication is Indication.INDETERMINATE and s.check.sub_indication == "TRY_LATER"
    assert "fetch_max_requests" in errors(s), errors(s)


@pytest.mark.parametrize("fmt", FORMATS)
def test_redirect_chain_stops_at_the_cap(servers: Servers, pki: Pki, fmt: str) -> None:
    doc = make_document(fmt, pki.redirecting, [pki.inter])
    s = verify(verifier(**fetching(servers, pki, fetch_max_requests=5)), doc)
    assert 1 <= servers.allowed.count <= 5, servers.allowed.hits
    assert servers.internal.hits == []  # "/to/<internal>" redirects are refused too
    assert s.indication is Indication.INDETERMINATE and s.check.sub_indication == "TRY_LATER"


@pytest.mark.parametrize("fmt", FORMATS)
def test_slow_server_stops_at_the_budget(servers: Servers, pki: Pki, fmt: str) -> None:
    doc = make_document(fmt, pki.slow, [pki.inter])
    budget = 2.0
    v = verifier(**fetching(servers, pki, fetch_budget_s=budget, fetch_timeout_s=30.0,
                            fetch_max_requests=50))
    start = time.monotonic()
    s = verify(v, doc)
    elapsed = time.monotonic() - start
    assert elapsed < budget + 5.0, elapsed
    assert 1 <= servers.allowed.count <= 50
    assert s.indication is Indication.INDETERMINATE and s.check.sub_indication == "TRY_LATER"
    assert "fetch_budget_s" in errors(s), errors(s)


def test_cap_and_budget_are_per_call_not_per_signature(servers: Servers, pki: Pki) -> None:
    """Four signatures in one PDF share one allowance: the cap and the budget bound the
    whole Verify call, however many signatures (or timestamps) the attacker adds."""
    many = make_document("pdf", pki.hostile, [pki.inter], times=4)
    sigs = verify_all(verifier(**fetching(servers, pki, fetch_max_requests=3)), many)
    assert len(sigs) == 4
    assert 1 <= servers.allowed.count <= 3, servers.allowed.hits
    assert all(s.check.sub_indication == "TRY_LATER" for s in sigs)

    servers.allowed.reset()
    budget = 2.0
    slow = make_document("pdf", pki.slow, [pki.inter], times=4)
    v = verifier(**fetching(servers, pki, fetch_budget_s=budget, fetch_timeout_s=30.0,
                            fetch_max_requests=100))
    start = time.monotonic()
    sigs = verify_all(v, slow)
    elapsed = time.monotonic() - start
    assert elapsed < budget + 5.0, elapsed  # four budgets would be 8 s
    assert len(sigs) == 4 and all(s.check.sub_indication == "TRY_LATER" for s in sigs)


# --- (4) a host that is not allow-listed is never contacted ---------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_host_not_on_the_list_gets_nothing(servers: Servers, pki: Pki, fmt: str) -> None:
    doc = make_document(fmt, pki.hostile, [pki.inter])
    s = verify(verifier(**fetching(servers, pki, fetch_max_requests=100)), doc)
    assert servers.internal.hits == []
    assert s.indication is Indication.INDETERMINATE and s.check.sub_indication == "TRY_LATER"
    assert "fetch_allowed_hosts" in errors(s), errors(s)


def test_same_host_other_port_is_not_allowed(servers: Servers, pki: Pki) -> None:
    """The allow-list matches host AND port: 127.0.0.1 on another port is another service."""
    doc = make_document("cms", pki.hostile, [pki.inter])
    host_only = servers.allowed.host.rsplit(":", 1)[0]  # "127.0.0.1": ports 80/443 only
    s = verify(verifier(**fetching(servers, pki, fetch_allowed_hosts=(host_only,))), doc)
    assert servers.allowed.hits == [] and servers.internal.hits == []
    assert s.indication is Indication.INDETERMINATE and s.check.sub_indication == "TRY_LATER"
