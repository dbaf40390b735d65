"""Key and certificate lifecycle on a real SoftHSM token: policy, CSRs, import from an
external CA (a throwaway CA made by the openssl command line, not by kyso), activation,
rotation without a gap, retirement, compromise seen at once by other signer nodes, and
seal images. Results are checked with ``openssl``."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from registry.admin import RegistryAdmin
from registry.db.store import KeyPurpose, KeyState, RegistryStore
from registry.devca import DevCa
from registry.keys import KeyLifecycle, KeyPolicy, SignatureProfile, inspect_png
from signer.config import KeyPolicySettings
from signer.core import OutputFormat, SignerCore
from signer.digest import Digest, HashAlg
from signer.errors import InvalidRequest, NotUsable
from signer.formats.x509 import issue_certificate
from signer.keys.store import Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, KeyUse, Scheme

PROVINCE = "000.00.00.H49"
PROVINCE_NAME = "Ủy ban nhân dân tỉnh Quảng Ninh"


@pytest.fixture(scope="module")
def world(keystore: Pkcs11KeyStore, tmp_path_factory: pytest.TempPathFactory):
    from tests.helpers import fresh_database_url

    registry = RegistryStore(fresh_database_url(tmp_path_factory.mktemp("db")))
    registry.migrate()
    devca = DevCa(keystore, registry, common_name="kyso test CA", validity_days=30)
    devca.ensure()
    lifecycle = KeyLifecycle(
        keystore, registry, KeyPolicy(), devca=None, trust_anchors=[devca.certificate()]
    )
    admin = RegistryAdmin(keystore, registry, devca)
    admin.create_agency(PROVINCE, PROVINCE_NAME)
    yield lifecycle, admin, registry, devca
    registry.close()


def _run(*cmd: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, f"{cmd}: {proc.stderr}"
    return proc


class OpensslCa:
    """A CA made and operated by the openssl command line only."""

    def __init__(self, directory: Path, name: str = "Test Root CA", issuer: OpensslCa | None = None
                 ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.key = directory / "ca.key"
        self.pem = directory / "ca.pem"
        ca_ext = directory / "ca.ext"
        ca_ext.write_text("basicConstraints=critical,CA:TRUE\n"
                          "keyUsage=critical,keyCertSign,cRLSign\n"
                          "subjectKeyIdentifier=hash\n")
        subj = f"/CN={name}/O=Test PKI/C=VN"
        if issuer is None:
            _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                 "-out", self.pem, "-subj", subj, "-days", "30",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        else:
            csr = directory / "ca.csr"
            _run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                 "-out", csr, "-subj", subj)
            issuer.sign(csr, self.pem, ext=ca_ext)

    def sign(self, csr: Path, out: Path, *, ext: Path | None = None,
             usage: str = "critical,digitalSignature,nonRepudiation", ca: bool = False) -> Path:
        if ext is None:
            ext = out.with_suffix(".ext")
            ext.write_text(f"basicConstraints=critical,CA:{'TRUE' if ca else 'FALSE'}\n"
                           f"keyUsage={usage}\n")
        _run("openssl", "x509", "-req", "-in", csr, "-CA", self.pem, "-CAkey", self.key,
             "-CAcreateserial", "-out", out, "-days", "10", "-extfile", ext)
        return out


def _csr_file(lifecycle: KeyLifecycle, code: str, path: Path, **kw) -> Path:
    csr = lifecycle.make_csr(code, **kw)
    path.write_bytes(csr.pem)
    return path


def _sign_cms_and_verify(core: SignerCore, code: str, ca_pem: Path, tmp_path: Path) -> None:
    content = tmp_path / "doc.txt"
    content.write_bytes("Văn bản điện tử — Quyết định số 11/QĐ-UBND".encode() * 50)
    d = Digest(HashAlg.SHA256, hashlib.sha256(content.read_bytes()).digest())
    p7s = tmp_path / "doc.p7s"
    p7s.write_bytes(core.sign_digests(code, [d], OutputFormat.CMS).signatures[0])
    _run("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", p7s, "-content",
         content, "-CAfile", ca_pem, "-purpose", "any", "-out", "/dev/null")


# --- policy ----------------------------------------------------------------------------------


def test_policy_refuses_algorithms_and_schemes_outside_it(world) -> None:
    _, admin, registry, _ = world
    policy = KeyPolicy(frozenset({KeyAlgorithm.EC_P256, KeyAlgorithm.RSA3072}),
                       frozenset({Scheme.ECDSA, Scheme.PKCS1V15}))
    strict = RegistryAdmin(admin.keystore, registry, None, policy=policy)
    with pytest.raises(InvalidRequest,
                       match=r"rsa-2048 is not allowed.*use one of rsa-3072, ec-p256"):
        strict.generate_key(PROVINCE, KeyAlgorithm.RSA2048)
    with pytest.raises(InvalidRequest, match=r"scheme pss is not allowed.*use pkcs1v15"):
        strict.generate_key(PROVINCE, KeyAlgorithm.RSA3072, Scheme.PSS)
    settings = KeyPolicySettings(allowed_algorithms=("ec-p256",), allowed_schemes=("ecdsa",))
    assert KeyPolicy.from_settings(settings).allowed_algorithms == {KeyAlgorithm.EC_P256}
    with pytest.raises(ValidationError, match=r"unknown key algorithm 'rsa-1024'"):
        KeyPolicySettings(allowed_algorithms=("rsa-1024",))


# --- CSR -------------------------------------------------------------------------------------


def test_csr_is_signed_in_the_hsm_and_names_the_agency(world, tmp_path: Path) -> None:
    lifecycle, admin, _, _ = world
    code = "000.00.07.H49"
    admin.create_agency(code, "Sở Tài chính tỉnh Quảng Ninh")
    key = lifecycle.generate_key(code, KeyAlgorithm.EC_P256)
    csr = _csr_file(lifecycle, code, tmp_path / "a.csr",
                    subject_overrides={"L": "Hạ Long", "UID": "MST:5700100256"})
    _run("openssl", "req", "-verify", "-noout", "-in", csr)
    subject = _run("openssl", "req", "-noout", "-subject", "-nameopt", "utf8,sep_comma_plus",
                   "-in", csr).stdout
    assert "CN=Sở Tài chính tỉnh Quảng Ninh" in subject
    assert f"O={PROVINCE_NAME}" in subject  # the parent body
    assert "L=Hạ Long" in subject and "UID=MST:5700100256" in subject and "C=VN" in subject
    parsed = x509.load_pem_x509_csr(csr.read_bytes())
    assert parsed.is_signature_valid
    spki = parsed.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert spki == key.public_key_der
    # RSA keys too, and an override that removes an attribute.
    lifecycle.generate_key(code, KeyAlgorithm.RSA2048)
    rsa_csr = _csr_file(lifecycle, code, tmp_path / "b.csr", subject_overrides={"O": ""})
    _run("openssl", "req", "-verify", "-noout", "-in", rsa_csr)
    assert "O=" not in _run("openssl", "req", "-noout", "-subject", "-in", rsa_csr).stdout
    with pytest.raises(InvalidRequest, match=r"unsupported subject attribute 'XX'"):
        lifecycle.make_csr(code, subject_overrides={"XX": "y"})


# --- import from an external CA --------------------------------------------------------------


def test_external_ca_flow_import_activate_sign_verify(world, keystore, tmp_path: Path) -> None:
    lifecycle, admin, registry, _ = world
    code = "000.00.08.H49"
    admin.create_agency(code, "Sở Nội vụ tỉnh Quảng Ninh")
    root = OpensslCa(tmp_path / "root")
    inter = OpensslCa(tmp_path / "inter", "Test Issuing CA", issuer=root)
    key = lifecycle.generate_key(code, KeyAlgorithm.RSA2048)
    cert = inter.sign(_csr_file(lifecycle, code, tmp_path / "k.csr"), tmp_path / "k.pem")
    # Chain given out of order, as two files: kyso builds the path itself.
    rec = lifecycle.import_certificate(code, cert.read_bytes(),
                                       [root.pem.read_bytes(), inter.pem.read_bytes()])
    assert rec.state is KeyState.ACTIVE and rec.key_id == key.key_id
    assert rec.certificate is not None and len(rec.certificate.chain) == 2
    core = SignerCore(keystore, registry, max_batch=8, cache_ttl_s=0)
    _sign_cms_and_verify(core, code, root.pem, tmp_path)


def test_import_refusals_say_what_is_wrong(world, keystore, tmp_path: Path) -> None:
    lifecycle, admin, registry, devca = world
    code = "000.00.09.H49"
    admin.create_agency(code, "Sở Y tế tỉnh Quảng Ninh")
    ca = OpensslCa(tmp_path / "ca")
    key = lifecycle.generate_key(code, KeyAlgorithm.EC_P256)
    csr = _csr_file(lifecycle, code, tmp_path / "k.csr")
    chain = [ca.pem.read_bytes()]

    # A certificate for some other key.
    other_csr = tmp_path / "other.csr"
    _run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", tmp_path / "other.key", "-out", other_csr, "-subj", "/CN=x")
    wrong = ca.sign(other_csr, tmp_path / "wrong.pem")
    with pytest.raises(InvalidRequest, match=r"is not for any key of agency 000.00.09.H49"):
        lifecycle.import_certificate(code, wrong.read_bytes(), chain)

    as_ca = ca.sign(csr, tmp_path / "as_ca.pem", ca=True, usage="critical,keyCertSign")
    with pytest.raises(InvalidRequest, match=r"is a CA certificate"):
        lifecycle.import_certificate(code, as_ca.read_bytes(), chain)

    cert_sign_only = ca.sign(csr, tmp_path / "ku.pem", usage="critical,keyCertSign")
    with pytest.raises(InvalidRequest, match=r"does not allow signing.*neither digitalSignature"):
        lifecycle.import_certificate(code, cert_sign_only.read_bytes(), chain)

    good = ca.sign(csr, tmp_path / "good.pem")
    with pytest.raises(InvalidRequest, match=r"broken chain: the issuer of the certificate"):
        lifecycle.import_certificate(code, good.read_bytes(), [])
    impostor = OpensslCa(tmp_path / "impostor")  # same name, another key
    with pytest.raises(InvalidRequest, match=r"broken chain: .* is not signed by the key of"):
        lifecycle.import_certificate(code, good.read_bytes(), [impostor.pem.read_bytes()])
    with pytest.raises(InvalidRequest, match=r"neither PEM nor DER"):
        lifecycle.import_certificate(code, b"hello", chain)

    # Expired and not yet valid: openssl 3.0 cannot backdate, so an HSM-held CA
    # issues them through kyso's own issuer (the chain check still uses that CA).
    now = datetime.now(UTC)
    ca_info = keystore.generate_key(KeyAlgorithm.EC_P256, label="test-old-ca")
    ca_der = issue_certificate(
        subject={"CN": "Old CA", "C": "VN"}, subject_public_key_der=ca_info.public_key_der,
        issuer_key=keystore.key(ca_info.key_id), scheme=Scheme.ECDSA, hash_alg=HashAlg.SHA256,
        not_before=now - timedelta(days=60), not_after=now + timedelta(days=60), profile="ca",
    )

    def leaf(start: datetime, end: datetime) -> bytes:
        return issue_certificate(
            subject={"CN": "Sở Y tế", "C": "VN"}, subject_public_key_der=key.public_key_der,
            issuer=ca_der, issuer_key=keystore.key(ca_info.key_id), scheme=Scheme.ECDSA,
            hash_alg=HashAlg.SHA256, not_before=start, not_after=end, profile="seal",
        )

    with pytest.raises(InvalidRequest, match=r"expired on"):
        lifecycle.import_certificate(code, leaf(now - timedelta(days=30),
                                                now - timedelta(days=1)), [ca_der])
    with pytest.raises(InvalidRequest, match=r"is not yet valid: valid from"):
        lifecycle.import_certificate(code, leaf(now + timedelta(days=1),
                                                now + timedelta(days=30)), [ca_der])
    assert registry.get_key(key.key_id).state is KeyState.PENDING  # nothing was recorded

    # The development CA is a trust anchor: its certificates import with no chain.
    dev_ca_key = registry.active_key(KeyPurpose.DEV_CA)
    dev = issue_certificate(
        subject={"CN": "Sở Y tế", "C": "VN"}, subject_public_key_der=key.public_key_der,
        issuer=devca.certificate(), issuer_key=keystore.key(dev_ca_key.key_id, use=KeyUse.CA),
        scheme=Scheme.PKCS1V15, hash_alg=HashAlg.SHA256,
        not_before=now - timedelta(minutes=1), not_after=now + timedelta(days=5), profile="seal",
    )
    rec = lifecycle.import_certificate(code, dev, [], activate=False)
    assert rec.state is KeyState.PENDING and rec.certificate is not None
    assert rec.certificate.chain == (devca.certificate(),)
    assert lifecycle.activate(key.key_id).state is KeyState.ACTIVE


# --- rotate, retire, compromise --------------------------------------------------------------


def test_rotation_has_no_gap(world, keystore) -> None:
    _, admin, registry, devca = world
    lifecycle = KeyLifecycle(keystore, registry, devca=devca)
    code = "000.00.10.H49"
    admin.create_agency(code, "Sở Xây dựng tỉnh Quảng Ninh")
    first = lifecycle.rotate(code, KeyAlgorithm.EC_P256)
    assert first.activated and first.key.state is KeyState.ACTIVE
    cores = [SignerCore(keystore, registry, max_batch=4),  # cached 2 s, state re-checked
             SignerCore(keystore, registry, max_batch=4, cache_ttl_s=0)]
    failures: list[BaseException] = []
    used: set[bytes] = set()
    stop = threading.Event()

    def sign_forever(core: SignerCore) -> None:
        d = Digest.of(HashAlg.SHA256, b"x")
        while not stop.is_set():
            try:
                used.add(core.sign_digests(code, [d], OutputFormat.RAW).key.key_id)
            except BaseException as exc:  # every failure counts
                failures.append(exc)

    threads = [threading.Thread(target=sign_forever, args=(c,)) for c in cores]
    for t in threads:
        t.start()
    try:
        rotated = [lifecycle.rotate(code).key for _ in range(3)]
        deadline = time.monotonic() + 10  # let the signers reach the final key
        while rotated[-1].key_id not in used and time.monotonic() < deadline and not failures:
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert rotated[-1].key_id in used and len(used) >= 2
    states = {k.key_id: k.state for k in lifecycle.list_keys(code)}
    assert states[rotated[-1].key_id] is KeyState.ACTIVE
    assert sum(s is KeyState.ACTIVE for s in states.values()) == 1
    assert states[first.key.key_id] is KeyState.RETIRED
    # Without a development CA a rotation yields a CSR and leaves the active key alone.
    external = KeyLifecycle(keystore, registry)
    r = external.rotate(code)
    assert not r.activated and r.csr is not None and r.key.state is KeyState.PENDING
    assert registry.signing_key(code).key_id == rotated[-1].key_id


def test_retire(world, keystore) -> None:
    _, admin, registry, devca = world
    lifecycle = KeyLifecycle(keystore, registry, devca=devca)
    code = "000.00.11.H49"
    admin.create_agency(code, "Sở Giáo dục tỉnh Quảng Ninh")
    active = lifecycle.rotate(code, KeyAlgorithm.EC_P256).key
    pending = lifecycle.generate_key(code, KeyAlgorithm.EC_P256)
    assert lifecycle.retire(pending.key_id).state is KeyState.RETIRED
    with pytest.raises(NotUsable, match=r"is the active key of 000.00.11.H49: rotate"):
        lifecycle.retire(active.key_id)
    core = SignerCore(keystore, registry, max_batch=4)
    d = Digest.of(HashAlg.SHA256, b"x")
    core.sign_digests(code, [d], OutputFormat.RAW)  # cached now
    assert lifecycle.retire(active.key_id, force=True).state is KeyState.RETIRED
    with pytest.raises(NotUsable, match=r"no active signing key"):
        core.sign_digests(code, [d], OutputFormat.RAW)
    with pytest.raises(NotUsable, match=r"retired and cannot be activated"):
        lifecycle.activate(active.key_id)


def test_compromise_stops_signing_at_once_on_every_node(world, keystore) -> None:
    _, admin, registry, devca = world
    lifecycle = KeyLifecycle(keystore, registry, devca=devca)
    code = "000.00.12.H49"
    admin.create_agency(code, "Sở Công Thương tỉnh Quảng Ninh")
    key = lifecycle.rotate(code, KeyAlgorithm.EC_P256).key
    # Two nodes sharing the database, each with its own store handle and a 2 s key cache.
    other_registry = RegistryStore(registry.url)
    nodes = [SignerCore(keystore, registry, max_batch=4, cache_ttl_s=60),
             SignerCore(keystore, other_registry, max_batch=4, cache_ttl_s=60)]
    d = Digest.of(HashAlg.SHA256, b"x")
    for node in nodes:
        assert node.sign_digests(code, [d], OutputFormat.RAW).key.key_id == key.key_id
    with pytest.raises(InvalidRequest, match=r"say why"):
        lifecycle.compromise(key.key_id, " ")
    rec = lifecycle.compromise(key.key_id, "token backup lost")
    assert rec.state is KeyState.COMPROMISED and rec.compromised_at is not None
    assert rec.state_reason == "token backup lost"
    for node in nodes:  # the very next request, well inside the cache lifetime
        with pytest.raises(NotUsable, match=rf"key {key.key_id.hex()} was marked compromised "
                           r"on \d{4}-\d\d-\d\d .*: rotate to a new key"):
            node.sign_digests(code, [d], OutputFormat.RAW)
    with pytest.raises(NotUsable, match=r"compromised"):
        lifecycle.activate(key.key_id)
    with pytest.raises(NotUsable, match=r"compromised"):
        lifecycle.retire(key.key_id, force=True)
    # A new key brings the agency back.
    new = lifecycle.rotate(code).key
    assert nodes[1].sign_digests(code, [d], OutputFormat.RAW).key.key_id == new.key_id
    other_registry.close()


def test_rotation_after_a_compromise_keeps_the_algorithm_and_reports_the_real_state(
        world, keystore) -> None:
    """An RSA-3072 agency whose key was compromised gets an RSA-3072 key again (not the
    RSA-2048 fallback for an agency with no key), and the rotation names the replaced key
    as compromised, not retired."""
    _, admin, registry, devca = world
    lifecycle = KeyLifecycle(keystore, registry, devca=devca)
    code = "000.00.21.H49"
    admin.create_agency(code, "Sở Tư pháp tỉnh Quảng Ninh")
    first = lifecycle.rotate(code, KeyAlgorithm.RSA3072, Scheme.PSS)
    assert first.previous is None
    lifecycle.compromise(first.key.key_id, "token stolen")
    second = lifecycle.rotate(code)
    assert (second.key.algorithm, second.key.scheme) == (KeyAlgorithm.RSA3072, Scheme.PSS)
    assert second.previous is not None and second.previous.key_id == first.key.key_id
    assert second.previous.state is KeyState.COMPROMISED
    # An ordinary rotation: the replaced active key is reported retired.
    third = lifecycle.rotate(code)
    assert third.key.algorithm is KeyAlgorithm.RSA3072
    assert third.previous is not None and third.previous.key_id == second.key.key_id
    assert third.previous.state is KeyState.RETIRED


def test_rotation_moves_to_a_stronger_allowed_algorithm_when_the_policy_drops_one(
        world, keystore) -> None:
    _, admin, registry, devca = world
    code = "000.00.22.H49"
    admin.create_agency(code, "Sở Nội vụ tỉnh Quảng Ninh")
    KeyLifecycle(keystore, registry, devca=devca).rotate(code, KeyAlgorithm.EC_P256)
    strict = KeyPolicy(frozenset({KeyAlgorithm.RSA3072, KeyAlgorithm.EC_P384}),
                       frozenset(Scheme) - {Scheme.EDDSA})
    r = KeyLifecycle(keystore, registry, devca=devca, policy=strict).rotate(code)
    assert r.key.algorithm is KeyAlgorithm.EC_P384 and r.key.scheme is Scheme.ECDSA
    assert strict.successor_of(KeyAlgorithm.RSA2048) is KeyAlgorithm.RSA3072
    assert strict.successor_of(None) is KeyAlgorithm.RSA3072


# --- seal image and default profile ------------------------------------------------------------


def _png(width: int, height: int, color_type: int = 6, *, trns: bool = False,
         phys_ppm: int | None = None, pad: int = 0) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    raw = b"".join(b"\0" + b"\x80" * (width * channels) for _ in range(height))
    chunks = [chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))]
    if phys_ppm:
        chunks.append(chunk(b"pHYs", struct.pack(">IIB", phys_ppm, phys_ppm, 1)))
    if trns:
        chunks.append(chunk(b"tRNS", b"\0\0\0\0\0\0"))
    if pad:
        chunks.append(chunk(b"tEXt", b"Comment\0" + b"x" * pad))
    chunks += [chunk(b"IDAT", zlib.compress(raw)), chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def test_seal_image_and_default_profile(world) -> None:
    lifecycle, admin, _, _ = world
    code = "000.00.13.H49"
    admin.create_agency(code, "Sở Tư pháp tỉnh Quảng Ninh")
    assert lifecycle.seal_image(code).seal_png is None
    png = _png(400, 400)
    assets = lifecycle.set_seal_image(code, png, width_mm=36)
    assert (assets.seal_width_mm, assets.seal_height_mm) == (36, 36)
    assert (assets.seal_width_px, assets.seal_height_px) == (400, 400)
    got = lifecycle.seal_image(code)
    assert got.seal_png == png and got.default_profile is SignatureProfile.SEAL
    # 600 dpi = 23622 pixels per metre: 850 px ≈ 36 mm, from the PNG itself.
    sized = lifecycle.set_seal_image(code, _png(850, 850, phys_ppm=23622))
    assert sized.seal_width_mm == pytest.approx(35.98, abs=0.01)
    assert lifecycle.set_seal_image(code, _png(40, 20, 2, trns=True), height_mm=20
                                    ).seal_width_mm == 40
    with pytest.raises(InvalidRequest, match=r"no transparency"):
        lifecycle.set_seal_image(code, _png(40, 40, 2), width_mm=36)
    with pytest.raises(InvalidRequest, match=r"not a PNG"):
        lifecycle.set_seal_image(code, b"GIF89a....", width_mm=36)
    with pytest.raises(InvalidRequest, match=r"limit is 2,097,152"):
        lifecycle.set_seal_image(code, _png(10, 10, pad=2 * 1024 * 1024), width_mm=36)
    damaged = bytearray(png)
    damaged[20] ^= 0xFF  # inside IHDR
    with pytest.raises(InvalidRequest, match=r"damaged"):
        lifecycle.set_seal_image(code, bytes(damaged), width_mm=36)
    with pytest.raises(InvalidRequest, match=r"truncated|incomplete"):
        inspect_png(png[:-20])
    with pytest.raises(InvalidRequest, match=r"real size is unknown.*--width-mm"):
        lifecycle.set_seal_image(code, png)
    with pytest.raises(InvalidRequest, match=r"out of range"):
        lifecycle.set_seal_image(code, png, width_mm=900)
    assert lifecycle.set_default_profile(code, "attachment").default_profile is (
        SignatureProfile.ATTACHMENT
    )
    with pytest.raises(InvalidRequest, match=r"use one of seal, attachment, copy"):
        lifecycle.set_default_profile(code, "stamp")
    assert lifecycle.seal_image(code).seal_width_mm == 40  # the profile kept the seal


def test_cert_csr_and_cert_issue_name_the_agency_alike(world, keystore) -> None:
    """The development CA's certificate and the CSR for the Government CA carry the same
    subject (CN = agency, O = parent body, C = VN): the dev CA used to write O = the
    agency itself and OU = its code (issue 15, docs)."""
    _, admin, registry, devca = world
    code = "000.00.23.H49"
    admin.create_agency(code, "Sở Khoa học và Công nghệ tỉnh Quảng Ninh")
    lifecycle = KeyLifecycle(keystore, registry, devca=devca)
    issued = lifecycle.rotate(code, KeyAlgorithm.EC_P256).key
    assert issued.certificate is not None
    cert = x509.load_der_x509_certificate(issued.certificate.der)
    pending = lifecycle.generate_key(code, KeyAlgorithm.EC_P256)
    csr = x509.load_der_x509_csr(lifecycle.make_csr(code, pending.key_id).der)
    assert cert.subject == csr.subject
    assert cert.subject.rfc4514_string() == (
        f"CN=Sở Khoa học và Công nghệ tỉnh Quảng Ninh,O={PROVINCE_NAME},C=VN")


def test_a_closed_code_gets_no_key_and_no_certificate(world, keystore) -> None:
    """A closed code signs no more, so no key or certificate is made for it: generate,
    rotate and the development CA refuse it, naming its successor (found while
    documenting the RPCs' statuses)."""
    from registry.agencies.lifecycle import AgencyRegistry

    _, admin, registry, devca = world
    lifecycle = KeyLifecycle(keystore, registry, devca=devca)
    old, new = "000.00.24.H49", "000.00.25.H49"
    admin.create_agency(old, "Sở Ngoại vụ tỉnh Quảng Ninh")
    admin.create_agency(new, "Sở Nội vụ và Ngoại vụ tỉnh Quảng Ninh")
    AgencyRegistry(registry.engine).merge([old], new, effective=datetime.now(UTC).date())
    for attempt in (lambda: lifecycle.generate_key(old, KeyAlgorithm.EC_P256),
                    lambda: lifecycle.rotate(old),
                    lambda: admin.issue_dev_certificate(old)):
        with pytest.raises(NotUsable, match=rf"agency {old} was closed on .*successor is {new}"):
            attempt()
