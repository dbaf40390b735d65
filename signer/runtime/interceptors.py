"""The one place where kyso errors become gRPC statuses.

Servicers raise ``signer.errors.KysoError`` subclasses; this interceptor turns
them into the status named on the class with the error's message. Anything
else is a bug: it is logged with a traceback and the client gets INTERNAL with
an incident id to quote, never the exception text.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from signer.errors import KysoError
from signer.runtime.observe import RPC_DURATION, RPC_REQUESTS, new_request_id, request_id

log = logging.getLogger(__name__)


def _begin(context: grpc.ServicerContext,
           node_id: str) -> tuple[contextvars.Token[str], float]:
    """Give the call its request id (the caller's ``x-request-id`` if sensible) and tell
    the caller which node answered (``x-kyso-node``: with several nodes or workers behind
    one address, an error report names the node whose log has the details)."""
    offered = next((v for k, v in context.invocation_metadata() if k == "x-request-id"), None)
    rid = new_request_id(offered if isinstance(offered, str) else None)
    trailing = (("x-request-id", rid), ("x-kyso-node", node_id)) if node_id else (
        ("x-request-id", rid),)
    context.set_trailing_metadata(trailing)
    return request_id.set(rid), time.perf_counter()


# A refusal's catalogue code (``signer.catalogue``), for clients that say it in the
# reader's language: UTF-8 JSON {"code", "params", "detail"} in binary trailing metadata.
MESSAGE_KEY = "kyso-message-bin"


def _coded(context: grpc.ServicerContext, exc: KysoError, node_id: str) -> None:
    """Add ``exc``'s catalogue code to the trailing metadata ``_begin`` set."""
    if not exc.code:
        return
    body = json.dumps({"code": exc.code, "params": exc.params, "detail": exc.detail},
                      ensure_ascii=False).encode()
    trailing: tuple[tuple[str, str | bytes], ...] = (("x-request-id", request_id.get()),)
    if node_id:
        trailing += (("x-kyso-node", node_id),)
    context.set_trailing_metadata((*trailing, (MESSAGE_KEY, body)))


def _end(method: str, context: grpc.ServicerContext, started: float,
         token: contextvars.Token[str], code: grpc.StatusCode | None = None) -> None:
    status = code or context.code() or grpc.StatusCode.OK
    RPC_REQUESTS.labels(method, status.name).inc()
    RPC_DURATION.labels(method).observe(time.perf_counter() - started)
    try:
        request_id.reset(token)
    except ValueError:  # a stream's generator finished in another context
        pass


def _wrap_unary(behavior: Callable[[Any, grpc.ServicerContext], Any], method: str,
                node_id: str) -> Any:
    def handler(request: Any, context: grpc.ServicerContext) -> Any:
        token, started = _begin(context, node_id)
        code: grpc.StatusCode | None = None
        try:
            return behavior(request, context)
        except KysoError as exc:
            code = grpc.StatusCode[exc.status]
            if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
                log.warning("%s failed: %s", method, exc.message)
            else:
                log.info("%s refused (%s): %s", method, code.name, exc.message)
            _coded(context, exc, node_id)
            context.abort(code, exc.message)
        except Exception:
            if context.code() is not None:  # context.abort() already chose a status
                raise
            code = grpc.StatusCode.INTERNAL
            incident = uuid.uuid4().hex[:12]
            log.exception("%s: unexpected error (incident %s)", method, incident)
            context.abort(
                grpc.StatusCode.INTERNAL,
                f"internal error (incident {incident}); the server log has the details",
            )
        finally:
            _end(method, context, started, token, code)

    return handler


# --- pdf: stream-stream methods (PdfService.SignPdf) ------------------------------------
def _abort(context: grpc.ServicerContext, method: str, exc: Exception) -> None:
    """The same mapping as ``_wrap_unary``, for a stream."""
    if isinstance(exc, KysoError):
        code = grpc.StatusCode[exc.status]
        if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE):
            log.warning("%s failed: %s", method, exc.message)
        else:
            log.info("%s refused (%s): %s", method, code.name, exc.message)
        context.abort(code, exc.message)
    incident = uuid.uuid4().hex[:12]
    log.error("%s: unexpected error (incident %s)", method, incident, exc_info=exc)
    context.abort(
        grpc.StatusCode.INTERNAL,
        f"internal error (incident {incident}); the server log has the details",
    )


def _wrap_stream(
    behavior: Callable[[Iterator[Any], grpc.ServicerContext], Iterator[Any]], method: str,
    node_id: str,
) -> Any:
    def handler(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
        token, started = _begin(context, node_id)
        code: grpc.StatusCode | None = None
        try:
            yield from behavior(requests, context)
        except Exception as exc:
            if not isinstance(exc, KysoError) and context.code() is not None:
                raise  # context.abort() already chose a status
            code = (grpc.StatusCode[exc.status] if isinstance(exc, KysoError)
                    else grpc.StatusCode.INTERNAL)
            _abort(context, method, exc)
        finally:
            _end(method, context, started, token, code)

    return handler
# --- end pdf ------------------------------------------------------------------------------


class ErrorMappingInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, node_id: str = "") -> None:
        self._node_id = node_id

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is not None and handler.stream_stream is not None:  # SignPdf
            return grpc.stream_stream_rpc_method_handler(
                _wrap_stream(handler.stream_stream, method, self._node_id),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler is None or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            _wrap_unary(handler.unary_unary, method, self._node_id),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
