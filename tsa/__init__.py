"""kyso RFC 3161 time-stamp authority: a kind of signer whose key lives in the HSM.

``token`` parses requests and builds tokens (DER templates), ``core`` issues
them (clock guard, serials, durable records), ``service`` and ``http`` serve
them over gRPC (``kyso.tsa.v1``) and HTTP (``POST /tsa``).
"""
