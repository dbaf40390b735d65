"""tsa.v1 gRPC servicer."""

from __future__ import annotations

import grpc

from kyso.tsa.v1 import tsa_pb2, tsa_pb2_grpc
from registry.audit import current_actor
from signer.idempotency import Replies, fingerprint
from tsa.core import TsaCore


class TsaServicer(tsa_pb2_grpc.TimestampServiceServicer):  # type: ignore[misc]
    def __init__(self, core: TsaCore, replies: Replies | None = None) -> None:
        self._core = core
        self._replies = replies

    def Timestamp(
        self, request: tsa_pb2.TimestampRequest, context: grpc.ServicerContext
    ) -> tsa_pb2.TimestampResponse:
        # Refusals are TimeStampResp rejections; a database outage raises
        # StoreUnavailable, which the error interceptor turns into UNAVAILABLE.
        key = request.idempotency_key
        if not key or self._replies is None:
            return tsa_pb2.TimestampResponse(
                time_stamp_resp=self._core.respond(request.time_stamp_req))
        replies = self._replies
        replies.check_key(key)
        client, method, fp = current_actor.get(), "Timestamp", fingerprint(request)
        with replies.once(client, key):
            stored = replies.find(client, key, method, fp)
            if stored is None:  # first time: the token is recorded with its reply
                stored = self._core.respond(request.time_stamp_req, lambda der: replies.row(
                    client, key, method, fp, der))
        return tsa_pb2.TimestampResponse(time_stamp_resp=stored)
