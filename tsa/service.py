"""tsa.v1 gRPC servicer."""

from __future__ import annotations

import grpc

from kyso.tsa.v1 import tsa_pb2, tsa_pb2_grpc
from signer.idempotency import Replies
from signer.runtime.context import Context
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
        if self._replies is None:
            return tsa_pb2.TimestampResponse(
                time_stamp_resp=self._core.respond(request.time_stamp_req))
        stored = self._replies.first_reply(
            "Timestamp", request, lambda record: self._core.respond(request.time_stamp_req, record),
            bytes)
        return tsa_pb2.TimestampResponse(time_stamp_resp=stored)


SERVICE = str(tsa_pb2.DESCRIPTOR.services_by_name["TimestampService"].full_name)


def register(server: grpc.Server, ctx: Context) -> tuple[str, ...]:
    """Serve TimestampService when the node runs a TSA; returns the names it added."""
    if ctx.tsa is None:
        return ()
    tsa_pb2_grpc.add_TimestampServiceServicer_to_server(TsaServicer(ctx.tsa, ctx.replies),
                                                        server)
    return (SERVICE,)
