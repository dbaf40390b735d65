from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoleGrant(_message.Message):
    __slots__ = ("role", "scope", "subtree")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SUBTREE_FIELD_NUMBER: _ClassVar[int]
    role: str
    scope: str
    subtree: bool
    def __init__(self, role: _Optional[str] = ..., scope: _Optional[str] = ..., subtree: _Optional[bool] = ...) -> None: ...

class Client(_message.Message):
    __slots__ = ("name", "kind", "token_hint", "cert_sha256", "created_unix", "revoked_unix", "grants")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TOKEN_HINT_FIELD_NUMBER: _ClassVar[int]
    CERT_SHA256_FIELD_NUMBER: _ClassVar[int]
    CREATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    REVOKED_UNIX_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    token_hint: str
    cert_sha256: str
    created_unix: int
    revoked_unix: int
    grants: _containers.RepeatedCompositeFieldContainer[RoleGrant]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., token_hint: _Optional[str] = ..., cert_sha256: _Optional[str] = ..., created_unix: _Optional[int] = ..., revoked_unix: _Optional[int] = ..., grants: _Optional[_Iterable[_Union[RoleGrant, _Mapping]]] = ...) -> None: ...

class CreateClientRequest(_message.Message):
    __slots__ = ("name", "kind", "no_token", "certificate", "grants")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NO_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    no_token: bool
    certificate: bytes
    grants: _containers.RepeatedCompositeFieldContainer[RoleGrant]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., no_token: _Optional[bool] = ..., certificate: _Optional[bytes] = ..., grants: _Optional[_Iterable[_Union[RoleGrant, _Mapping]]] = ...) -> None: ...

class CreateClientResponse(_message.Message):
    __slots__ = ("client", "token")
    CLIENT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    client: Client
    token: str
    def __init__(self, client: _Optional[_Union[Client, _Mapping]] = ..., token: _Optional[str] = ...) -> None: ...

class ListClientsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListClientsResponse(_message.Message):
    __slots__ = ("clients",)
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    clients: _containers.RepeatedCompositeFieldContainer[Client]
    def __init__(self, clients: _Optional[_Iterable[_Union[Client, _Mapping]]] = ...) -> None: ...

class ClientRef(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GrantRoleRequest(_message.Message):
    __slots__ = ("name", "grant")
    NAME_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    name: str
    grant: RoleGrant
    def __init__(self, name: _Optional[str] = ..., grant: _Optional[_Union[RoleGrant, _Mapping]] = ...) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
