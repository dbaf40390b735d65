"""A software PKI for the verifier's unit tests: a CA (the trust anchor), a TSA under it,
an agency's seal certificate under it, and signers that are not trusted (self-signed,
expired, not yet valid). Keys are ``SoftKey``s; nothing here needs a token or a server.

``tests/tsa/pki.py`` supplies the CA and the TSA; ``signer.formats`` makes the signatures.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from asn1crypto import x509 as a_x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from signer.digest import Digest, HashAlg
from signer.formats.cms import CadesSigner
from signer.formats.tsp import make_request, parse_request
from signer.formats.x509 import issue_certificate
from signer.formats.xmldsig import XmlSigner, sign_xml
from signer.keys.types import KeyAlgorithm, Scheme
from signer.verify.engine import Verifier
from signer.verify.trust import Anchor, TrustStore
from tests.signer.formats.soft_key import SoftKey
from tests.tsa.pki import POLICY, Pki

NOW = datetime.now(UTC).replace(microsecond=0)
AGENCY_CODE = "000.00.00.H13"
AGENCY_NAME = "Ủy ban nhân dân thành phố Cần Thơ"
SEAL_CN = "Ủy ban nhân dân thành phố Cần Thơ"
SEAL_O = "Ủy ban nhân dân thành phố Cần Thơ"
SELF_CN = "Nguyễn Văn Tự Ký"
CONTENT = "Kính gửi: Văn phòng Chính phủ. Công văn số 125/UBND-VP.".encode() * 20


@dataclasses.dataclass(frozen=True)
class Signer:
    key: SoftKey
    der: bytes
    chain: tuple[bytes, ...]

    @property
    def cert(self) -> a_x509.Certificate:
        return a_x509.Certificate.load(self.der)

    def cades(self, hash_alg: HashAlg = HashAlg.SHA256) -> CadesSigner:
        return CadesSigner(certificate_der=self.der, chain_der=self.chain, key=self.key,
                           public_key_der=self.key.public_key_der, scheme=Scheme.PKCS1V15,
                           hash_alg=hash_alg)

    def sign_cms(self, content: bytes = CONTENT, *, at: datetime | None = None,
                 timestamper: Callable[[Digest], bytes | None] | None = None) -> bytes:
        d = Digest(HashAlg.SHA256, hashlib.sha256(content).digest())
        c = self.cert  # inside the certificate's validity, as CadesSigner insists
        when = at or max(c.not_valid_before + timedelta(hours=1),
                         min(NOW, c.not_valid_after - timedelta(hours=1)))
        return self.cades().sign(d, when, timestamper)

    def raw_signer(self, hash_name: str = "sha256") -> Callable[[bytes], bytes]:
        alg = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256(),
               "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[hash_name]
        private = self.key.private_key

        def sign(digest: bytes) -> bytes:
            return bytes(private.sign(digest, padding.PKCS1v15(),  # type: ignore[call-arg]
                                      utils.Prehashed(alg)))

        return sign

    def sign_xml(self, data: bytes, **kw: Any) -> bytes:
        return sign_xml(data, XmlSigner(self.der, "pkcs1v15", self.raw_signer(),
                                        self.chain), **kw)

    def sign_pdf_pyhanko(self, data: bytes) -> bytes:
        """A PAdES signature by pyHanko's own signer: quicker than ``sign_pdf`` (no font
        subsetting), for the cases where who signed matters, not how."""
        from asn1crypto import keys
        from cryptography.hazmat.primitives import serialization
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import signers
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        key = keys.PrivateKeyInfo.load(self.key.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        signer = signers.SimpleSigner(
            signing_cert=self.cert, signing_key=key,
            cert_registry=SimpleCertificateStore.from_certs(
                [a_x509.Certificate.load(c) for c in self.chain]))
        out = signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(data)),
                               signers.PdfSignatureMetadata(field_name="ChuKy"), signer=signer)
        return bytes(out.getvalue())

    def sign_pdf(self, data: bytes) -> bytes:
        """kyso's own PAdES signing (``sign_pdf``, the attachment profile)."""
        from signer.formats.pdf.pades import PdfOptions, SigningIdentity, sign_pdf

        sign = self.raw_signer()

        def sign_raw(digest: bytes, hash_alg: str) -> bytes:
            assert hash_alg == "sha256"
            return sign(digest)

        identity = SigningIdentity(self.der, list(self.chain), "pkcs1v15", SEAL_O)
        return sign_pdf(data, PdfOptions(agency=AGENCY_CODE, profile="attachment",
                                                number="125/UBND-VP"),
                        identity, sign_raw).data


