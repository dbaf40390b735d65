"""Authentication and authorisation of every RPC, in one interceptor.

Every method has an entry in ``POLICY``; a method without one is refused
(deny by default), and ``tests/signer/runtime/test_auth_policy.py`` fails when a service
gains a method the policy does not name. Health checking and reflection are
public, as their standards expect.

A caller authenticates with ``authorization: Bearer <token>`` metadata or an
mTLS client certificate. Who a credential belongs to is cached for
``cache_ttl_s`` (2 s): a revocation or a new grant reaches every node within
that bound. A refusal is logged and passed to ``on_denied`` (the audit log).
"""

from __future__ import annotations

import contextvars
import hashlib
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from registry.audit import current_actor
from registry.auth import AuthStore, Principal, Role
from signer.errors import InvalidRequest, NotAuthenticated, NotPermitted

log = logging.getLogger(__name__)

current_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "kyso_principal", default=None
)

ALL_ROLES = tuple(Role)
Scope = Callable[[Any], str | None]


@dataclass(frozen=True)
class Rule:
    """Who may call a method: one of ``roles``, on the agency ``scope(request)`` names.

    ``scope=None`` with ``any_scope``: the role on any agency will do;
    ``scope=None`` without it: the grant must cover every agency (empty scope).
    """

    roles: tuple[Role, ...]
    verb: str
    scope: Scope | None = None
    any_scope: bool = False
    public: bool = False
    optional_scope: bool = False  # an empty agency means "all agencies" (needs a global grant)
    scopes: Callable[[Any], list[str]] | None = None  # several agencies: each must be covered
    audit: bool = False  # an admin action: its changes commit with their audit record


def _agency(request: Any) -> str | None:
    return str(request.agency_code)


def _pdf_agency(request: Any) -> str | None:  # SignPdfRequest: the options message
    return str(request.options.agency_code)


def _code(request: Any) -> str | None:
    return str(request.code)


def _reissued(request: Any) -> list[str]:
    return (
        [c for r in request.reissue for c in (r.old_code, r.new_code)]
        if hasattr(request, "reissue")
        else []
    )


def _move(request: Any) -> list[str]:
    return [request.code, request.new_code]


def _merge(request: Any) -> list[str]:
    return [*request.codes, request.into, *_reissued(request)]


def _split(request: Any) -> list[str]:
    return [request.code, *(p.code for p in request.parts), *_reissued(request)]


def _close(request: Any) -> list[str]:
    return [request.code, request.successor_code, *_reissued(request)]


def _one(request: Any) -> list[str]:
    return [request.code, *_reissued(request)]


def audit_action(method: str) -> str:
    """The audit log's name for an administrative RPC: the service's noun, a dot, the
    method in snake case without a repeated noun — ``/kyso.registry.v1.KeyService/
    RotateKey`` is ``key.rotate``, ``…/MarkCompromised`` is ``key.mark_compromised``: one
    style with the actions named in code (``sign``, ``timestamp``, ``key.generate``)."""
    service, _, name = method.rpartition("/")
    noun = service.rsplit(".", 1)[-1].removesuffix("Service").lower()
    words = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{noun}.{words.removesuffix('_' + noun).removesuffix('_' + plural)}"


def legacy_audit_action(method: str) -> str:
    """The name records of this RPC carried before ``audit_action`` (``key.RotateKey``)."""
    service, _, name = method.rpartition("/")
    return f"{service.rsplit('.', 1)[-1].removesuffix('Service').lower()}.{name}"


# `SignDigestsRequest.load_test` keeps the signatures out of the official monthly rows:
# besides the signer role, it takes key-admin on the agency (an operator running
# `kyso bench`), so that a document system cannot hide its documents from the statistics.
LOAD_TEST = Rule((Role.KEY_ADMIN,), "mark signatures as a load test (kept out of the "
                 "monthly statistics)", _agency)

PUBLIC = Rule((), "check health", public=True)
READ = Rule(ALL_ROLES, "read the registry", any_scope=True)

