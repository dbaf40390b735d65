"""kyso.registry.v1.KeyService: converts messages to ``registry.keys`` calls and back."""

from __future__ import annotations

from typing import Any

import grpc

from kyso.common.v1 import common_pb2
from kyso.registry.v1 import keys_pb2, keys_pb2_grpc
from registry.db.store import KeyRecord
from registry.keys import AgencyAssets, KeyLifecycle, SignatureProfile, load_certificates
from registry.service import key_pb
from signer.errors import InvalidRequest
from signer.keys.types import KeyAlgorithm
from signer.runtime.context import Context
from signer.wire import KEYALG_FROM_PB, scheme_from_pb

PROFILE_TO_PB = {
    SignatureProfile.SEAL: keys_pb2.SIGNATURE_PROFILE_SEAL,
    SignatureProfile.ATTACHMENT: keys_pb2.SIGNATURE_PROFILE_ATTACHMENT,
    SignatureProfile.COPY: keys_pb2.SIGNATURE_PROFILE_COPY,
}
PROFILE_FROM_PB: dict[int, SignatureProfile] = {int(v): k for k, v in PROFILE_TO_PB.items()}


def _unix(dt: object) -> int:
    from datetime import datetime

    return int(dt.timestamp()) if isinstance(dt, datetime) else 0


def key_entry_pb(key: KeyRecord) -> keys_pb2.KeyEntry:
    return keys_pb2.KeyEntry(
        key=key_pb(key),
        activated_unix=_unix(key.activated_at),
        state_changed_unix=_unix(key.state_changed_at),
        state_reason=key.state_reason or "",
        compromised_unix=_unix(key.compromised_at),
        chain_der=list(key.certificate.chain) if key.certificate else [],
    )


def assets_pb(assets: AgencyAssets, *, with_png: bool) -> keys_pb2.AgencyAssets:
    return keys_pb2.AgencyAssets(
        agency_code=assets.agency_code,
        has_seal=assets.seal_png is not None,
        seal_png=assets.seal_png or b"" if with_png else b"",
        seal_width_mm=assets.seal_width_mm or 0.0,
        seal_height_mm=assets.seal_height_mm or 0.0,
        seal_width_px=assets.seal_width_px,
        seal_height_px=assets.seal_height_px,
        default_profile=PROFILE_TO_PB[assets.default_profile],
        updated_unix=_unix(assets.updated_at),
        skip_personal_signature_check=assets.skip_personal_signature_check,
        xml_form=assets.xml_form.value,
    )


def _key_id(text: str, *, required: bool = True) -> bytes | None:
    if not text:
        if required:
            raise InvalidRequest("key_id is required: give the key's hex id (kyso admin key list)")
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InvalidRequest(f"key_id {text!r} is not hex") from None


def _required_key_id(text: str) -> bytes:
    key_id = _key_id(text)
    assert key_id is not None
    return key_id


