"""kyso's signing side, and the core it shares with clients.

Shared with clients (no HSM, database or gRPC server): ``errors`` (the one exception
tree), ``digest``, ``catalogue`` (messages in Vietnamese and English), ``keys.types``
and ``formats`` (every signature and token format). Server only: ``keys.store`` (the
PKCS#11 backend), ``core`` (signing), ``verify``, the gRPC servicers, ``wire`` (protobuf
mapping) and ``runtime`` (the composition root ``runtime.host``, auth, process).
See docs/architecture.md.
"""
