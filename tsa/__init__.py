"""kyso RFC 3161 time-stamp authority (issue 3).

Not implemented yet: ``kyso.tsa.v1`` is defined in ``proto/`` but no servicer is
registered, so calls to it get UNIMPLEMENTED from gRPC.
"""
