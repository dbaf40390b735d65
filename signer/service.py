"""signer.v1 gRPC servicer: converts messages to domain objects and back."""

from __future__ import annotations

import grpc

from kyso.common.v1 import common_pb2
from kyso.signer.v1 import signer_pb2, signer_pb2_grpc
from registry.db.store import KeyRecord
from signer.core import SignerCore, SignResult
from signer.digest import Digest
from signer.doctypes import LOAD_TEST, parse_document_type
from signer.errors import InvalidRequest
from signer.idempotency import Recorder, Replies, Row
from signer.runtime import auth
from signer.runtime.auth import authorise, current_principal
from signer.runtime.context import Context
from signer.wire import (
    HASH_FROM_PB,
    KEYALG_TO_PB,
    LEVEL_FROM_PB,
    LEVEL_TO_PB,
    OUTPUT_FROM_PB,
    SCHEME_TO_PB,
    cert_pb,
    scheme_from_pb,
)


def _digests(request: signer_pb2.SignDigestsRequest) -> list[Digest]:
    out = []
    for i, d in enumerate(request.digests):
        alg = HASH_FROM_PB.get(d.hash_algorithm)
        if alg is None:
            raise InvalidRequest(
                f"digest {i}: hash_algorithm is missing or unsupported; use SHA256, SHA384 "
                "or SHA512"
            )
        try:
            out.append(Digest(alg, d.digest))
        except InvalidRequest as exc:
            raise InvalidRequest(f"digest {i}: {exc.message}") from None
    return out


class SignerServicer(signer_pb2_grpc.SignerServiceServicer):  # type: ignore[misc]
    def __init__(self, core: SignerCore, replies: Replies | None = None,
                 max_message_bytes: int = 4 * 1024 * 1024) -> None:
        self._core = core
        self._replies = replies
        self._max_message_bytes = max_message_bytes

    def SignDigests(
        self, request: signer_pb2.SignDigestsRequest, context: grpc.ServicerContext
    ) -> signer_pb2.SignDigestsResponse:
        if self._replies is None:
            return self._sign(request, None)
        return self._replies.first_reply("SignDigests", request,
                                         lambda record: self._sign(request, record),
                                         _parse_response)

    def _sign(self, request: signer_pb2.SignDigestsRequest,
              record: Recorder | None) -> signer_pb2.SignDigestsResponse:
        output = OUTPUT_FROM_PB.get(request.format)
        if output is None:
            raise InvalidRequest(f"unknown output format {request.format}: use RAW or CMS")
        level = LEVEL_FROM_PB.get(request.level)
        if level is None:
            raise InvalidRequest(f"unknown CAdES level {request.level}: use B_B or B_T")
        if request.load_test and (principal := current_principal.get()) is not None:
            authorise(principal, auth.LOAD_TEST, request, "SignDigests with load_test")
        documents = [
            (LOAD_TEST if request.load_test else parse_document_type(d.document_type),
             d.document_number.strip()[:64])
            for d in request.digests
        ]
        built: list[signer_pb2.SignDigestsResponse] = []  # made once, recorded and returned

        def recorded(result: SignResult) -> Row:
            assert record is not None
            built.append(_response(request, result))
            return record(built[0].SerializeToString())

        result = self._core.sign_digests(
            request.agency_code, _digests(request), output, scheme_from_pb(request.scheme), level,
            documents, recorded if record is not None else None,
        )
        return built[0] if built else _response(request, result)

    def GetLimits(
        self, request: signer_pb2.GetLimitsRequest, context: grpc.ServicerContext
    ) -> signer_pb2.Limits:
        return signer_pb2.Limits(max_batch=self._core.max_batch,
                                 max_message_bytes=self._max_message_bytes)

    def GetSigningCertificate(
        self, request: signer_pb2.GetSigningCertificateRequest, context: grpc.ServicerContext
    ) -> signer_pb2.GetSigningCertificateResponse:
        key = self._core.signing_key(request.agency_code)
        return signer_pb2.GetSigningCertificateResponse(
            key_id=key.key_id.hex(),
            algorithm=KEYALG_TO_PB[key.algorithm],
            scheme=SCHEME_TO_PB[key.scheme],
            certificate=_cert(key),
            chain=_chain(key),
        )


def _cert(key: KeyRecord) -> common_pb2.Certificate:
    assert key.certificate is not None
    return cert_pb(key.certificate.der)


def _chain(key: KeyRecord) -> list[common_pb2.Certificate]:
    assert key.certificate is not None
    return [cert_pb(c) for c in key.certificate.chain]


def _response(request: signer_pb2.SignDigestsRequest,
              result: SignResult) -> signer_pb2.SignDigestsResponse:
    return signer_pb2.SignDigestsResponse(
        signatures=[
            signer_pb2.SignedDigest(
                reference=d.reference, signature=sig, level=LEVEL_TO_PB[lvl]
            )
            for d, sig, lvl in zip(
                request.digests, result.signatures, result.levels, strict=True
            )
        ],
        key_id=result.key.key_id.hex(),
        scheme=SCHEME_TO_PB[result.scheme],
        certificate=_cert(result.key),
        chain=_chain(result.key),
    )


def _parse_response(data: bytes) -> signer_pb2.SignDigestsResponse:
    response: signer_pb2.SignDigestsResponse = signer_pb2.SignDigestsResponse.FromString(data)
    return response


SERVICE = str(signer_pb2.DESCRIPTOR.services_by_name["SignerService"].full_name)


def register(server: grpc.Server, ctx: Context) -> tuple[str, ...]:
    """Serve SignerService on ``server``; returns its full name (health, reflection)."""
    signer_pb2_grpc.add_SignerServiceServicer_to_server(
        SignerServicer(ctx.core, ctx.replies, ctx.settings.server.max_message_bytes), server)
    return (SERVICE,)
