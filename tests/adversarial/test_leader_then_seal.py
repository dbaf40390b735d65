"""Adversarial: issue 12, item 4 — "Leader-then-seal checks a trusted, unmodified leader
signature".

The promise attacked: Decree 30/2020 seals a document the leader has signed, so kyso's
``seal`` profile (the thin client ``kyso sign pdf`` and the server-side
``PdfService/SignPdf``) puts the organization seal only on a PDF that carries a personal
signature which (a) is intact and cryptographically valid, (b) has a certificate that
validates to the configured trust anchors (``[verify]``: the development CA, the files
in ``trust_anchor_files``) with its revocation status known, and (c) was not followed by
changes beyond what its DocMDP permission or field locks allow — and only if the seal
itself would not break such a permission or lock. Every refusal names the signature
(field, signer) and says what is wrong in English and in Vietnamese.

The attacker is whoever hands the clerk (văn thư) a PDF to seal: a PDF "signed by the
leader" with a self-signed certificate, with a certificate from a CA the deployment
does not trust, with a certificate whose revocation status cannot be known, or a PDF
the leader really signed and somebody then edited, or one whose leader locked it
against any further change. Each PDF is attacked through both PDF paths of kyso.

The tools are real: a ``kyso serve --demo`` process on SoftHSM, the leader's keys and
CSR made with ``openssl req``, the leader's signature made with pyHanko (a foreign
signer), a foreign CA and a Government-like CA (software keys, the latter named in
``[verify] trust_anchor_files``, its certificates pointing at a CRL that cannot be
fetched because ``[verify] fetch`` is off). Sealed output is checked by pdfsig (poppler,
NSS) and pyHanko's validator. Nothing of kyso is mocked.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.helpers import hsm_unavailable_reason
from tests.servers import KYSO, Server, server_env, start_server, stop_server

# Formats and handlers: what they do does not depend on the database (records reach
# PostgreSQL in the modules that test records), so the PostgreSQL pass skips them.
pytestmark = [pytest.mark.e2e, pytest.mark.database_free]
DEMO = "000.00.00.H13"
FIELD = "ChuKyLanhDao"  # the leader's signature field
SIG_BOX = (300, 300, 450, 360)
LEADER_CN = "Nguyễn Văn An"  # the dev-CA-issued leader
SELF_CN = "Trần Văn Giả"  # a self-signed "leader"
FOREIGN_CN = "Lê Thị Lạ"  # issued by a CA nobody configured
REVOKABLE_CN = "Phạm Văn Cường"  # issued under an anchor, revocation unknown
NOW = datetime.now(UTC)
IMPOSTOR_FIELD = "ChuKyThem"
OTHER = "000.00.00.H49"  # another agency, with an organization key in kyso


def run(*cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=cwd)


def flat(text: str) -> str:
    """The CLI's console wraps long lines: compare with whitespace collapsed."""
    return " ".join(text.split())


# --- a software PKI for the foreign and Government-like CAs ---------------------------


def _name(cn: str, org: str = "") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _cert(subject: x509.Name, key: rsa.RSAPrivateKey, issuer: x509.Certificate | None,
          issuer_key: rsa.RSAPrivateKey, *, ca: bool, crl_url: str = "") -> x509.Certificate:
    b = (x509.CertificateBuilder().subject_name(subject)
         .issuer_name(issuer.subject if issuer else subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=365))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))
    if ca:
        b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                          False), critical=True)
    else:
        b = b.add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                          False), critical=True)
    if issuer is not None:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), False)
    if crl_url:
        b = b.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), False)
    return b.sign(issuer_key, hashes.SHA256())


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _write_cert(path: Path, *certs: x509.Certificate) -> None:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))


