"""The lifecycle of organization keys and certificates, and an agency's seal assets.

Keys are generated inside the HSM and never leave it; this module only moves
public material: CSRs (PKCS#10, signed in the HSM), certificates and chains.

States (``registry.db.store.KeyState``)::

    generate ──> PENDING ──import/issue certificate──> ACTIVE ──rotate──> RETIRED
                    │                                     │                 │
                    └──────────── compromise ─────────────┴─────────────────┴──> COMPROMISED

* One key per agency is ACTIVE. Activating a key retires the previous one in the
  same transaction, so a rotation never leaves a moment without an active key.
* RETIRED keys stay registered (and their certificates with them) so that old
  signatures still verify; they never sign again.
* COMPROMISED is final. Every signer node re-checks the key state before each
  request (``signer.core.SignerCore``), so signing stops on the next request.

Certificate import checks (RFC 5280 §4.2.1.3, §4.2.1.9, §6): the public key is one
of the agency's HSM keys (also checked against the token itself), keyUsage allows
digitalSignature or nonRepudiation, the certificate is not a CA, it is valid now,
each chain certificate is signed by the next and is a CA, and the chain ends at a
self-signed root or at a configured trust anchor (the development CA counts).
"""

from __future__ import annotations

import enum
import logging
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import select

from registry.agencies.codes import parse_code
from registry.agencies.lifecycle import AgencyRegistry
from registry.audit.actions import note
from registry.db.models import ACTIVE, AgencyAssetRow
from registry.db.store import KeyPurpose, KeyRecord, KeyState, RegistryStore, split_der_sequence
from registry.subjects import seal_subject
from signer.digest import HashAlg
from signer.errors import InvalidRequest, NotUsable
from signer.formats import _der
from signer.formats.x509 import build_csr, build_name
from signer.keys.store import Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, KeyUse, Scheme

if TYPE_CHECKING:
    from registry.devca import DevCa, PersonCertificate

__all__ = [
    "MAX_SEAL_PNG_BYTES",
    "AgencyAssets",
    "Csr",
    "KeyLifecycle",
    "KeyPolicy",
    "Rotation",
    "SignatureProfile",
    "XmlForm",
    "inspect_png",
    "load_certificates",
]

log = logging.getLogger(__name__)


def refuse_closed(registry: RegistryStore, code: str) -> None:
    """NotUsable when ``code`` is closed: it signs no more, so no key or certificate is
    made for it."""
    state = AgencyRegistry(registry.engine).get(code)
    if state.status != ACTIVE:
        successor = f"; its successor is {state.successor_code}" if state.successor_code else ""
        raise NotUsable(f"agency {code} was closed on {state.valid_to}{successor}: it signs no "
                        "more; give keys to the agency that continues its work")


# --- policy ------------------------------------------------------------------------------------