@dataclasses.dataclass(frozen=True)
class World:
    tsa: Pki  # the CA and the TSA
    seal: Signer  # the agency's certificate, issued by the CA
    self_signed: Signer
    expired: Signer
    not_yet_valid: Signer

    def anchor(self) -> Anchor:
        return Anchor(a_x509.Certificate.load(self.tsa.ca_der), True, "the test CA")

    def verifier(self, engine: Any = None, *, anchors: list[Anchor] | None = None) -> Verifier:
        return Verifier(TrustStore(self.anchor_list() if anchors is None else anchors), engine)

    def anchor_list(self) -> list[Anchor]:
        return [self.anchor()]

    def token(self, digest: Digest, *, gen_time: datetime | None = None) -> bytes:
        """A TimeStampToken (ContentInfo DER) over ``digest`` from the test TSA."""
        req = parse_request(make_request(digest.value, digest.alg.value)[0], POLICY)
        return self.tsa.builder().build_token(
            req, serial=secrets.randbits(64) | 1, gen_time=gen_time or NOW)

    def issue(self, key: SoftKey, subject: dict[str, str], **overrides: Any) -> bytes:
        args: dict[str, Any] = {
            "subject": subject, "subject_public_key_der": key.public_key_der,
            "issuer": self.tsa.ca_der, "issuer_key": self.tsa.ca_key, "scheme": Scheme.PKCS1V15,
            "hash_alg": HashAlg.SHA256, "not_before": NOW - timedelta(days=1),
            "not_after": NOW + timedelta(days=365), "profile": "seal",
        }
        args.update(overrides)
        return issue_certificate(**args)


@functools.cache
def world() -> World:
    ca_key = SoftKey.generate(KeyAlgorithm.RSA2048)
    ca_der = issue_certificate(
        subject={"CN": "kyso CA kiểm thử", "O": "kyso", "C": "VN"},
        subject_public_key_der=ca_key.public_key_der, issuer_key=ca_key,
        scheme=Scheme.PKCS1V15, hash_alg=HashAlg.SHA256,
        not_before=NOW - timedelta(days=400), not_after=NOW + timedelta(days=3650),
        profile="ca")
    no_tsa = Pki(ca_key, SoftKey.generate(KeyAlgorithm.RSA2048), ca_der, b"", Scheme.PKCS1V15)
    tsa = dataclasses.replace(no_tsa, tsa_der=no_tsa.issue())
    partial = World(tsa, *(Signer(tsa.tsa_key, b"", ()),) * 4)
    seal_key = SoftKey.generate(KeyAlgorithm.RSA2048)
    seal = Signer(seal_key, partial.issue(seal_key, {"CN": SEAL_CN, "O": SEAL_O, "C": "VN"}),
                  (tsa.ca_der,))
    self_key = SoftKey.generate(KeyAlgorithm.RSA2048)
    self_der = issue_certificate(
        subject={"CN": SELF_CN, "O": "Tự phát", "C": "VN"},
        subject_public_key_der=self_key.public_key_der, issuer_key=self_key,
        scheme=Scheme.PKCS1V15, hash_alg=HashAlg.SHA256,
        not_before=NOW - timedelta(days=1), not_after=NOW + timedelta(days=30), profile="seal")
    # the same seal key, certified for a past and for a future period
    expired = Signer(seal_key, partial.issue(
        seal_key, {"CN": "Sở Hết Hạn", "C": "VN"},
        not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1)), (tsa.ca_der,))
    future = Signer(seal_key, partial.issue(
        seal_key, {"CN": "Sở Chưa Hiệu Lực", "C": "VN"},
        not_before=NOW + timedelta(days=1), not_after=NOW + timedelta(days=30)), (tsa.ca_der,))
    return dataclasses.replace(partial, seal=seal, self_signed=Signer(self_key, self_der, ()),
                               expired=expired, not_yet_valid=future)


def registry_engine(directory: Path, w: World) -> Any:
    """A migrated SQLite registry in ``directory`` holding the agency, its seal key and the
    seal certificate: what the agency lookup reads."""
    from registry.agencies.lifecycle import AgencyRegistry
    from registry.db.store import KeyPurpose, RegistryStore
    from signer.keys.types import KeyInfo

    store = RegistryStore(f"sqlite:///{directory / 'kyso.db'}")
    store.migrate()
    AgencyRegistry(store.engine).create(AGENCY_CODE, AGENCY_NAME, require_parent=False)
    key = w.seal.key
    store.add_key(KeyInfo(key.key_id, "seal", KeyAlgorithm.RSA2048, key.public_key_der),
                  scheme=Scheme.PKCS1V15, purpose=KeyPurpose.SEAL, agency_code=AGENCY_CODE)
    store.attach_certificate(key.key_id, w.seal.der, w.seal.chain)
    return store


def sha1_cms(s: Signer, content: bytes = CONTENT) -> bytes:
    """A detached CMS signature made with SHA-1 (digest and signature), as old tools made
    them; kyso's CadesSigner refuses SHA-1, so it is built here with asn1crypto."""
    from asn1crypto import cms

    attrs = cms.CMSAttributes([
        cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        cms.CMSAttribute({"type": "message_digest",
                          "values": [hashlib.sha1(content).digest()]}),
        cms.CMSAttribute({"type": "signing_time", "values": [cms.Time({"utc_time": NOW})]}),
    ])
    signature = s.key.private_key.sign(attrs.dump(), padding.PKCS1v15(),  # type: ignore[call-arg]
                                       hashes.SHA1())
    cert = s.cert
    si = cms.SignerInfo({
        "version": "v1",
        "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
            "issuer": cert.issuer, "serial_number": cert.serial_number}}),
        "digest_algorithm": {"algorithm": "sha1"},
        "signed_attrs": attrs,
        "signature_algorithm": {"algorithm": "sha1_rsa"},
        "signature": signature,
    })
    sd = cms.SignedData({
        "version": "v1",
        "digest_algorithms": [{"algorithm": "sha1"}],
        "encap_content_info": {"content_type": "data"},
        "certificates": [cert, *(a_x509.Certificate.load(c) for c in s.chain)],
        "signer_infos": [si],
    })
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": sd}).dump())
