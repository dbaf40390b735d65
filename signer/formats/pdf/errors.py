"""Why a PDF cannot be signed as asked: each kind is also the ``signer.errors`` class that
says so (its gRPC status is that class's), so the server's interceptor and the CLI treat
it like any other kyso error; ``PdfSignError`` marks those of PDF signing."""

from __future__ import annotations

from signer.errors import InvalidRequest, KysoError, LimitExceeded, NotUsable


class PdfSignError(KysoError):
    """A PDF that cannot be signed as asked. Each subclass is also the ``signer.errors``
    class saying why (its ``status`` is that class's), so the server's interceptor and
    the CLI treat it like any other kyso error."""


class BadPdf(PdfSignError, InvalidRequest):
    pass


class PdfTooLarge(PdfSignError, LimitExceeded):
    pass


class PdfPreconditionFailed(PdfSignError, NotUsable):
    pass