class _PolicySettings(Protocol):
    @property
    def allowed_algorithms(self) -> tuple[str, ...]: ...

    @property
    def allowed_schemes(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """Which key algorithms and signature schemes an admin may choose (``[keys]`` settings)."""

    allowed_algorithms: frozenset[KeyAlgorithm] = frozenset(
        a for a in KeyAlgorithm if a.signs_digests)
    allowed_schemes: frozenset[Scheme] = frozenset(s for s in Scheme if s is not Scheme.EDDSA)

    @classmethod
    def from_settings(cls, settings: _PolicySettings) -> KeyPolicy:
        return cls(
            frozenset(KeyAlgorithm.parse(a) for a in settings.allowed_algorithms),
            frozenset(Scheme.parse(s) for s in settings.allowed_schemes),
        )

    def successor_of(self, algorithm: KeyAlgorithm | None) -> KeyAlgorithm:
        """The algorithm of a key that replaces one of ``algorithm`` (None: the agency has
        had no key): the same while the policy allows it, else the weakest allowed one of
        the same family at least as strong, else the first allowed one."""
        allowed = [a for a in KeyAlgorithm if a in self.allowed_algorithms and a.signs_digests]
        if algorithm in allowed:
            return algorithm
        if algorithm is not None:
            order = list(KeyAlgorithm)
            stronger = [a for a in allowed if a.is_rsa == algorithm.is_rsa
                        and order.index(a) > order.index(algorithm)]
            if stronger:
                return stronger[0]
        if KeyAlgorithm.RSA2048 in allowed:  # government CA practice (docs/domain.md)
            return KeyAlgorithm.RSA2048
        if not allowed:
            raise InvalidRequest("this server's key policy allows no key algorithm")
        return allowed[0]

    def check(self, algorithm: KeyAlgorithm, scheme: Scheme) -> None:
        if not algorithm.signs_digests:
            raise InvalidRequest(
                f"{algorithm.value} keys are kyso's audit checkpoint keys; agency keys sign "
                "documents with RSA or ECDSA (Circular 15/2025)")
        if algorithm not in self.allowed_algorithms:
            allowed = ", ".join(a.value for a in KeyAlgorithm if a in self.allowed_algorithms)
            raise InvalidRequest(
                f"key algorithm {algorithm.value} is not allowed by this server's key policy: "
                f"use one of {allowed}"
            )
        if scheme not in self.allowed_schemes:
            allowed = ", ".join(
                s.value for s in Scheme if s in self.allowed_schemes and s.fits(algorithm)
            )
            raise InvalidRequest(
                f"signature scheme {scheme.value} is not allowed by this server's key policy"
                + (f": use {allowed}" if allowed else "")
            )


# --- certificates in, PEM or DER ---------------------------------------------------------------


def load_certificates(blob: bytes, what: str = "the certificate") -> list[bytes]:
    """DER certificates from PEM (one or more blocks) or DER (one or concatenated)."""
    data = blob.strip()
    if not data:
        raise InvalidRequest(f"{what} is empty")
    try:
        if data.startswith(b"-----BEGIN"):
            certs = x509.load_pem_x509_certificates(data)
            return [c.public_bytes(Encoding.DER) for c in certs]
        ders = split_der_sequence(blob)
        for der in ders:
            x509.load_der_x509_certificate(der)
        return list(ders)
    except (ValueError, IndexError) as exc:
        raise InvalidRequest(
            f"{what} is neither PEM nor DER X.509: export it as a .pem or .cer/.der file"
        ) from exc


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """``issuer``'s name is ``cert``'s issuer and its key made ``cert``'s signature."""
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False


def _check_validity(cert: x509.Certificate, now: datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise InvalidRequest(
            f"{what} {_name(cert)!r} is not yet valid: valid from "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC; import it then, or check "
            "this server's clock"
        )
    if now > cert.not_valid_after_utc:
        raise InvalidRequest(
            f"{what} {_name(cert)!r} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} "
            "UTC: ask the CA for a new certificate"
        )


# --- seal image ------------------------------------------------------------------------------

MAX_SEAL_PNG_BYTES = 2 * 1024 * 1024
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_SEAL_MM = 200.0


class SignatureProfile(enum.Enum):
    """How an agency's PDF organization signature looks by default (Decree 30/2020, App. I)."""

    SEAL = "seal"  # main document: the red seal image over the personal signature
    ATTACHMENT = "attachment"  # attachment/appendix: no image, text top right of page 1
    COPY = "copy"  # electronic copy: no image, copy form + organization + time

    @classmethod
    def parse(cls, name: str) -> SignatureProfile:
        for p in cls:
            if p.value == name.strip().lower():
                return p
        raise InvalidRequest(
            f"unknown signature profile {name!r}: use one of " + ", ".join(p.value for p in cls)
        )


class XmlForm(enum.Enum):
    """The signature ``kyso sign xml`` makes for an agency unless told otherwise."""

    XML_DSIG = "xml-dsig"  # QCVN 102:2016's exact form: enveloped XML-DSig, no signing time
    XADES_B_B = "xades-b-b"  # XAdES (EN 319 132-1) with a signed SigningTime
    XADES_B_T = "xades-b-t"  # and a signature timestamp from the TSA

    @classmethod
    def parse(cls, name: str) -> XmlForm:
        for f in cls:
            if f.value == name.strip().lower():
                return f
        raise InvalidRequest(
            f"unknown XML signature form {name!r}: use one of " + ", ".join(f.value for f in cls)
        )


@dataclass(frozen=True, slots=True)
class PngInfo:
    width_px: int
    height_px: int
    transparent: bool
    pixels_per_metre: tuple[int, int] | None  # from pHYs, when its unit is the metre


def inspect_png(data: bytes) -> PngInfo:
    """Check ``data`` is a whole PNG (PNG spec §5: signature, chunk CRCs, IHDR first,
    IDAT, IEND) with transparency (an alpha channel or a tRNS chunk)."""
    if len(data) > MAX_SEAL_PNG_BYTES:
        raise InvalidRequest(
            f"the seal image is {len(data):,} bytes; the limit is {MAX_SEAL_PNG_BYTES:,}: "
            "export it smaller (a seal at 600 dpi fits easily)"
        )
    if not data.startswith(_PNG_SIGNATURE):
        raise InvalidRequest("the seal image is not a PNG file (wrong signature bytes)")
    pos = len(_PNG_SIGNATURE)
    chunks: list[tuple[bytes, bytes]] = []
    while pos < len(data):
        if pos + 12 > len(data):
            raise InvalidRequest("the seal PNG is truncated: export it again")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc_bytes = data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            raise InvalidRequest("the seal PNG is truncated: export it again")
        if zlib.crc32(ctype + body) != struct.unpack(">I", crc_bytes)[0]:
            raise InvalidRequest(
                f"the seal PNG is damaged (bad CRC in chunk {ctype.decode('latin-1')!r})"
            )
        chunks.append((ctype, body))
        pos += 12 + length
        if ctype == b"IEND":
            break
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) != 13:
        raise InvalidRequest("the seal PNG has no valid IHDR header chunk")
    if chunks[-1][0] != b"IEND" or not any(t == b"IDAT" for t, _ in chunks):
        raise InvalidRequest("the seal PNG is incomplete (no image data or no IEND)")
    width, height, _depth, color_type = struct.unpack(">IIBB", chunks[0][1][:10])
    if not width or not height:
        raise InvalidRequest("the seal PNG has zero width or height")
    # Colour types 4 (grey + alpha) and 6 (RGBA) carry alpha; others need a tRNS chunk.
    transparent = color_type in (4, 6) or any(t == b"tRNS" for t, _ in chunks)
    if not transparent:
        raise InvalidRequest(
            "the seal PNG has no transparency (no alpha channel, no tRNS chunk): Decree "
            "30/2020 asks for the seal on a transparent background; export it as RGBA"
        )
    ppm = None
    for t, body in chunks:
        if t == b"pHYs" and len(body) == 9 and body[8] == 1:
            x, y = struct.unpack(">II", body[:8])
            if x and y:
                ppm = (x, y)
    return PngInfo(width, height, transparent, ppm)


@dataclass(frozen=True, slots=True)
class AgencyAssets:
    agency_code: str
    seal_png: bytes | None
    seal_width_mm: float | None
    seal_height_mm: float | None
    seal_width_px: int
    seal_height_px: int
    default_profile: SignatureProfile
    updated_at: datetime | None
    skip_personal_signature_check: bool = False
    xml_form: XmlForm = XmlForm.XML_DSIG


def _assets(row: AgencyAssetRow | None, code: str) -> AgencyAssets:
    if row is None:
        return AgencyAssets(code, None, None, None, 0, 0, SignatureProfile.SEAL, None,
                            False, XmlForm.XML_DSIG)
    w = h = 0
    if row.seal_png:
        info = inspect_png(row.seal_png)
        w, h = info.width_px, info.height_px
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return AgencyAssets(
        row.agency_code,
        row.seal_png,
        row.seal_width_mm,
        row.seal_height_mm,
        w,
        h,
        SignatureProfile(row.default_profile),
        updated,
        bool(row.skip_personal_signature_check),
        XmlForm.parse(row.xml_form or XmlForm.XML_DSIG.value),
    )


# --- the lifecycle ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Csr:
    key_id: bytes
    der: bytes
    subject: str  # RFC 4514

    @property
    def pem(self) -> bytes:
        import base64

        b64 = base64.encodebytes(self.der).replace(b"\n", b"")
        lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
        return (
            b"-----BEGIN CERTIFICATE REQUEST-----\n"
            + b"\n".join(lines)
            + b"\n-----END CERTIFICATE REQUEST-----\n"
        )


@dataclass(frozen=True, slots=True)
class Rotation:
    key: KeyRecord
    activated: bool  # True when the dev CA certified it; else send ``csr`` to the CA
    csr: Csr | None
    # The key this one replaces (the agency's newest seal key before the rotation), in its
    # state after it: retired when it was active and the new key is, compromised when it
    # was compromised, unchanged while the new key waits for its certificate.
    previous: KeyRecord | None = None


_CSR_HASH = {KeyAlgorithm.EC_P384: HashAlg.SHA384}


class KeyLifecycle:
    """Generate, certify (CSR + import, or the dev CA), activate, rotate, retire and mark
    compromised the organization keys of agencies; seal images and default profiles."""

    def __init__(
        self,
        keystore: Pkcs11KeyStore,
        registry: RegistryStore,
        policy: KeyPolicy | None = None,
        *,
        devca: DevCa | None = None,
        trust_anchors: Iterable[bytes] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.keystore = keystore
        self.registry = registry
        self.policy = policy or KeyPolicy()
        self.devca = devca
        self._anchors = [x509.load_der_x509_certificate(d) for d in trust_anchors]
        self._clock = clock

    # -- generation and CSRs --

    def generate_key(
        self,
        agency_code: str,
        algorithm: KeyAlgorithm = KeyAlgorithm.RSA2048,
        scheme: Scheme | None = None,
    ) -> KeyRecord:
        """A new PENDING key in the HSM for the agency, within the key policy; never for a
        closed code (it signs no more: a key for it would be a key nobody may use)."""
        agency = self.registry.get_agency(agency_code)
        refuse_closed(self.registry, agency.code)
        chosen = scheme or algorithm.default_scheme
        if not chosen.fits(algorithm):
            raise InvalidRequest(
                f"scheme {chosen.value} does not fit a {algorithm.value} key: use "
                f"{algorithm.default_scheme.value}"
            )
        self.policy.check(algorithm, chosen)
        label = f"seal-{agency.code}-{len(agency.keys) + 1}"
        info = self.keystore.generate_key(algorithm, label=label)
        note(key_id=info.key_id.hex())  # for the audit record of the action in progress
        key = self.registry.add_key(
            info, scheme=chosen, purpose=KeyPurpose.SEAL, agency_code=agency.code
        )
        log.info("generated %s key %s for %s", algorithm.value, info.key_id.hex(), agency.code)
        return key

    def csr_subject(
        self, agency_code: str, overrides: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The seal certificate's subject (``registry.subjects.seal_subject``: CN = agency
        name, O = parent body's name when registered, C = VN, then ``overrides``)."""
        return seal_subject(self.registry, agency_code, overrides)

    def make_csr(
        self,
        agency_code: str,
        key_id: bytes | None = None,
        subject_overrides: Mapping[str, str] | None = None,
    ) -> Csr:
        """A PKCS#10 request for the agency's key (default: its newest pending key, else its
        active key), signed inside the HSM."""
        code = parse_code(agency_code).code
        key = self._key_for_csr(code, key_id)
        subject = self.csr_subject(code, subject_overrides)
        name = build_name(subject)
        der = build_csr(
            subject=name,
            public_key_der=key.public_key_der,
            key=self.keystore.key(key.key_id),
            scheme=key.scheme,
            hash_alg=_CSR_HASH.get(key.algorithm, HashAlg.SHA256),
        )
        rfc4514 = x509.load_der_x509_csr(der).subject.rfc4514_string()
        log.info("made a CSR for %s key %s: %s", code, key.key_id.hex(), rfc4514)
        return Csr(key.key_id, der, rfc4514)

    def _key_for_csr(self, code: str, key_id: bytes | None) -> KeyRecord:
        keys = self.registry.keys_of(code)
        if key_id is not None:
            key = next((k for k in keys if k.key_id == key_id), None)
            if key is None:
                raise InvalidRequest(f"key {key_id.hex()} does not belong to agency {code}")
        else:
            seals = [k for k in keys if k.purpose is KeyPurpose.SEAL]
            pending = [k for k in seals if k.state is KeyState.PENDING]
            active = [k for k in seals if k.state is KeyState.ACTIVE]
            key = (pending or active or [None])[-1]  # type: ignore[list-item]
            if key is None:
                raise NotUsable(
                    f"agency {code} has no pending or active key: generate one with "
                    f"`kyso admin key generate {code}` (or `kyso admin key rotate {code}`)"
                )
        if key.state in (KeyState.RETIRED, KeyState.COMPROMISED):
            raise NotUsable(
                f"key {key.key_id.hex()} is {key.state.value}: request a certificate for a "
                "new key instead"
            )
        return key

    # -- certificate import --

    def import_certificate(
        self,
        agency_code: str,
        certificate: bytes,
        chain: Sequence[bytes] = (),
        *,
        activate: bool = True,
    ) -> KeyRecord:
        """Check and record a CA-issued certificate for one of the agency's keys (PEM or
        DER; ``chain``: the issuing CAs, each PEM or DER, in any order); with ``activate``
        the key becomes the agency's active key and the previous one is retired."""
        code = parse_code(agency_code).code
        leaf_ders = load_certificates(certificate, "the certificate")
        pool_ders = leaf_ders[1:] + [
            d for i, blob in enumerate(chain)
            for d in load_certificates(blob, f"chain file #{i + 1}")
        ]
        leaf_der = leaf_ders[0]
        leaf = x509.load_der_x509_certificate(leaf_der)
        now = self._clock()

        key = self._key_of_certificate(code, leaf)
        if _is_ca(leaf):
            raise InvalidRequest(
                f"certificate {_name(leaf)!r} is a CA certificate (basicConstraints CA:TRUE): "
                "import the organization's own (end-entity) certificate"
            )
        usage = _key_usage(leaf)
        if usage is not None and not (usage.digital_signature or usage.content_commitment):
            raise InvalidRequest(
                f"certificate {_name(leaf)!r} does not allow signing: its keyUsage has "
                "neither digitalSignature nor nonRepudiation; ask the CA for a signing "
                "(organization seal) certificate"
            )
        _check_validity(leaf, now, "certificate")
        path = self._chain(leaf, [x509.load_der_x509_certificate(d) for d in pool_ders], now)
        chain_ders = tuple(c.public_bytes(Encoding.DER) for c in path)
        rec = self.registry.attach_certificate(
            key.key_id, leaf_der, chain_ders, activate=activate
        )
        log.info(
            "imported certificate %x for %s key %s (%s)",
            leaf.serial_number,
            code,
            key.key_id.hex(),
            "active" if activate else rec.state.value,
        )
        return rec

    def _key_of_certificate(self, code: str, leaf: x509.Certificate) -> KeyRecord:
        spki_der = leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        try:
            identity = _der.key_identity(_der.load_spki(spki_der, "the certificate's key"))
        except InvalidRequest as exc:
            raise InvalidRequest(f"certificate {_name(leaf)!r}: {exc.message}") from exc
        keys = self.registry.keys_of(code)
        match = None
        for k in keys:
            try:
                same = _der.key_identity(_der.load_spki(k.public_key_der, "a key")) == identity
            except InvalidRequest:
                continue
            if same:
                match = k
                break
        if match is None:
            raise InvalidRequest(
                f"certificate {_name(leaf)!r} (serial {leaf.serial_number:x}) is not for any "
                f"key of agency {code}: its public key differs from every key kyso holds for "
                f"the agency; import the certificate issued for the CSR made with "
                f"`kyso admin cert csr {code}`"
            )
        if match.state in (KeyState.RETIRED, KeyState.COMPROMISED):
            raise NotUsable(
                f"certificate {_name(leaf)!r} is for key {match.key_id.hex()}, which is "
                f"{match.state.value}: it cannot be used again; rotate to a new key"
            )
        # The registry's copy must be the token's key: the certificate will sign with it.
        held = self.keystore.public_key(match.key_id).public_key_der
        if _der.key_identity(_der.load_spki(held, "the HSM key")) != identity:
            raise NotUsable(
                f"key {match.key_id.hex()} in the HSM is not the key registered for it: "
                "the token and the registry disagree; ask the HSM officer"
            )
        return match

    def _chain(
        self, leaf: x509.Certificate, pool: list[x509.Certificate], now: datetime
    ) -> list[x509.Certificate]:
        """The path from ``leaf``'s issuer up to a root or trust anchor, each link checked."""
        path: list[x509.Certificate] = []
        current = leaf
        remaining = list(pool)
        for _ in range(len(pool) + 2):
            if current is not leaf and _issued_by(current, current):
                return path  # a self-signed root given in the chain
            issuer = next((c for c in remaining if c.subject == current.issuer), None)
            from_anchor = False
            if issuer is None:
                issuer = next((a for a in self._anchors if a.subject == current.issuer), None)
                from_anchor = issuer is not None
            if issuer is None:
                where = (
                    "the certificate"
                    if current is leaf
                    else f"chain certificate {_name(current)!r}"
                )
                raise InvalidRequest(
                    f"broken chain: the issuer of {where}, {current.issuer.rfc4514_string()!r}, "
                    "is neither in the chain given nor a trusted root of this server: add the "
                    "issuing CA certificates with --chain (up to the root)"
                )
            if not _issued_by(current, issuer):
                raise InvalidRequest(
                    f"broken chain: {_name(current)!r} is not signed by the key of "
                    f"{_name(issuer)!r} (same name, different CA key?): give the CA "
                    "certificate that actually issued it"
                )
            if not _is_ca(issuer):
                raise InvalidRequest(
                    f"broken chain: {_name(issuer)!r} is not a CA certificate "
                    "(basicConstraints CA:TRUE missing)"
                )
            usage = _key_usage(issuer)
            if usage is not None and not usage.key_cert_sign:
                raise InvalidRequest(
                    f"broken chain: CA {_name(issuer)!r} is not allowed to sign certificates "
                    "(keyUsage without keyCertSign)"
                )
            _check_validity(issuer, now, "CA certificate")
            path.append(issuer)
            if from_anchor:
                return path
            remaining = [c for c in remaining if c is not issuer]
            current = issuer
        raise InvalidRequest("broken chain: the chain loops; give each CA certificate once")

    # -- state changes --

    def _owned(self, key_id: bytes, agency_code: str | None) -> KeyRecord:
        key = self.registry.get_key(key_id)
        if agency_code and key.agency_code != parse_code(agency_code).code:
            raise InvalidRequest(
                f"key {key_id.hex()} does not belong to agency {parse_code(agency_code).code}"
            )
        return key

    def activate(self, key_id: bytes, agency_code: str | None = None) -> KeyRecord:
        """Make the key the active one of its agency (the previous one retires at once)."""
        key = self._owned(key_id, agency_code)
        cert = key.certificate
        if cert is None:
            raise NotUsable(
                f"key {key_id.hex()} has no certificate: import one with `kyso admin cert "
                f"import {key.agency_code or 'CODE'} CERT`"
            )
        now = self._clock()
        if not cert.valid_at(now):
            raise NotUsable(
                f"key {key_id.hex()}'s certificate (serial {cert.serial_hex}) is not valid now "
                f"(valid {cert.not_before:%Y-%m-%d} to {cert.not_after:%Y-%m-%d}): import a "
                "current certificate first"
            )
        return self.registry.activate_key(key_id)

    def rotate(
        self,
        agency_code: str,
        algorithm: KeyAlgorithm | None = None,
        scheme: Scheme | None = None,
    ) -> Rotation:
        """Generate a new key. With the development CA it is certified and activated at
        once (the old key retires in the same transaction: no gap); otherwise the CSR is
        returned and importing the CA's certificate activates the key."""
        code = parse_code(agency_code).code
        seals = [k for k in self.registry.keys_of(code) if k.purpose is KeyPurpose.SEAL]
        # The key being replaced: the active one, else the newest (after a compromise or a
        # forced retirement the agency has none active, and its algorithm still holds).
        previous = next((k for k in reversed(seals) if k.state is KeyState.ACTIVE),
                        seals[-1] if seals else None)
        if algorithm is None:
            algorithm = self.policy.successor_of(previous.algorithm if previous else None)
            if (scheme is None and previous is not None and previous.scheme.fits(algorithm)
                    and previous.scheme in self.policy.allowed_schemes):
                scheme = previous.scheme
        key = self.generate_key(code, algorithm, scheme)
        if self.devca is not None:
            agency = self.registry.get_agency(code)
            key = self.devca.issue_seal(agency, key)
            log.info("rotated %s to key %s (development CA)", code, key.key_id.hex())
            return Rotation(key, True, None, self._reread(previous))
        csr = self.make_csr(code, key.key_id)
        return Rotation(key, False, csr, self._reread(previous))

    def _reread(self, key: KeyRecord | None) -> KeyRecord | None:
        return self.registry.get_key(key.key_id) if key is not None else None

    def rotate_tsa(self, algorithm: KeyAlgorithm | None = None) -> Rotation:
        """A new key for the time-stamp authority. With the development CA it is certified
        and becomes the active TSA key at once (every node signs with it within its 2 s key
        cache, no restart); otherwise the CSR is returned, and importing the CA's
        certificate (``import_tsa_certificate``) activates it."""
        if algorithm is None:
            last = self.registry.newest_of(KeyPurpose.TSA)
            algorithm = last.algorithm if last is not None else KeyAlgorithm.RSA2048
        if not algorithm.signs_digests:
            raise InvalidRequest(f"a TSA key cannot be {algorithm.value}: use RSA or ECDSA")
        info = self.keystore.generate_key(algorithm, label=KeyUse.TSA.label)
        note(key_id=info.key_id.hex(), algorithm=algorithm.value)
        key = self.registry.add_key(info, scheme=algorithm.default_scheme,
                                    purpose=KeyPurpose.TSA)
        if self.devca is not None:
            key = self.devca.issue_tsa(key)
            log.info("rotated the TSA to key %s (development CA)", key.key_id.hex())
            return Rotation(key, True, None)
        der = build_csr(
            subject=build_name({"CN": "kyso Time-Stamp Authority", "C": "VN"}),
            public_key_der=key.public_key_der,
            key=self.keystore.key(key.key_id, use=KeyUse.TSA),
            scheme=key.scheme,
            hash_alg=_CSR_HASH.get(key.algorithm, HashAlg.SHA256),
        )
        rfc4514 = x509.load_der_x509_csr(der).subject.rfc4514_string()
        return Rotation(key, False, Csr(key.key_id, der, rfc4514))

    def import_tsa_certificate(self, certificate: bytes, chain: Sequence[bytes] = (), *,
                               activate: bool = True) -> KeyRecord:
        """Check and record the CA-issued certificate of the TSA's pending key: not a CA,
        critical extendedKeyUsage with id-kp-timeStamping only (RFC 3161 §2.3), valid now,
        chained to a root or a trust anchor; with ``activate`` it becomes the active TSA key
        (the previous one retires in the same transaction)."""
        leaf_ders = load_certificates(certificate, "the certificate")
        pool_ders = leaf_ders[1:] + [
            d for i, blob in enumerate(chain)
            for d in load_certificates(blob, f"chain file #{i + 1}")
        ]
        leaf = x509.load_der_x509_certificate(leaf_ders[0])
        spki = leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        key = self.registry.newest_of(KeyPurpose.TSA)
        if key is None or key.state is not KeyState.PENDING or key.public_key_der != spki:
            raise InvalidRequest(
                f"certificate {_name(leaf)!r} is not for the TSA's pending key: make one with "
                "`kyso admin tsa rotate` and have the CA certify its CSR")
        if _is_ca(leaf):
            raise InvalidRequest(f"certificate {_name(leaf)!r} is a CA certificate: a TSA "
                                 "certificate is an end-entity one (RFC 3161 §2.3)")
        try:
            eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        except x509.ExtensionNotFound:
            eku = None
        if eku is None or not eku.critical or list(eku.value) != [
                ExtendedKeyUsageOID.TIME_STAMPING]:
            raise InvalidRequest(
                f"certificate {_name(leaf)!r} is not a TSA certificate: RFC 3161 §2.3 asks "
                "for a critical extendedKeyUsage with id-kp-timeStamping only")
        now = self._clock()
        _check_validity(leaf, now, "certificate")
        path = self._chain(leaf, [x509.load_der_x509_certificate(d) for d in pool_ders], now)
        chain_ders = tuple(c.public_bytes(Encoding.DER) for c in path)
        rec = self.registry.attach_certificate(key.key_id, leaf_ders[0], chain_ders,
                                               activate=activate)
        log.info("imported TSA certificate %x for key %s", leaf.serial_number,
                 key.key_id.hex())
        return rec

    def retire(
        self, key_id: bytes, *, force: bool = False, agency_code: str | None = None
    ) -> KeyRecord:
        """Retire a key; the agency's active key only with ``force``."""
        self._owned(key_id, agency_code)
        rec = self.registry.retire_key(key_id, force=force, reason="retired by an admin")
        log.info("retired key %s%s", key_id.hex(), " (forced)" if force else "")
        return rec

    def compromise(
        self, key_id: bytes, reason: str, *, agency_code: str | None = None
    ) -> KeyRecord:
        """Mark a key compromised (final); it stops signing on every node's next request."""
        self._owned(key_id, agency_code)
        reason = reason.strip()
        if not reason:
            raise InvalidRequest(
                "say why the key is compromised (--reason): it is recorded with the key"
            )
        rec = self.registry.mark_compromised(key_id, reason[:1000])
        log.warning("key %s marked compromised: %s", key_id.hex(), reason)
        return rec

    def list_keys(self, agency_code: str) -> list[KeyRecord]:
        return self.registry.keys_of(parse_code(agency_code).code)

    # -- seal image and default profile --

    def set_seal_image(
        self,
        agency_code: str,
        png: bytes,
        width_mm: float | None = None,
        height_mm: float | None = None,
    ) -> AgencyAssets:
        """Store the agency's seal (PNG with transparency) at its real size in millimetres.
        Missing sizes come from the other size and the aspect ratio, or the PNG's pHYs."""
        code = self.registry.get_agency(agency_code).code
        info = inspect_png(png)
        ratio = info.height_px / info.width_px
        if width_mm is None and height_mm is None and info.pixels_per_metre is not None:
            width_mm = info.width_px / info.pixels_per_metre[0] * 1000
            height_mm = info.height_px / info.pixels_per_metre[1] * 1000
        elif width_mm is not None and height_mm is None:
            height_mm = width_mm * ratio
        elif height_mm is not None and width_mm is None:
            width_mm = height_mm / ratio
        if width_mm is None or height_mm is None:
            raise InvalidRequest(
                "the seal's real size is unknown (the PNG has no physical resolution): give "
                "--width-mm (and --height-mm), e.g. 36 for a 36 mm seal"
            )
        for what, mm in (("width", width_mm), ("height", height_mm)):
            if not 0 < mm <= _MAX_SEAL_MM:
                raise InvalidRequest(
                    f"seal {what} {mm:g} mm is out of range: give the printed size in "
                    f"millimetres (0 < size <= {_MAX_SEAL_MM:g})"
                )
        return self._save_assets(
            code, seal=(png, round(width_mm, 2), round(height_mm, 2)), profile=None
        )

    def seal_image(self, agency_code: str) -> AgencyAssets:
        code = self.registry.get_agency(agency_code).code
        with self.registry._session("reading an agency's seal") as s:
            row = s.scalar(select(AgencyAssetRow).where(AgencyAssetRow.agency_code == code))
            return _assets(row, code)

    def set_default_profile(self, agency_code: str, profile: SignatureProfile | str
                            ) -> AgencyAssets:
        code = self.registry.get_agency(agency_code).code
        chosen = profile if isinstance(profile, SignatureProfile) else SignatureProfile.parse(
            profile
        )
        return self._save_assets(code, seal=None, profile=chosen)

    def issue_person_certificate(self, csr: bytes, validity_days: int = 365
                                 ) -> PersonCertificate:
        """The development CA certifies a person's key (``DevCa.issue_person``)."""
        if self.devca is None:
            raise NotUsable(
                "the development CA is disabled on this server: a leader's certificate "
                "comes from your CA (e.g. the Government CA), not from kyso")
        return self.devca.issue_person(csr, validity_days)

    def set_xml_form(self, agency_code: str, form: XmlForm | str) -> AgencyAssets:
        """The XML signature form ``kyso sign xml`` uses for this agency unless told."""
        code = self.registry.get_agency(agency_code).code
        chosen = form if isinstance(form, XmlForm) else XmlForm.parse(form)
        return self._save_assets(code, seal=None, profile=None, xml_form=chosen)

    def set_pdf_policy(self, agency_code: str, *, skip_personal_signature_check: bool
                       ) -> AgencyAssets:
        """Whether the seal profile may sign a PDF that has no valid personal signature."""
        code = self.registry.get_agency(agency_code).code
        return self._save_assets(code, seal=None, profile=None,
                                 skip_personal_check=skip_personal_signature_check)

    def _save_assets(
        self,
        code: str,
        *,
        seal: tuple[bytes, float, float] | None,
        profile: SignatureProfile | None,
        skip_personal_check: bool | None = None,
        xml_form: XmlForm | None = None,
    ) -> AgencyAssets:
        now = datetime.now(UTC)
        with self.registry._session("saving an agency's seal and profile") as s:
            row = s.scalar(select(AgencyAssetRow).where(AgencyAssetRow.agency_code == code))
            if row is None:
                row = AgencyAssetRow(
                    agency_code=code, default_profile=SignatureProfile.SEAL.value, updated_at=now
                )
                s.add(row)
            if seal is not None:
                row.seal_png, row.seal_width_mm, row.seal_height_mm = seal
            if profile is not None:
                row.default_profile = profile.value
            if skip_personal_check is not None:
                row.skip_personal_signature_check = skip_personal_check
            if xml_form is not None:
                row.xml_form = xml_form.value
            row.updated_at = now
            s.flush()
            return _assets(row, code)