class KeyServicer(keys_pb2_grpc.KeyServiceServicer):  # type: ignore[misc, unused-ignore]
    def __init__(self, lifecycle: KeyLifecycle) -> None:
        self._keys = lifecycle

    def CreateCsr(
        self, request: keys_pb2.CreateCsrRequest, context: grpc.ServicerContext
    ) -> keys_pb2.CreateCsrResponse:
        csr = self._keys.make_csr(
            request.agency_code,
            _key_id(request.key_id, required=False),
            dict(request.subject),
        )
        return keys_pb2.CreateCsrResponse(key_id=csr.key_id.hex(), csr_der=csr.der,
                                          subject=csr.subject)

    def ImportCertificate(
        self, request: keys_pb2.ImportCertificateRequest, context: grpc.ServicerContext
    ) -> keys_pb2.KeyEntry:
        if request.tsa:
            if request.agency_code:
                raise InvalidRequest("a TSA certificate belongs to no agency: leave the "
                                     "agency code empty")
            return key_entry_pb(self._keys.import_tsa_certificate(
                request.certificate, list(request.chain), activate=not request.no_activate))
        if not request.agency_code:
            raise InvalidRequest("the request names no agency: set agency_code")
        key = self._keys.import_certificate(
            request.agency_code,
            request.certificate,
            list(request.chain),
            activate=not request.no_activate,
        )
        return key_entry_pb(key)

    def ActivateKey(
        self, request: keys_pb2.ActivateKeyRequest, context: grpc.ServicerContext
    ) -> keys_pb2.KeyEntry:
        return key_entry_pb(
            self._keys.activate(_required_key_id(request.key_id), request.agency_code or None)
        )

    def RotateKey(
        self, request: keys_pb2.RotateKeyRequest, context: grpc.ServicerContext
    ) -> keys_pb2.RotateKeyResponse:
        algorithm: KeyAlgorithm | None = None
        if request.algorithm != common_pb2.KEY_ALGORITHM_UNSPECIFIED:
            if request.algorithm not in KEYALG_FROM_PB:
                raise InvalidRequest(f"unknown key algorithm {request.algorithm}")
            algorithm = KEYALG_FROM_PB[request.algorithm]
        if request.tsa:
            if request.agency_code:
                raise InvalidRequest("the TSA's key belongs to no agency: leave the agency "
                                     "code empty")
            rotation = self._keys.rotate_tsa(algorithm)
        elif not request.agency_code:
            raise InvalidRequest("the request names no agency: set agency_code")
        else:
            rotation = self._keys.rotate(
                request.agency_code, algorithm, scheme_from_pb(request.scheme)
            )
        return keys_pb2.RotateKeyResponse(
            key=key_entry_pb(rotation.key),
            activated=rotation.activated,
            csr_der=rotation.csr.der if rotation.csr else b"",
            previous=key_entry_pb(rotation.previous) if rotation.previous else None,
        )

    def RetireKey(
        self, request: keys_pb2.RetireKeyRequest, context: grpc.ServicerContext
    ) -> keys_pb2.KeyEntry:
        return key_entry_pb(
            self._keys.retire(
                _required_key_id(request.key_id),
                force=request.force,
                agency_code=request.agency_code or None,
            )
        )

    def MarkCompromised(
        self, request: keys_pb2.MarkCompromisedRequest, context: grpc.ServicerContext
    ) -> keys_pb2.KeyEntry:
        return key_entry_pb(
            self._keys.compromise(
                _required_key_id(request.key_id),
                request.reason,
                agency_code=request.agency_code or None,
            )
        )

    def ListKeys(
        self, request: keys_pb2.ListKeysRequest, context: grpc.ServicerContext
    ) -> keys_pb2.ListKeysResponse:
        return keys_pb2.ListKeysResponse(
            keys=[key_entry_pb(k) for k in self._keys.list_keys(request.agency_code)]
        )

    def SetSealImage(
        self, request: keys_pb2.SetSealImageRequest, context: grpc.ServicerContext
    ) -> keys_pb2.AgencyAssets:
        assets = self._keys.set_seal_image(
            request.agency_code,
            request.png,
            request.width_mm or None,
            request.height_mm or None,
        )
        return assets_pb(assets, with_png=False)

    def GetSealImage(
        self, request: keys_pb2.GetSealImageRequest, context: grpc.ServicerContext
    ) -> keys_pb2.AgencyAssets:
        return assets_pb(self._keys.seal_image(request.agency_code), with_png=True)

    def SetDefaultProfile(
        self, request: keys_pb2.SetDefaultProfileRequest, context: grpc.ServicerContext
    ) -> keys_pb2.AgencyAssets:
        profile = PROFILE_FROM_PB.get(request.profile)
        if profile is None:
            raise InvalidRequest("profile is required: seal, attachment or copy")
        return assets_pb(
            self._keys.set_default_profile(request.agency_code, profile), with_png=False
        )

    def SetXmlForm(
        self, request: keys_pb2.SetXmlFormRequest, context: grpc.ServicerContext
    ) -> keys_pb2.AgencyAssets:
        return assets_pb(self._keys.set_xml_form(request.agency_code, request.form),
                         with_png=False)

    def SetPdfPolicy(
        self, request: keys_pb2.SetPdfPolicyRequest, context: grpc.ServicerContext
    ) -> keys_pb2.AgencyAssets:
        return assets_pb(
            self._keys.set_pdf_policy(
                request.agency_code,
                skip_personal_signature_check=request.skip_personal_signature_check,
            ),
            with_png=False,
        )

    def IssuePersonCertificate(
        self, request: keys_pb2.IssuePersonCertificateRequest, context: grpc.ServicerContext
    ) -> keys_pb2.IssuePersonCertificateResponse:
        issued = self._keys.issue_person_certificate(
            bytes(request.csr), request.validity_days or 365)
        return keys_pb2.IssuePersonCertificateResponse(
            certificate_der=issued.der, chain_der=list(issued.chain), subject=issued.subject,
            serial_hex=issued.serial_hex, not_after_unix=_unix(issued.not_after))


KEY_SERVICE = str(keys_pb2.DESCRIPTOR.services_by_name["KeyService"].full_name)


def register(server: grpc.Server, ctx: Context) -> tuple[str, ...]:
    """Serve KeyService on ``server`` with the node's key store, registry, key policy and
    development CA; trust anchors are ``[keys] trust_anchor_files`` plus the development CA.
    Returns the service's full name (for health and reflection)."""
    admin, settings = ctx.admin, ctx.settings
    anchors: list[bytes] = []
    for path in settings.keys.trust_anchor_files:
        anchors += load_certificates(path.read_bytes(), f"trust anchor file {path}")
    if admin.devca is not None:
        anchors.append(admin.devca.certificate())
    lifecycle = KeyLifecycle(
        admin.keystore, admin.registry, admin.policy, devca=admin.devca, trust_anchors=anchors
    )
    add: Any = keys_pb2_grpc.add_KeyServiceServicer_to_server  # generated code is untyped
    add(KeyServicer(lifecycle), server)
    return (KEY_SERVICE,)
