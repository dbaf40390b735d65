"""What the composition root (``signer.runtime.host``) hands each gRPC service when it
registers it: the node's settings and the objects built once at start-up. A service
module exposes ``register(server, ctx) -> tuple[str, ...]`` (the full names of the
services it added, for health and reflection) and takes from ``ctx`` what it needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from registry.admin import RegistryAdmin
from registry.audit import AuditLog
from registry.auth import AuthStore
from registry.db.store import RegistryStore
from registry.devca import DevCa
from signer.config import Settings
from signer.core import SignerCore
from signer.idempotency import Replies
from signer.keys.store import Pkcs11KeyStore
from signer.verify.engine import Verifier
from tsa.core import TsaCore


@dataclass(frozen=True)
class Context:
    settings: Settings
    keystore: Pkcs11KeyStore
    registry: RegistryStore
    auth: AuthStore
    admin: RegistryAdmin
    devca: DevCa | None
    #: The node's audit log (None only in tests that build a node without one).
    audit: AuditLog | None
    core: SignerCore
    replies: Replies
    verifier: Verifier
    #: The node's TSA, when ``[tsa] enabled``.
    tsa: TsaCore | None
    #: DER TimeStampReq -> DER TimeStampResp for PAdES B-T/B-LT (``[cades] source``).
    pdf_timestamp: Callable[[bytes], bytes] | None
    #: The attachment/copy blocks' font file, checked at start (``host.check_pdf_font``).
    pdf_font: str
    #: Every audit action name -> the names its records may carry (``auth.audit_actions``).
    audit_actions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


__all__ = ["Context"]