def _person_under_ca(d: Path, label: str, ca_cn: str, person_cn: str,
                     crl_url: str = "") -> tuple[Path, Path, Path]:
    """A root CA (software key) and a person certificate it issued: (root, key, cert)."""
    ca_key = rsa.generate_private_key(65537, 2048)
    ca = _cert(_name(ca_cn, "Foreign PKI"), ca_key, None, ca_key, ca=True)
    key = rsa.generate_private_key(65537, 2048)
    cert = _cert(_name(person_cn), key, ca, ca_key, ca=False, crl_url=crl_url)
    root, key_file, cert_file = d / f"{label}-ca.pem", d / f"{label}.key", d / f"{label}.pem"
    _write_cert(root, ca)
    _write_key(d / f"{label}-ca.key", ca_key)
    _write_key(key_file, key)
    _write_cert(cert_file, cert)
    return root, key_file, cert_file


# --- PDFs -------------------------------------------------------------------------------


def text_pdf() -> bytes:
    """One A4 page with a line of text (the decision the leader signs)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    n = generic.NameObject
    w = PdfFileWriter()
    font = w.add_object(generic.DictionaryObject({
        n("/Type"): n("/Font"), n("/Subtype"): n("/Type1"), n("/BaseFont"): n("/Helvetica")}))
    content = w.add_object(generic.StreamObject(
        stream_data=b"BT /F1 14 Tf 72 760 Td (Quyet dinh 11/QD-UBND: chi 100 trieu dong) Tj ET"))
    w.insert_page(generic.DictionaryObject({
        n("/Type"): n("/Page"),
        n("/MediaBox"): generic.ArrayObject([generic.NumberObject(0), generic.NumberObject(0),
                                             generic.FloatObject(595.28),
                                             generic.FloatObject(841.89)]),
        n("/Resources"): generic.DictionaryObject({
            n("/Font"): generic.DictionaryObject({n("/F1"): font})}),
        n("/Contents"): content,
    }))
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def leader_sign(data: bytes, key: Path, cert: Path, chain: tuple[Path, ...] = (),
                **meta: object) -> bytes:
    """The leader's personal signature, made by pyHanko with the leader's own key, in a
    visible field ``FIELD``. ``meta``: PdfSignatureMetadata options (certify, DocMDP) and
    ``field_mdp_spec`` / ``doc_mdp_update_value`` for the field's lock."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    spec = {k: meta.pop(k) for k in ("field_mdp_spec", "doc_mdp_update_value") if k in meta}
    signer = signers.SimpleSigner.load(str(key), str(cert),
                                       ca_chain_files=tuple(str(c) for c in chain))
    assert signer is not None
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data)),
        signers.PdfSignatureMetadata(field_name=FIELD, **meta),  # type: ignore[arg-type]
        signer=signer,
        new_field_spec=fields.SigFieldSpec(FIELD, on_page=0, box=SIG_BOX, **spec),  # type: ignore[arg-type]
    )
    return out.getvalue()


def leader_sign_as(data: bytes, key: Path, cert: Path, name: str,
                   box: tuple[int, int, int, int]) -> bytes:
    """Another signature, in a new visible field ``name``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = signers.SimpleSigner.load(str(key), str(cert))
    assert signer is not None
    return signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data)),
        signers.PdfSignatureMetadata(field_name=name), signer=signer,
        new_field_spec=fields.SigFieldSpec(name, on_page=0, box=box)).getvalue()


def change_page_text(data: bytes) -> bytes:
    """An incremental update that rewrites the page's content (not form filling): the
    amount in the decision becomes another one."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(data))
    page_ref = w.find_page_for_modification(0)[0]
    page = page_ref.get_object()
    page[generic.NameObject("/Contents")] = w.add_object(generic.StreamObject(
        stream_data=b"BT /F1 14 Tf 72 760 Td (Quyet dinh 11/QD-UBND: chi 900 trieu dong) Tj ET"))
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def document_timestamp(data: bytes, d: Path) -> bytes:
    """A PAdES document timestamp (an LTA update) after the last signature, from a
    software TSA: a change every signature allows."""
    from asn1crypto import keys as a_keys
    from asn1crypto import x509 as a_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    key = rsa.generate_private_key(65537, 2048)
    cert = (x509.CertificateBuilder().subject_name(_name("Test TSA"))
            .issuer_name(_name("Test TSA")).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .sign(key, hashes.SHA256()))
    stamper = DummyTimeStamper(
        tsa_cert=a_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=a_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())))
    out = signers.PdfTimeStamper(stamper).timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(data)), "sha256")
    return bytes(out.getvalue())


