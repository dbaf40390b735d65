"""The signing core on a real SoftHSM token: registry + dev CA + key store + CMS.

Signatures are checked with someone else's parser: ``cryptography`` for raw
signatures and ``openssl cms -verify`` for CMS.
"""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.serialization import Encoding

from registry.admin import RegistryAdmin
from registry.agencies.codes import parse_code
from registry.db.store import KeyState, RegistryStore
from registry.devca import DevCa
from signer.core import OutputFormat, SignerCore
from signer.digest import Digest, HashAlg
from signer.errors import InvalidRequest, NotFound, NotUsable
from signer.keys.store import Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, Scheme
from tests.helpers import fresh_database_url


@pytest.fixture(scope="module")
def world(keystore: Pkcs11KeyStore, tmp_path_factory: pytest.TempPathFactory):
    registry = RegistryStore(fresh_database_url(tmp_path_factory.mktemp("db")))
    registry.migrate()
    devca = DevCa(keystore, registry, common_name="test CA", validity_days=30)
    devca.ensure()
    admin = RegistryAdmin(keystore, registry, devca)
    core = SignerCore(keystore, registry, max_batch=8, cache_ttl_s=0)
    yield admin, core
    registry.close()


def _agency_with_key(admin: RegistryAdmin, code: str, alg: KeyAlgorithm,
                     scheme: Scheme | None = None) -> None:
    parent = parse_code(code).parent
    if parent is not None and parent not in {a.code for a in admin.registry.list_agencies()}:
        admin.create_agency(parent, f"Cơ quan {parent}")  # a child needs its parent first
    admin.create_agency(code, f"Cơ quan {code}")
    admin.generate_key(code, alg, scheme)
    admin.issue_dev_certificate(code)


def _verify_raw(cert_der: bytes, sig: bytes, digest: Digest, scheme: Scheme) -> None:
    pub = x509.load_der_x509_certificate(cert_der).public_key()
    h = {HashAlg.SHA256: hashes.SHA256(), HashAlg.SHA384: hashes.SHA384(),
         HashAlg.SHA512: hashes.SHA512()}[digest.alg]
    pre = utils.Prehashed(h)
    if scheme is Scheme.ECDSA:
        pub.verify(sig, digest.value, ec.ECDSA(pre))  # type: ignore[call-arg,union-attr]
    elif scheme is Scheme.PSS:
        pub.verify(sig, digest.value,  # type: ignore[call-arg,union-attr]
                   padding.PSS(padding.MGF1(h), digest.alg.digest_size), pre)
    else:
        pub.verify(sig, digest.value, padding.PKCS1v15(), pre)  # type: ignore[call-arg,union-attr]


@pytest.mark.parametrize(
    ("code", "alg", "scheme"),
    [
        ("000.00.01.H26", KeyAlgorithm.RSA2048, None),
        ("000.00.02.H26", KeyAlgorithm.RSA2048, Scheme.PSS),
        ("000.00.03.H26", KeyAlgorithm.EC_P256, None),
        ("000.00.04.H26", KeyAlgorithm.EC_P384, None),
    ],
)
def test_raw_batch_verifies(world, code: str, alg: KeyAlgorithm, scheme: Scheme | None) -> None:
    admin, core = world
    _agency_with_key(admin, code, alg, scheme)
    digests = [Digest.of(h, f"doc {i}".encode()) for i, h in
               enumerate([HashAlg.SHA256, HashAlg.SHA384, HashAlg.SHA512, HashAlg.SHA256])]
    result = core.sign_digests(code, digests, OutputFormat.RAW)
    assert result.scheme is (scheme or alg.default_scheme)
    assert result.key.certificate is not None
    for d, sig in zip(digests, result.signatures, strict=True):
        _verify_raw(result.key.certificate.der, sig, d, result.scheme)