POLICY: dict[str, Rule] = {
    "/kyso.signer.v1.SignerService/SignDigests": Rule((Role.SIGNER,), "sign", _agency),
    "/kyso.signer.v1.SignerService/GetLimits": Rule(ALL_ROLES, "read the node's limits",
                                                    any_scope=True),
    "/kyso.signer.v1.SignerService/GetSigningCertificate": Rule(
        (Role.SIGNER, Role.KEY_ADMIN, Role.AUDITOR), "read the signing certificate", _agency
    ),
    "/kyso.tsa.v1.TimestampService/Timestamp": Rule(
        (Role.SIGNER,), "request timestamps", any_scope=True
    ),
    "/kyso.registry.v1.RegistryService/CreateAgency": Rule(
        (Role.REGISTRY_ADMIN,), "create agencies", _code
    ),
    "/kyso.registry.v1.RegistryService/GetAgency": READ,
    "/kyso.registry.v1.RegistryService/ListAgencies": READ,
    "/kyso.registry.v1.RegistryService/GenerateKey": Rule(
        (Role.KEY_ADMIN,), "generate keys", _agency
    ),
    "/kyso.registry.v1.RegistryService/IssueDevCertificate": Rule(
        (Role.KEY_ADMIN,), "issue certificates", _agency
    ),
    "/kyso.registry.v1.RegistryService/GetCaCertificate": READ,
    "/kyso.registry.v1.ClientService/CreateClient": Rule(
        (Role.KEY_ADMIN,), "manage clients", audit=True
    ),
    "/kyso.registry.v1.ClientService/ListClients": Rule(
        (Role.KEY_ADMIN, Role.AUDITOR), "list clients"
    ),
    "/kyso.registry.v1.ClientService/RevokeClient": Rule(
        (Role.KEY_ADMIN,), "manage clients", audit=True
    ),
    "/kyso.registry.v1.ClientService/ReplaceToken": Rule(
        (Role.KEY_ADMIN,), "manage clients", audit=True
    ),
    "/kyso.registry.v1.ClientService/GrantRole": Rule(
        (Role.KEY_ADMIN,), "manage clients", audit=True
    ),
    "/kyso.registry.v1.ClientService/RevokeRole": Rule(
        (Role.KEY_ADMIN,), "manage clients", audit=True
    ),
    "/kyso.registry.v1.ClientService/WhoAmI": Rule(ALL_ROLES, "ask who it is", any_scope=True),
    # Agency codes: a registry-admin changes the codes its grant covers (e.g. one
    # province's subtree); every code a change touches must be covered.
    "/kyso.registry.v1.AgencyService/RenameAgency": Rule(
        (Role.REGISTRY_ADMIN,), "rename agencies", scopes=_one, audit=True
    ),
    "/kyso.registry.v1.AgencyService/MoveAgency": Rule(
        (Role.REGISTRY_ADMIN,), "move agencies", scopes=_move, audit=True
    ),
    "/kyso.registry.v1.AgencyService/MergeAgencies": Rule(
        (Role.REGISTRY_ADMIN,), "merge agencies", scopes=_merge, audit=True
    ),
    "/kyso.registry.v1.AgencyService/SplitAgency": Rule(
        (Role.REGISTRY_ADMIN,), "split agencies", scopes=_split, audit=True
    ),
    "/kyso.registry.v1.AgencyService/CloseAgency": Rule(
        (Role.REGISTRY_ADMIN,), "close agencies", scopes=_close, audit=True
    ),
    # A bulk import may touch any code: it needs registry-admin on every agency.
    "/kyso.registry.v1.AgencyService/ImportAgencies": Rule(
        (Role.REGISTRY_ADMIN,), "import the agency list", audit=True
    ),
    "/kyso.registry.v1.AgencyService/GetAgencyHistory": READ,
    "/kyso.registry.v1.AgencyService/ListChildren": READ,
    "/kyso.registry.v1.AgencyService/ListSubtree": READ,
    "/kyso.registry.v1.AgencyService/ExportAgencies": READ,
    # Keys and certificates: key-admin on the agency; requests naming only a key id
    # need key-admin on every agency.
    "/kyso.registry.v1.KeyService/CreateCsr": Rule(
        (Role.KEY_ADMIN,), "make CSRs", _agency, audit=True
    ),
    "/kyso.registry.v1.KeyService/ImportCertificate": Rule(
        (Role.KEY_ADMIN,), "import certificates", _agency, optional_scope=True, audit=True
    ),
    "/kyso.registry.v1.KeyService/ActivateKey": Rule(
        (Role.KEY_ADMIN,), "activate keys", _agency, optional_scope=True, audit=True
    ),
    # the TSA's key (tsa = true, no agency): key-admin on every agency
    "/kyso.registry.v1.KeyService/RotateKey": Rule(
        (Role.KEY_ADMIN,), "rotate keys", _agency, optional_scope=True, audit=True
    ),
    "/kyso.registry.v1.KeyService/RetireKey": Rule(
        (Role.KEY_ADMIN,), "retire keys", _agency, optional_scope=True, audit=True
    ),
    "/kyso.registry.v1.KeyService/MarkCompromised": Rule(
        (Role.KEY_ADMIN,), "mark keys compromised", _agency, optional_scope=True, audit=True
    ),
    "/kyso.registry.v1.KeyService/ListKeys": Rule(
        (Role.KEY_ADMIN, Role.AUDITOR, Role.SIGNER), "list keys", _agency
    ),
    "/kyso.registry.v1.KeyService/SetSealImage": Rule(
        (Role.KEY_ADMIN, Role.REGISTRY_ADMIN), "set seal images", _agency, audit=True
    ),
    "/kyso.registry.v1.KeyService/GetSealImage": Rule(ALL_ROLES, "read seal images", _agency),
    "/kyso.registry.v1.KeyService/SetDefaultProfile": Rule(
        (Role.KEY_ADMIN, Role.REGISTRY_ADMIN), "set signature profiles", _agency, audit=True
    ),
    # The agency's PDF policy; server-side PDF signing (agency from the first message).
    "/kyso.registry.v1.KeyService/SetPdfPolicy": Rule(
        (Role.KEY_ADMIN, Role.REGISTRY_ADMIN), "set PDF signing policies", _agency, audit=True
    ),
    "/kyso.signer.v1.PdfService/SignPdf": Rule((Role.SIGNER,), "sign", _pdf_agency),
    "/kyso.registry.v1.KeyService/SetXmlForm": Rule(
        (Role.KEY_ADMIN, Role.REGISTRY_ADMIN), "set XML signature forms", _agency, audit=True
    ),
    # A person certificate from the development CA is trusted by every agency's seal
    # check (leader-then-seal): a key-admin on every agency, audited.
    "/kyso.registry.v1.KeyService/IssuePersonCertificate": Rule(
        (Role.KEY_ADMIN,), "issue person certificates", audit=True
    ),
    # The audit log: auditors and security admins, on every agency.
    "/kyso.registry.v1.AuditService/VerifyAuditLog": Rule(
        (Role.AUDITOR, Role.KEY_ADMIN), "verify the audit log"
    ),
    "/kyso.registry.v1.AuditService/ListAuditRecords": Rule(
        (Role.AUDITOR, Role.KEY_ADMIN), "read the audit log"
    ),
    # Checking signatures is open to every authenticated role.
    "/kyso.signer.v1.VerifyService/Verify": Rule(ALL_ROLES, "verify documents", any_scope=True),
    "/kyso.registry.v1.ReportService/MonthlyReport": Rule(
        (Role.AUDITOR, Role.REGISTRY_ADMIN, Role.KEY_ADMIN),
        "read statistics",
        _agency,
        optional_scope=True,
    ),
}