def with_crl_in_dss(data: bytes, d: Path, label: str) -> bytes:
    """An LTA update adding to the document security store a current CRL of the CA
    ``label`` (revoking nothing): the revocation data a PAdES-B-LT signature carries."""
    from asn1crypto import crl as a_crl
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    ca = x509.load_pem_x509_certificate((d / f"{label}-ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((d / f"{label}-ca.key").read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
           .last_update(NOW - timedelta(hours=1)).next_update(NOW + timedelta(days=7))
           .add_extension(x509.CRLNumber(1), False)
           .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
               ca_key.public_key()), False)
           .sign(ca_key, hashes.SHA256()))
    out = io.BytesIO(data)
    DocumentSecurityStore.add_dss(
        out, None, crls=[a_crl.CertificateList.load(crl.public_bytes(serialization.Encoding.DER))])
    return out.getvalue()


# --- the node ---------------------------------------------------------------------------


@dataclass
class World:
    srv: Server
    dir: Path
    ca: Path  # the development CA, PEM
    nss: Path  # an NSS database trusting it (docs/limits.md trap 6)
    pdfs: dict[str, Path]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("leader")
    # A Government-like CA, configured as an anchor; its certificates name a CRL, which
    # this node may not fetch ([verify] fetch = "off", the default).
    gov_root, gov_key, gov_cert = _person_under_ca(
        d, "gov", "RootCA thử nghiệm G2", REVOKABLE_CN, crl_url="http://127.0.0.1:9/g2.crl")
    env = server_env(d, "kyso-leader")
    env["KYSO_VERIFY_TRUST_ANCHOR_FILES"] = json.dumps([str(gov_root)])
    srv = start_server(d, env, "--demo")
    try:
        yield _prepare(srv, d, gov_key, gov_cert)
    finally:
        stop_server(srv)


