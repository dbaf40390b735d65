"""registry.v1 ClientService: clients, tokens and grants (protobuf stops here)."""

from __future__ import annotations

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from kyso.registry.v1 import clients_pb2, clients_pb2_grpc
from registry.agencies.codes import parse_code
from registry.auth import AuthStore, ClientInfo, Role
from signer.errors import InvalidRequest, NotAuthenticated
from signer.runtime.auth import current_principal
from signer.runtime.context import Context


def client_pb(info: ClientInfo) -> clients_pb2.Client:
    return clients_pb2.Client(
        name=info.name,
        kind=info.kind,
        token_hint=info.token_hint or "",
        cert_sha256=info.cert_sha256 or "",
        created_unix=int(info.created_at.timestamp()),
        revoked_unix=int(info.revoked_at.timestamp()) if info.revoked_at else 0,
        grants=[clients_pb2.RoleGrant(role=g.role.value, scope=g.scope, subtree=g.subtree)
                for g in info.grants],
    )


def _certificate_der(blob: bytes) -> bytes | None:
    if not blob:
        return None
    try:
        if blob.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(blob).public_bytes(Encoding.DER)
        return x509.load_der_x509_certificate(blob).public_bytes(Encoding.DER)
    except ValueError:
        raise InvalidRequest("certificate is neither PEM nor DER X.509") from None


class ClientServicer(clients_pb2_grpc.ClientServiceServicer):  # type: ignore[misc]
    def __init__(self, store: AuthStore) -> None:
        self._store = store

    def CreateClient(
        self, request: clients_pb2.CreateClientRequest, context: grpc.ServicerContext
    ) -> clients_pb2.CreateClientResponse:
        # Every grant is checked before the client exists: a bad one must not leave a
        # client whose one-time token the caller never saw.
        grants = [(Role.parse(g.role), parse_code(g.scope).code if g.scope else "", g.subtree)
                  for g in request.grants]
        info, token = self._store.create_client(
            request.name, kind=request.kind or "system", with_token=not request.no_token,
            cert_der=_certificate_der(request.certificate),
        )
        for role, scope, subtree in grants:
            info = self._store.grant(info.name, role, scope, subtree)
        return clients_pb2.CreateClientResponse(client=client_pb(info), token=token or "")

    def ListClients(
        self, request: clients_pb2.ListClientsRequest, context: grpc.ServicerContext
    ) -> clients_pb2.ListClientsResponse:
        return clients_pb2.ListClientsResponse(clients=[client_pb(c) for c in self._store.list()])

    def RevokeClient(
        self, request: clients_pb2.ClientRef, context: grpc.ServicerContext
    ) -> clients_pb2.Client:
        return client_pb(self._store.revoke(request.name))

    def ReplaceToken(
        self, request: clients_pb2.ClientRef, context: grpc.ServicerContext
    ) -> clients_pb2.CreateClientResponse:
        token = self._store.new_token(request.name)
        return clients_pb2.CreateClientResponse(
            client=client_pb(self._store.get(request.name)), token=token
        )

    def GrantRole(
        self, request: clients_pb2.GrantRoleRequest, context: grpc.ServicerContext
    ) -> clients_pb2.Client:
        g = request.grant
        return client_pb(self._store.grant(request.name, Role.parse(g.role), g.scope, g.subtree))

    def RevokeRole(
        self, request: clients_pb2.GrantRoleRequest, context: grpc.ServicerContext
    ) -> clients_pb2.Client:
        g = request.grant
        return client_pb(self._store.ungrant(request.name, Role.parse(g.role), g.scope))

    def WhoAmI(
        self, request: clients_pb2.WhoAmIRequest, context: grpc.ServicerContext
    ) -> clients_pb2.Client:
        principal = current_principal.get()
        if principal is None:
            raise NotAuthenticated("not authenticated")
        return client_pb(self._store.get(principal.name))


SERVICE = str(clients_pb2.DESCRIPTOR.services_by_name["ClientService"].full_name)


def register(server: grpc.Server, ctx: Context) -> tuple[str, ...]:
    """Serve ClientService on ``server``; returns its full name (health, reflection)."""
    clients_pb2_grpc.add_ClientServiceServicer_to_server(ClientServicer(ctx.auth), server)
    return (SERVICE,)
