"""The one exception tree of kyso, each class carrying the gRPC status it maps to.

::

    KysoError                      INTERNAL
    ├── InvalidRequest             INVALID_ARGUMENT     bad input: fix the request
    ├── NotFound                   NOT_FOUND            unknown agency, key, certificate
    ├── AlreadyExists              ALREADY_EXISTS       agency code or key label taken
    ├── NotAuthenticated           UNAUTHENTICATED      no or unknown credentials
    ├── NotPermitted               PERMISSION_DENIED    not allowed for this agency
    ├── NotUsable                  FAILED_PRECONDITION  key / certificate / agency not usable now
    │   └── AuditLogDamaged        this node's audit chain cannot be vouched for: it stops
    ├── LimitExceeded              RESOURCE_EXHAUSTED   size and rate limits
    ├── Unavailable                UNAVAILABLE          retry later
    │   ├── HsmUnavailable         the PKCS#11 token is away or recovering
    │   └── StoreUnavailable       the database is away
    └── ConfigError                (start-up only)      configuration is invalid

    RemoteError                    an error a kyso server reported to a client
                                   (``clients.client.KysoClientError``); not a KysoError,
                                   its ``code`` is the gRPC status name

Modules shared by client and server (``signer.formats``) recognise both by class:
``isinstance(exc, (KysoError, RemoteError))``, never by name.

Messages are written for the person who has to act on them. They never carry
PKCS#11 return codes, SQL or secrets: those are logged where the foreign error
is translated (``signer.keys.store`` for PKCS#11, ``registry.db.store`` for SQL),
and the translated error is raised ``from`` the original.

This module imports nothing outside the standard library, so that clients and
tools can share it.
"""

from __future__ import annotations

from collections.abc import Mapping


class KysoError(Exception):
    """Base of all kyso errors. ``status`` names a ``grpc.StatusCode`` member.

    ``code`` and ``params``, when set, name the message in ``signer.catalogue`` (so that a
    client can say it in the reader's language; ``message`` stays the English text) and
    ``detail`` is the underlying library's own words."""

    status = "INTERNAL"

    def __init__(self, message: str, *, code: str = "",
                 params: Mapping[str, str] | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.params = dict(params or {})
        self.detail = detail


class InvalidRequest(KysoError):
    status = "INVALID_ARGUMENT"


class NotFound(KysoError):
    status = "NOT_FOUND"


class AlreadyExists(KysoError):
    status = "ALREADY_EXISTS"


class NotAuthenticated(KysoError):
    status = "UNAUTHENTICATED"


class NotPermitted(KysoError):
    status = "PERMISSION_DENIED"


class NotUsable(KysoError):
    status = "FAILED_PRECONDITION"


class AuditLogDamaged(NotUsable):
    """This node's audit chain does not connect to its last signed checkpoint (or someone
    else writes it): the node signs, timestamps and administers nothing until an
    administrator has looked (``kyso admin audit verify``)."""


class LimitExceeded(KysoError):
    status = "RESOURCE_EXHAUSTED"


class Unavailable(KysoError):
    status = "UNAVAILABLE"


class HsmUnavailable(Unavailable):
    pass


class StoreUnavailable(Unavailable):
    pass


class ConfigError(KysoError):
    """Configuration is invalid; raised at start-up, before serving."""


class RemoteError(Exception):
    """An error a kyso server reported (the client library's ``KysoClientError``).

    A marker, not a ``KysoError``: a client's error has ``code`` = the gRPC status name
    and ``message_code`` = the catalogue code, where a ``KysoError`` has ``status`` and
    ``code`` = the catalogue code. Shared code that runs on both sides (the PAdES signer
    calling back into a transport) finds the errors of either by class."""