# Actions recorded outside administrative RPCs (signer.core, tsa.core, registry.admin,
# the host's refusals).
_OTHER_ACTIONS = ("sign", "timestamp", "permission.denied", "agency.create", "key.generate",
                  "certificate.issue")


def audit_actions() -> dict[str, tuple[str, ...]]:
    """Every action name the audit log uses, each with the names its records may carry
    (the current one, and the one of older releases): what ``kyso admin audit list
    --action`` accepts."""
    names: dict[str, tuple[str, ...]] = {a: (a,) for a in _OTHER_ACTIONS}
    for method, rule in POLICY.items():
        if rule.audit:
            current = audit_action(method)
            names[current] = tuple(dict.fromkeys((*names.get(current, ()), current,
                                                  legacy_audit_action(method))))
    return dict(sorted(names.items()))
PUBLIC_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")


def rule_for(method: str) -> Rule | None:
    if method.startswith(PUBLIC_PREFIXES):
        return PUBLIC
    return POLICY.get(method)


def authorise(principal: Principal, rule: Rule, request: Any, method: str) -> str | None:
    """Raise NotPermitted unless ``principal`` may call ``method``; return the agency checked."""
    code: str | None = None
    if rule.scope is not None:
        code = rule.scope(request) or None
        if code is None and not rule.optional_scope:
            raise InvalidRequest("the request names no agency: set agency_code")
    if rule.scopes is not None:
        codes = [c for c in rule.scopes(request) if c]
        if not codes:
            raise InvalidRequest("the request names no agency")
        try:
            uncovered = [c for c in codes if not principal.allowed(rule.roles, c)]
        except InvalidRequest:
            if any(g.role in rule.roles for g in principal.grants):
                return codes[0]  # let the servicer report the malformed code
            uncovered = codes
        if not uncovered:
            return codes[0]
        code = uncovered[0]
        ok = False
    elif rule.any_scope:
        ok = any(g.role in rule.roles for g in principal.grants)
    else:
        try:
            ok = principal.allowed(rule.roles, code)
        except InvalidRequest:
            ok = False  # a malformed code is covered by no grant; the servicer will say why
            if any(g.role in rule.roles for g in principal.grants):
                return code  # let the servicer report the malformed code
    if ok:
        return code
    need = " or ".join(r.value for r in rule.roles)
    where = f" for agency {code}" if code else (" on all agencies" if not rule.any_scope else "")
    held = "; ".join(str(g) for g in principal.grants) or "no roles"
    raise NotPermitted(
        f"client {principal.name!r} may not {rule.verb}{where}: that needs {need}"
        f"{where}, and it holds {held}. Ask a key-admin for a grant"
    )


