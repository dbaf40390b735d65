from kyso.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CodeFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CODE_FORMAT_UNSPECIFIED: _ClassVar[CodeFormat]
    CODE_FORMAT_QCVN_102_2016: _ClassVar[CodeFormat]
    CODE_FORMAT_DECISION_20_2020: _ClassVar[CodeFormat]

class KeyState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_STATE_UNSPECIFIED: _ClassVar[KeyState]
    KEY_STATE_PENDING: _ClassVar[KeyState]
    KEY_STATE_ACTIVE: _ClassVar[KeyState]
    KEY_STATE_RETIRED: _ClassVar[KeyState]
    KEY_STATE_COMPROMISED: _ClassVar[KeyState]
CODE_FORMAT_UNSPECIFIED: CodeFormat
CODE_FORMAT_QCVN_102_2016: CodeFormat
CODE_FORMAT_DECISION_20_2020: CodeFormat
KEY_STATE_UNSPECIFIED: KeyState
KEY_STATE_PENDING: KeyState
KEY_STATE_ACTIVE: KeyState
KEY_STATE_RETIRED: KeyState
KEY_STATE_COMPROMISED: KeyState

class Agency(_message.Message):
    __slots__ = ("code", "name", "format", "level", "parent_code", "keys")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    PARENT_CODE_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    format: CodeFormat
    level: int
    parent_code: str
    keys: _containers.RepeatedCompositeFieldContainer[Key]
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., format: _Optional[_Union[CodeFormat, str]] = ..., level: _Optional[int] = ..., parent_code: _Optional[str] = ..., keys: _Optional[_Iterable[_Union[Key, _Mapping]]] = ...) -> None: ...

class Key(_message.Message):
    __slots__ = ("key_id", "label", "algorithm", "scheme", "state", "public_key_der", "certificate", "agency_code")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_DER_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    label: str
    algorithm: _common_pb2.KeyAlgorithm
    scheme: _common_pb2.SignatureScheme
    state: KeyState
    public_key_der: bytes
    certificate: _common_pb2.Certificate
    agency_code: str
    def __init__(self, key_id: _Optional[str] = ..., label: _Optional[str] = ..., algorithm: _Optional[_Union[_common_pb2.KeyAlgorithm, str]] = ..., scheme: _Optional[_Union[_common_pb2.SignatureScheme, str]] = ..., state: _Optional[_Union[KeyState, str]] = ..., public_key_der: _Optional[bytes] = ..., certificate: _Optional[_Union[_common_pb2.Certificate, _Mapping]] = ..., agency_code: _Optional[str] = ...) -> None: ...

class CreateAgencyRequest(_message.Message):
    __slots__ = ("code", "name")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetAgencyRequest(_message.Message):
    __slots__ = ("code",)
    CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    def __init__(self, code: _Optional[str] = ...) -> None: ...

class ListAgenciesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgenciesResponse(_message.Message):
    __slots__ = ("agencies",)
    AGENCIES_FIELD_NUMBER: _ClassVar[int]
    agencies: _containers.RepeatedCompositeFieldContainer[Agency]
    def __init__(self, agencies: _Optional[_Iterable[_Union[Agency, _Mapping]]] = ...) -> None: ...

class GenerateKeyRequest(_message.Message):
    __slots__ = ("agency_code", "algorithm", "scheme")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    algorithm: _common_pb2.KeyAlgorithm
    scheme: _common_pb2.SignatureScheme
    def __init__(self, agency_code: _Optional[str] = ..., algorithm: _Optional[_Union[_common_pb2.KeyAlgorithm, str]] = ..., scheme: _Optional[_Union[_common_pb2.SignatureScheme, str]] = ...) -> None: ...

class IssueDevCertificateRequest(_message.Message):
    __slots__ = ("agency_code", "key_id", "validity_days")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    key_id: str
    validity_days: int
    def __init__(self, agency_code: _Optional[str] = ..., key_id: _Optional[str] = ..., validity_days: _Optional[int] = ...) -> None: ...

class GetCaCertificateRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