def _prepare(srv: Server, d: Path, gov_key: Path, gov_cert: Path) -> World:
    from PIL import Image, ImageDraw
    from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, MDPPerm

    ca = d / "ca.pem"
    r = srv.cli("admin", "ca", "export", "-o", str(ca))
    assert r.returncode == 0, r.stderr
    nss = d / "nss"
    nss.mkdir()
    assert run("certutil", "-N", "-d", f"sql:{nss}", "--empty-password").returncode == 0
    r = run("certutil", "-A", "-d", f"sql:{nss}", "-n", "kyso-dev-ca", "-t", "C,C,C",
            "-i", str(ca))
    assert r.returncode == 0, r.stderr
    img = Image.new("RGBA", (472, 472), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((8, 8, 464, 464), fill=(220, 0, 0, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    (d / "seal.png").write_bytes(buf.getvalue())
    r = srv.cli("admin", "seal", "set", DEMO, str(d / "seal.png"), "--width-mm", "40")
    assert r.returncode == 0, r.stderr

    base = text_pdf()
    pdfs: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        pdfs[name] = d / f"{name}.pdf"
        pdfs[name].write_bytes(data)

    # (1) a self-signed "leader"
    r = run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
            str(d / "self.key"), "-out", str(d / "self.pem"), "-days", "30", "-utf8",
            "-subj", f"/C=VN/CN={SELF_CN}")
    assert r.returncode == 0, r.stderr
    put("self_signed", leader_sign(base, d / "self.key", d / "self.pem"))
    # (2) a CA that is not an anchor here, its certificate in the signature
    foreign_root, foreign_key, foreign_cert = _person_under_ca(
        d, "foreign", "Foreign Root CA", FOREIGN_CN)
    put("foreign_ca", leader_sign(base, foreign_key, foreign_cert, (foreign_root,)))
    # (2b) an anchor's certificate whose revocation status cannot be known
    gov_signed = leader_sign(base, gov_key, gov_cert, (d / "gov-ca.pem",))
    put("revocation_unknown", gov_signed)
    # (2c) the same, with the CA's CRL embedded in the DSS (as PAdES-B-LT does): allowed
    put("revocation_embedded", with_crl_in_dss(gov_signed, d, "gov"))
    # the real leader: key and CSR by openssl, certificate by kyso's development CA
    leader_key, leader_pem = d / "leader.key", d / "leader.pem"
    r = run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
            str(leader_key), "-out", str(d / "leader.csr"), "-utf8",
            "-subj", f"/C=VN/O=UBND thành phố Cần Thơ/CN={LEADER_CN}")
    assert r.returncode == 0, r.stderr
    r = srv.cli("admin", "cert", "issue-person", str(d / "leader.csr"), "-o", str(leader_pem),
                "--days", "30")
    assert r.returncode == 0, r.stdout + r.stderr
    leader = leader_sign(base, leader_key, leader_pem, (ca,))
    # (3) signed by the leader, then the page content rewritten
    put("modified_after", change_page_text(leader))
    # (4) certified by the leader with DocMDP P=1: no change at all
    put("certified_no_changes", leader_sign(base, leader_key, leader_pem, (ca,), certify=True,
                                            docmdp_permissions=MDPPerm.NO_CHANGES))
    # (4b) approval signature that locks every field ("lock the document after signing")
    put("locked_fields", leader_sign(base, leader_key, leader_pem, (ca,),
                                     field_mdp_spec=FieldMDPSpec(FieldMDPAction.ALL)))
    # (5) signed by the leader, untouched
    put("good", leader)
    # (6) the leader's signature, then a self-signed one in another visible field (the
    # seal would go over the last signed field: the impostor's)
    put("impostor_after", leader_sign_as(leader, d / "self.key", d / "self.pem",
                                         IMPOSTOR_FIELD, (60, 300, 200, 360)))
    # (7) the leader's signature, then a document timestamp: allowed
    put("timestamped", document_timestamp(leader, d))
    # (8) only another agency's organization signature (a key kyso holds, under the
    # development CA like the leader's): not a personal signature
    for args in (("admin", "agency", "add", OTHER, "--name", "Ủy ban nhân dân tỉnh Quảng Ninh"),
                 ("admin", "key", "generate", OTHER), ("admin", "cert", "issue", OTHER)):
        r = srv.cli(*args)
        assert r.returncode == 0, r.stdout + r.stderr
    (d / "base.pdf").write_bytes(base)
    r = srv.cli("sign", "pdf", str(d / "base.pdf"), "-o", str(d / "other_agency.pdf"),
                "--agency", OTHER, "--profile", "attachment", "--number", "1/TB-UBND")
    assert r.returncode == 0, r.stderr
    pdfs["other_agency"] = d / "other_agency.pdf"
    return World(srv, d, ca, nss, pdfs)


# --- the two PDF paths ------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool
    status: str  # gRPC status name of a refusal ("" when sealed)
    message: str
    output: Path


def seal_cli(w: World, name: str, tag: str) -> Outcome:
    """The thin client: hashes locally, only digests go to SignDigests."""
    dst = w.dir / f"{name}-{tag}-sealed.pdf"
    r = w.srv.cli("sign", "pdf", str(w.pdfs[name]), "-o", str(dst), "--agency", DEMO,
                  "--profile", "seal", "--number", "11/QĐ-UBND", "--type", "QĐ")
    text = flat(r.stderr)
    m = re.search(r"error \((\w+)\): (.*)", text)
    if r.returncode == 0:
        return Outcome(True, "", text, dst)
    return Outcome(False, m.group(1) if m else "?", m.group(2) if m else text, dst)


def seal_rpc(w: World, name: str, tag: str) -> Outcome:
    """Server-side PdfService/SignPdf: the PDF streams to the server."""
    from kyso.signer.v1 import pdf_pb2, pdf_pb2_grpc

    data = w.pdfs[name].read_bytes()
    dst = w.dir / f"{name}-{tag}-sealed.pdf"

    def requests() -> Iterator[pdf_pb2.SignPdfRequest]:
        yield pdf_pb2.SignPdfRequest(options=pdf_pb2.SignPdfOptions(
            agency_code=DEMO, profile=pdf_pb2.PDF_PROFILE_SEAL,
            document_number="11/QĐ-UBND", document_type="QĐ"))
        for i in range(0, len(data), 64 * 1024):
            yield pdf_pb2.SignPdfRequest(chunk=data[i : i + 64 * 1024])

    with grpc.insecure_channel(w.srv.endpoint) as ch:
        stub = pdf_pb2_grpc.PdfServiceStub(ch)  # type: ignore[no-untyped-call]
        try:
            resp = list(stub.SignPdf(requests(), timeout=120,
                                     metadata=(("authorization", f"Bearer {w.srv.token}"),)))
        except grpc.RpcError as exc:
            return Outcome(False, exc.code().name, exc.details() or "", dst)  # type: ignore[attr-defined]
    dst.write_bytes(b"".join(r.chunk for r in resp[1:]))
    return Outcome(True, "", "", dst)


PATHS = {"cli": seal_cli, "rpc": seal_rpc}


def refused(w: World, name: str, path: str, field: str = FIELD) -> str:
    out = PATHS[path](w, name, path)
    assert not out.ok, f"{path}: the seal was applied to {name}.pdf ({out.message})"
    assert out.status == "FAILED_PRECONDITION", (out.status, out.message)
    msg = out.message
    # the refusal names the signature (field and signer) and speaks both languages
    assert field in msg, msg
    assert "Tiếng Việt:" in msg, msg
    assert not out.output.exists(), "a refused seal must write nothing"
    return msg


# --- the attacks --------------------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_self_signed_leader_is_refused(world: World, path: str) -> None:
    msg = refused(world, "self_signed", path)
    assert SELF_CN in msg, msg
    # pyhanko-certvalidator refuses a self-signed leaf before looking for anchors
    assert "not a trusted" in msg and "self-signed" in msg, msg
    assert "tin cậy" in msg and "tự ký" in msg, msg


@pytest.mark.parametrize("path", PATHS)
def test_leader_from_an_untrusted_ca_is_refused(world: World, path: str) -> None:
    msg = refused(world, "foreign_ca", path)
    assert FOREIGN_CN in msg and "Foreign Root CA" in msg, msg
    assert "NO_CERTIFICATE_CHAIN_FOUND" in msg and "trust_anchor_files" in msg, msg
    assert "tin cậy" in msg, msg


@pytest.mark.parametrize("path", PATHS)
def test_unknown_revocation_status_is_refused_with_that_reason(world: World, path: str) -> None:
    msg = refused(world, "revocation_unknown", path)
    assert REVOKABLE_CN in msg, msg
    assert "TRY_LATER" in msg and "revocation" in msg and "[verify] fetch" in msg, msg
    assert "thu hồi" in msg, msg


@pytest.mark.parametrize("path", PATHS)
def test_revocation_data_embedded_in_the_pdf_is_used(world: World, path: str) -> None:
    """The thin client sends the DSS's CRL with the signature; nothing is fetched."""
    out = PATHS[path](world, "revocation_embedded", path)
    assert out.ok, out.message


@pytest.mark.parametrize("path", PATHS)
def test_page_content_changed_after_the_leader_signed_is_refused(world: World,
                                                                 path: str) -> None:
    msg = refused(world, "modified_after", path)
    assert LEADER_CN in msg, msg
    assert "changed after" in msg, msg
    assert "thay đổi sau khi" in msg, msg


@pytest.mark.parametrize("path", PATHS)
def test_certified_with_no_changes_allowed_is_refused(world: World, path: str) -> None:
    msg = refused(world, "certified_no_changes", path)
    assert LEADER_CN in msg, msg
    assert "P=1" in msg and "no change" in msg, msg
    assert "không cho phép" in msg, msg


@pytest.mark.parametrize("path", PATHS)
def test_seal_that_would_break_the_leaders_field_lock_is_refused(world: World,
                                                                 path: str) -> None:
    msg = refused(world, "locked_fields", path)
    assert LEADER_CN in msg, msg
    assert "would break" in msg and "lock" in msg, msg
    assert "khóa" in msg, msg


@pytest.mark.parametrize("path", PATHS)
def test_trusted_untouched_leader_signature_is_sealed(world: World, path: str) -> None:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko_certvalidator import ValidationContext

    out = PATHS[path](world, "good", path)
    assert out.ok, out.message
    # poppler (NSS trusting the development CA): both signatures valid and trusted
    r = run("pdfsig", "-nssdir", f"sql:{world.nss}", str(out.output))
    text = r.stdout + r.stderr
    assert text.count("Signature is Valid.") == 2, text
    assert text.count("Certificate is Trusted.") == 2, text
    assert LEADER_CN in text, text
    assert "Total document signed" in text.split("Signature #2:")[1], text
    # pyHanko's validator: the leader's signature intact, trusted, the seal an allowed
    # change after it; the seal covers the whole file
    with out.output.open("rb") as f:
        reader = PdfFileReader(f)
        sigs = list(reader.embedded_signatures)
        assert sigs[0].field_name == FIELD
        statuses = []
        for s in sigs:
            vc = ValidationContext(trust_roots=[load_cert_from_pemder(str(world.ca))],
                                   allow_fetching=False, revocation_mode="soft-fail")
            try:
                statuses.append(validate_pdf_signature(s, vc, skip_diff=False))
            except SignatureValidationError as exc:  # pragma: no cover - reported below
                pytest.fail(f"pyHanko cannot validate {s.field_name}: {exc}")
    personal, seal = statuses
    assert personal.intact and personal.valid and personal.trusted, personal.pretty_print_details()
    assert personal.docmdp_ok, personal.pretty_print_details()
    assert personal.modification_level is not None
    assert personal.modification_level <= ModificationLevel.FORM_FILLING
    assert seal.intact and seal.valid and seal.trusted, seal.pretty_print_details()
    assert seal.coverage.name == "ENTIRE_FILE"


@pytest.mark.parametrize("path", PATHS)
def test_untrusted_signature_after_the_leaders_is_refused(world: World, path: str) -> None:
    msg = refused(world, "impostor_after", path, field=IMPOSTOR_FIELD)
    assert SELF_CN in msg and "self-signed" in msg, msg


@pytest.mark.parametrize("path", PATHS)
def test_another_agencys_seal_is_not_a_personal_signature(world: World, path: str) -> None:
    out = PATHS[path](world, "other_agency", path)
    assert not out.ok, f"{path}: sealed over another agency's organization signature"
    assert out.status == "FAILED_PRECONDITION", (out.status, out.message)
    assert "no personal signature" in out.message and "Tiếng Việt:" in out.message, out.message
    assert "chưa có chữ ký số cá nhân" in out.message, out.message


@pytest.mark.parametrize("path", PATHS)
def test_document_timestamp_after_the_leader_is_allowed(world: World, path: str) -> None:
    out = PATHS[path](world, "timestamped", path)
    assert out.ok, out.message
    r = run("pdfsig", "-nssdir", f"sql:{world.nss}", str(out.output))
    text = r.stdout + r.stderr
    # poppler does not verify document timestamps; the leader's and the seal are valid
    assert text.count("Signature is Valid.") == 2, text
    assert "Total document signed" in text.split("Signature #3:")[1], text


# --- the development CA issuing a person's certificate -----------------------------------


def test_person_certificate_is_a_leaf_for_signing_with_the_csr_subject(world: World) -> None:
    leader = x509.load_pem_x509_certificate((world.dir / "leader.pem").read_bytes())
    csr = x509.load_pem_x509_csr((world.dir / "leader.csr").read_bytes())
    ca = x509.load_pem_x509_certificate(world.ca.read_bytes())
    assert leader.subject == csr.subject
    assert leader.issuer == ca.subject
    assert leader.public_key() == csr.public_key()
    bc = leader.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and not bc.value.ca
    ku = leader.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
    assert not ku.value.key_cert_sign and not ku.value.crl_sign
    assert leader.not_valid_after_utc - leader.not_valid_before_utc <= timedelta(days=31)
    # someone else's verifier agrees it chains to the development CA
    r = run("openssl", "verify", "-CAfile", str(world.ca), str(world.dir / "leader.pem"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_csr_whose_signature_does_not_verify_is_refused(world: World) -> None:
    der = bytearray(x509.load_pem_x509_csr((world.dir / "leader.csr").read_bytes())
                    .public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature value
    bad = world.dir / "tampered.csr"
    bad.write_bytes(bytes(der))
    r = world.srv.cli("admin", "cert", "issue-person", str(bad), "-o",
                      str(world.dir / "tampered.pem"))
    assert r.returncode != 0
    text = flat(r.stderr)
    assert "INVALID_ARGUMENT" in text and "signature" in text, text
    assert not (world.dir / "tampered.pem").exists()


def test_csr_asking_for_a_ca_is_refused(world: World) -> None:
    r = run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
            str(world.dir / "ca-req.key"), "-out", str(world.dir / "ca-req.csr"),
            "-subj", "/CN=Sub CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    assert r.returncode == 0, r.stderr
    r = world.srv.cli("admin", "cert", "issue-person", str(world.dir / "ca-req.csr"), "-o",
                      str(world.dir / "ca-req.pem"))
    assert r.returncode != 0
    text = flat(r.stderr)
    assert "INVALID_ARGUMENT" in text and "CA" in text, text
    assert not (world.dir / "ca-req.pem").exists()


def test_issuing_needs_a_global_key_admin_and_is_audited(world: World) -> None:
    srv = world.srv
    for name, grant in (("vanthu-h13", f"signer@{DEMO}"), ("keyadmin-h13", f"key-admin@{DEMO}")):
        r = srv.cli("admin", "client", "add", name, "--grant", grant)
        assert r.returncode == 0, r.stderr
        token = r.stdout.split("store it now): ")[1].strip()
        env = dict(srv.env, KYSO_TOKEN=token)
        out = world.dir / f"{name}.pem"
        r = subprocess.run([KYSO, "--server", srv.endpoint, "admin", "cert", "issue-person",
                            str(world.dir / "leader.csr"), "-o", str(out)], env=env,
                           capture_output=True, text=True, timeout=120, cwd=world.dir)
        assert r.returncode != 0 and "PERMISSION_DENIED" in flat(r.stderr), r.stderr
        assert not out.exists()
    r = srv.cli("admin", "audit", "list", "--action", "key.issue_person_certificate", "--json")
    assert r.returncode == 0, r.stderr
    records = json.loads(r.stdout)["records"]
    serial = format(x509.load_pem_x509_certificate(
        (world.dir / "leader.pem").read_bytes()).serial_number, "x")
    assert any(rec["actor"] == "demo-admin" and rec["details"].get("serial") == serial
               and LEADER_CN in rec["details"].get("subject", "") for rec in records), records
    assert os.path.getsize(world.dir / "leader.pem") > 0