def test_cms_verifies_with_openssl(world, tmp_path: Path) -> None:
    admin, core = world
    code = "H26.77"
    _agency_with_key(admin, code, KeyAlgorithm.EC_P256)
    content = tmp_path / "doc.bin"
    content.write_bytes(b"van ban dien tu \xe2\x80\x94 " * 1000)
    d = Digest(HashAlg.SHA256, hashlib.sha256(content.read_bytes()).digest())
    result = core.sign_digests(code, [d], OutputFormat.CMS)
    p7s = tmp_path / "doc.p7s"
    p7s.write_bytes(result.signatures[0])
    ca = tmp_path / "ca.pem"
    assert result.key.certificate is not None
    ca.write_bytes(x509.load_der_x509_certificate(result.key.certificate.chain[0])
                   .public_bytes(Encoding.PEM))
    cmd = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(p7s),
           "-content", str(content), "-CAfile", str(ca), "-purpose", "any", "-out", "/dev/null"]
    ok = subprocess.run(cmd, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    content.write_bytes(content.read_bytes() + b"!")
    bad = subprocess.run(cmd, capture_output=True, text=True)
    assert bad.returncode != 0


def test_input_errors_say_what_to_fix(world) -> None:
    admin, core = world
    code = "000.00.05.H26"
    _agency_with_key(admin, code, KeyAlgorithm.EC_P256)
    d = Digest.of(HashAlg.SHA256, b"x")
    with pytest.raises(InvalidRequest, match="no digests"):
        core.sign_digests(code, [], OutputFormat.RAW)
    with pytest.raises(InvalidRequest, match="limit of 8: split it"):
        core.sign_digests(code, [d] * 9, OutputFormat.RAW)
    with pytest.raises(InvalidRequest, match="does not fit"):
        core.sign_digests(code, [d], OutputFormat.RAW, Scheme.PSS)
    with pytest.raises(InvalidRequest, match="malformed"):
        core.sign_digests("000.00.00.H1", [d], OutputFormat.RAW)
    with pytest.raises(NotFound, match="not registered"):
        core.sign_digests("000.00.00.H99", [d], OutputFormat.RAW)
    with pytest.raises(InvalidRequest, match="32 bytes, got 31"):
        Digest(HashAlg.SHA256, b"\0" * 31)


def test_agency_without_usable_key(world) -> None:
    admin, core = world
    d = Digest.of(HashAlg.SHA256, b"x")
    admin.create_agency("000.00.06.H26", "Không khóa")
    with pytest.raises(NotUsable, match=r"kyso admin key generate 000\.00\.06\.H26"):
        core.sign_digests("000.00.06.H26", [d], OutputFormat.RAW)
    admin.generate_key("000.00.06.H26", KeyAlgorithm.EC_P256)
    with pytest.raises(NotUsable, match=r"kyso admin cert issue 000\.00\.06\.H26"):
        core.sign_digests("000.00.06.H26", [d], OutputFormat.RAW)


def test_expired_certificate_is_refused_before_signing(world, keystore) -> None:
    admin, _ = world
    code = "000.00.07.H26"
    _agency_with_key(admin, code, KeyAlgorithm.EC_P256)
    later = datetime.now(UTC) + timedelta(days=400)
    core = SignerCore(keystore, admin.registry, max_batch=8, clock=lambda: later)
    with pytest.raises(NotUsable, match="not valid now"):
        core.sign_digests(code, [Digest.of(HashAlg.SHA256, b"x")], OutputFormat.RAW)


def test_new_certificate_retires_the_previous_key(world) -> None:
    admin, core = world
    code = "000.00.08.H26"
    _agency_with_key(admin, code, KeyAlgorithm.EC_P256)
    first = core.signing_key(code)
    admin.generate_key(code, KeyAlgorithm.RSA2048)
    admin.issue_dev_certificate(code)
    second = core.signing_key(code)
    assert second.key_id != first.key_id and second.algorithm is KeyAlgorithm.RSA2048
    states = {k.key_id: k.state for k in admin.registry.get_agency(code).keys}
    assert states == {first.key_id: KeyState.RETIRED, second.key_id: KeyState.ACTIVE}



def test_parallel_batch_keeps_each_signature_with_its_digest(world, keystore) -> None:
    admin, _ = world
    code = "000.00.09.H26"
    _agency_with_key(admin, code, KeyAlgorithm.EC_P256)
    core = SignerCore(keystore, admin.registry, max_batch=64, hsm_parallelism=4)
    digests = [Digest.of(HashAlg.SHA256, f"trang {i}".encode()) for i in range(37)]
    result = core.sign_digests(code, digests, OutputFormat.RAW)
    assert result.key.certificate is not None
    for d, sig in zip(digests, result.signatures, strict=True):
        _verify_raw(result.key.certificate.der, sig, d, result.scheme)