def _targets(rule: Rule, request: Any) -> list[str]:
    if rule.scopes is not None:
        return rule.scopes(request)
    if rule.scope is not None:
        return [rule.scope(request) or ""]
    return []


def request_summary(request: Any) -> dict[str, Any]:
    """The request for the audit log: bytes fields (documents, images, certificates)
    become their length and SHA-256; tokens are never in requests."""
    from google.protobuf.json_format import MessageToDict

    out: dict[str, Any] = {}
    for field, value in request.ListFields():
        if field.type == field.TYPE_BYTES:
            blobs = list(value) if field.is_repeated else [value]
            out[field.name] = [
                {"bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()} for b in blobs
            ]
        elif field.message_type is not None:
            if field.is_repeated and not field.message_type.GetOptions().map_entry:
                out[field.name] = [
                    MessageToDict(v, preserving_proto_field_name=True) for v in value
                ]
            elif field.is_repeated:
                out[field.name] = dict(value)
            else:
                out[field.name] = MessageToDict(value, preserving_proto_field_name=True)
        else:
            out[field.name] = list(value) if field.is_repeated else value
    return out


def _bearer(headers: list[Any]) -> str | None:
    """The token of the one ``authorization: Bearer <token>`` header, None without one; a
    header that is there but not that (another scheme, no token, several headers) is
    refused as such, not taken for "no credentials". Its value is never echoed."""
    if not headers:
        return None
    if len(headers) > 1:
        raise NotAuthenticated(f"{len(headers)} authorization headers: send exactly one, "
                               "`authorization: Bearer <token>`")
    value = headers[0]
    if not isinstance(value, str):
        raise NotAuthenticated("the authorization header is not text: send "
                               "`authorization: Bearer <token>`")
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        what = (f"uses the {scheme} scheme" if rest and scheme.isalpha() and len(scheme) <= 20
                else "is not of the form `Bearer <token>`")
        raise NotAuthenticated(f"the authorization header {what}: kyso takes "
                               "`authorization: Bearer <token>` (or a client certificate)")
    if not rest.strip() or len(rest.split()) != 1:
        raise NotAuthenticated("the authorization header names no bearer token: send "
                               "`authorization: Bearer <token>`, the token in one piece")
    return rest.strip()


class AuthInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    def __init__(
        self,
        store: AuthStore,
        *,
        cache_ttl_s: float = 2.0,
        on_denied: Callable[[Principal | None, str, str, str], None] | None = None,
        admin_action: Callable[[Principal, str, str, dict[str, Any]],
                               AbstractContextManager[Any]] | None = None,
    ) -> None:
        self._store = store
        self._ttl = cache_ttl_s
        self._on_denied = on_denied
        # An administrative RPC runs inside this scope: its changes commit with their
        # audit record (registry.audit.actions).
        self._admin_action = admin_action
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        method = details.method
        rule = rule_for(method)
        if handler is None or (rule is not None and rule.public):
            return handler
        if rule is not None and handler.stream_stream is not None:  # PdfService.SignPdf
            return self._guard_stream(handler, rule, method)
        if rule is None or handler.unary_unary is None:
            log.error("refusing %s: it has no entry in the authorisation policy", method)
            return _refuse(handler, NotPermitted(f"{method} is not open to clients"))
        behavior = handler.unary_unary

        def guarded(request: Any, context: grpc.ServicerContext) -> Any:
            principal = self._authenticate(context)
            self._authorise(principal, rule, request, method)
            with _acting_as(principal):
                if not (rule.audit and self._admin_action is not None):
                    return behavior(request, context)
                target = ",".join(dict.fromkeys(c for c in _targets(rule, request) if c))
                with self._admin_action(principal, method, target, request_summary(request)):
                    return behavior(request, context)

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _guard_stream(
        self, handler: grpc.RpcMethodHandler, rule: Rule, method: str
    ) -> grpc.RpcMethodHandler:
        """Authenticate from the metadata before reading anything, then authorise on the
        FIRST request message (it names the agency), then hand the whole stream, that
        message included, to the servicer. Admin-action auditing is not offered for
        streams (no streaming rule asks for it)."""
        behavior = handler.stream_stream

        def guarded(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
            principal = self._authenticate(context)
            first = next(requests, None)
            if first is None:
                raise InvalidRequest("the stream carried no request message")
            self._authorise(principal, rule, first, method)
            with _acting_as(principal):
                yield from behavior(itertools.chain((first,), requests), context)

        return grpc.stream_stream_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _authorise(self, principal: Principal, rule: Rule, request: Any, method: str) -> None:
        """``authorise``; a refusal is logged and reported (the audit log records it)."""
        try:
            authorise(principal, rule, request, method)
        except NotPermitted as exc:
            target = (rule.scope(request) or "") if rule.scope is not None else ""
            log.warning("denied %s to %s: %s", method, principal.name, exc.message)
            if self._on_denied is not None:
                self._on_denied(principal, method, target, exc.message)
            raise

    def _authenticate(self, context: grpc.ServicerContext) -> Principal:
        headers = [v for k, v in context.invocation_metadata() or () if k == "authorization"]
        token = _bearer(headers)
        if token is not None:
            principal = self._cached(
                "t:" + hashlib.sha256(token.encode()).hexdigest(),
                lambda: self._store.by_token(token),
            )
            if principal is None:
                raise NotAuthenticated(
                    "the bearer token is unknown or revoked: ask a key-admin for a new one"
                )
            return principal
        pems = context.auth_context().get("x509_pem_cert") or []
        if pems:
            der = x509.load_pem_x509_certificate(pems[0]).public_bytes(Encoding.DER)
            principal = self._cached(
                "c:" + hashlib.sha256(der).hexdigest(), lambda: self._store.by_certificate(der)
            )
            if principal is None:
                raise NotAuthenticated(
                    "this client certificate is not registered with kyso "
                    "or was revoked: `kyso admin client add NAME --cert`"
                )
            return principal
        raise NotAuthenticated(
            "no credentials: pass a bearer token (--token, or KYSO_TOKEN) or a client certificate"
        )

    def _cached(self, key: str, load: Callable[[], Principal | None]) -> Principal | None:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = load()
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (principal, now + self._ttl)
        return principal


def _refuse(handler: grpc.RpcMethodHandler, error: NotPermitted) -> grpc.RpcMethodHandler:
    def deny(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.PERMISSION_DENIED, error.message)

    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            deny,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            deny,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(
            deny,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return grpc.stream_stream_rpc_method_handler(
        deny,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


@contextmanager
def _acting_as(principal: Principal) -> Iterator[None]:
    """While serving a call: who is calling (``current_principal``) and who the audit
    records made meanwhile name (``current_actor``)."""
    token = current_principal.set(principal)
    actor = current_actor.set(principal.name)
    try:
        yield
    finally:
        current_actor.reset(actor)
        current_principal.reset(token)
