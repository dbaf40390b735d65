"""registry.v1 RegistryService: converts messages to domain objects and back
(authentication and authorisation happen before, in ``signer.runtime.auth``)."""

from __future__ import annotations

import grpc

from kyso.common.v1 import common_pb2
from kyso.registry.v1 import registry_pb2, registry_pb2_grpc
from registry.admin import RegistryAdmin
from registry.agencies.codes import CodeFormat
from registry.db.store import Agency, KeyRecord, KeyState
from signer.errors import InvalidRequest, NotUsable
from signer.keys.types import KeyAlgorithm
from signer.runtime.context import Context
from signer.wire import KEYALG_FROM_PB, KEYALG_TO_PB, SCHEME_TO_PB, cert_pb, scheme_from_pb

STATE_TO_PB = {
    KeyState.PENDING: registry_pb2.KEY_STATE_PENDING,
    KeyState.ACTIVE: registry_pb2.KEY_STATE_ACTIVE,
    KeyState.RETIRED: registry_pb2.KEY_STATE_RETIRED,
    KeyState.COMPROMISED: registry_pb2.KEY_STATE_COMPROMISED,
}
FORMAT_TO_PB = {
    CodeFormat.QCVN_102_2016.value: registry_pb2.CODE_FORMAT_QCVN_102_2016,
    CodeFormat.DECISION_20_2020.value: registry_pb2.CODE_FORMAT_DECISION_20_2020,
}


def key_pb(key: KeyRecord) -> registry_pb2.Key:
    msg = registry_pb2.Key(
        key_id=key.key_id.hex(),
        label=key.label,
        algorithm=KEYALG_TO_PB[key.algorithm],
        scheme=SCHEME_TO_PB[key.scheme],
        state=STATE_TO_PB[key.state],
        public_key_der=key.public_key_der,
        agency_code=key.agency_code or "",
    )
    if key.certificate is not None:
        msg.certificate.CopyFrom(cert_pb(key.certificate.der))
    return msg


def agency_pb(agency: Agency) -> registry_pb2.Agency:
    return registry_pb2.Agency(
        code=agency.code,
        name=agency.name,
        format=FORMAT_TO_PB[agency.format],
        level=agency.level,
        parent_code=agency.parent_code or "",
        keys=[key_pb(k) for k in agency.keys],
    )


class RegistryServicer(registry_pb2_grpc.RegistryServiceServicer):  # type: ignore[misc]
    def __init__(self, admin: RegistryAdmin) -> None:
        self._admin = admin

    def CreateAgency(
        self, request: registry_pb2.CreateAgencyRequest, context: grpc.ServicerContext
    ) -> registry_pb2.Agency:
        return agency_pb(self._admin.create_agency(request.code, request.name))

    def GetAgency(
        self, request: registry_pb2.GetAgencyRequest, context: grpc.ServicerContext
    ) -> registry_pb2.Agency:
        return agency_pb(self._admin.registry.get_agency(request.code))

    def ListAgencies(
        self, request: registry_pb2.ListAgenciesRequest, context: grpc.ServicerContext
    ) -> registry_pb2.ListAgenciesResponse:
        return registry_pb2.ListAgenciesResponse(
            agencies=[agency_pb(a) for a in self._admin.registry.list_agencies()]
        )

    def GenerateKey(
        self, request: registry_pb2.GenerateKeyRequest, context: grpc.ServicerContext
    ) -> registry_pb2.Key:
        if request.algorithm == common_pb2.KEY_ALGORITHM_UNSPECIFIED:
            algorithm = KeyAlgorithm.RSA2048
        elif request.algorithm in KEYALG_FROM_PB:
            algorithm = KEYALG_FROM_PB[request.algorithm]
        else:
            raise InvalidRequest(f"unknown key algorithm {request.algorithm}")
        key = self._admin.generate_key(
            request.agency_code, algorithm, scheme_from_pb(request.scheme)
        )
        return key_pb(key)

    def IssueDevCertificate(
        self, request: registry_pb2.IssueDevCertificateRequest, context: grpc.ServicerContext
    ) -> registry_pb2.Key:
        key_id = None
        if request.key_id:
            try:
                key_id = bytes.fromhex(request.key_id)
            except ValueError:
                raise InvalidRequest(f"key_id {request.key_id!r} is not hex") from None
        days = request.validity_days or 365
        if days < 1:
            raise InvalidRequest("validity_days must be positive")
        return key_pb(self._admin.issue_dev_certificate(request.agency_code, key_id, days))

    def GetCaCertificate(
        self, request: registry_pb2.GetCaCertificateRequest, context: grpc.ServicerContext
    ) -> common_pb2.Certificate:
        if self._admin.devca is None:  # a state of the server, as for issuing: not the request
            raise NotUsable("the development CA is disabled on this server: trust the CA that "
                            "issued the agencies' certificates instead ([verify] "
                            "trust_anchor_files)")
        return cert_pb(self._admin.devca.certificate())


SERVICE = str(registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name)


def register(server: grpc.Server, ctx: Context) -> tuple[str, ...]:
    """Serve RegistryService on ``server``; returns its full name (health, reflection)."""
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(ctx.admin), server)
    return (SERVICE,)
