from kyso.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OutputFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTPUT_FORMAT_UNSPECIFIED: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_RAW: _ClassVar[OutputFormat]
    OUTPUT_FORMAT_CMS: _ClassVar[OutputFormat]

class CadesLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CADES_LEVEL_UNSPECIFIED: _ClassVar[CadesLevel]
    CADES_LEVEL_B_B: _ClassVar[CadesLevel]
    CADES_LEVEL_B_T: _ClassVar[CadesLevel]
OUTPUT_FORMAT_UNSPECIFIED: OutputFormat
OUTPUT_FORMAT_RAW: OutputFormat
OUTPUT_FORMAT_CMS: OutputFormat
CADES_LEVEL_UNSPECIFIED: CadesLevel
CADES_LEVEL_B_B: CadesLevel
CADES_LEVEL_B_T: CadesLevel

class GetLimitsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_batch", "max_message_bytes")
    MAX_BATCH_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    max_batch: int
    max_message_bytes: int
    def __init__(self, max_batch: _Optional[int] = ..., max_message_bytes: _Optional[int] = ...) -> None: ...

class DigestToSign(_message.Message):
    __slots__ = ("digest", "hash_algorithm", "reference", "document_type", "document_number")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    HASH_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    digest: bytes
    hash_algorithm: _common_pb2.HashAlgorithm
    reference: str
    document_type: str
    document_number: str
    def __init__(self, digest: _Optional[bytes] = ..., hash_algorithm: _Optional[_Union[_common_pb2.HashAlgorithm, str]] = ..., reference: _Optional[str] = ..., document_type: _Optional[str] = ..., document_number: _Optional[str] = ...) -> None: ...

class SignDigestsRequest(_message.Message):
    __slots__ = ("agency_code", "digests", "format", "scheme", "level", "idempotency_key", "load_test")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    LOAD_TEST_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    digests: _containers.RepeatedCompositeFieldContainer[DigestToSign]
    format: OutputFormat
    scheme: _common_pb2.SignatureScheme
    level: CadesLevel
    idempotency_key: str
    load_test: bool
    def __init__(self, agency_code: _Optional[str] = ..., digests: _Optional[_Iterable[_Union[DigestToSign, _Mapping]]] = ..., format: _Optional[_Union[OutputFormat, str]] = ..., scheme: _Optional[_Union[_common_pb2.SignatureScheme, str]] = ..., level: _Optional[_Union[CadesLevel, str]] = ..., idempotency_key: _Optional[str] = ..., load_test: _Optional[bool] = ...) -> None: ...

class SignedDigest(_message.Message):
    __slots__ = ("reference", "signature", "level")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    reference: str
    signature: bytes
    level: CadesLevel
    def __init__(self, reference: _Optional[str] = ..., signature: _Optional[bytes] = ..., level: _Optional[_Union[CadesLevel, str]] = ...) -> None: ...

class SignDigestsResponse(_message.Message):
    __slots__ = ("signatures", "key_id", "scheme", "certificate", "chain")
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    signatures: _containers.RepeatedCompositeFieldContainer[SignedDigest]
    key_id: str
    scheme: _common_pb2.SignatureScheme
    certificate: _common_pb2.Certificate
    chain: _containers.RepeatedCompositeFieldContainer[_common_pb2.Certificate]
    def __init__(self, signatures: _Optional[_Iterable[_Union[SignedDigest, _Mapping]]] = ..., key_id: _Optional[str] = ..., scheme: _Optional[_Union[_common_pb2.SignatureScheme, str]] = ..., certificate: _Optional[_Union[_common_pb2.Certificate, _Mapping]] = ..., chain: _Optional[_Iterable[_Union[_common_pb2.Certificate, _Mapping]]] = ...) -> None: ...

class GetSigningCertificateRequest(_message.Message):
    __slots__ = ("agency_code",)
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    def __init__(self, agency_code: _Optional[str] = ...) -> None: ...

class GetSigningCertificateResponse(_message.Message):
    __slots__ = ("key_id", "algorithm", "scheme", "certificate", "chain")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    algorithm: _common_pb2.KeyAlgorithm
    scheme: _common_pb2.SignatureScheme
    certificate: _common_pb2.Certificate
    chain: _containers.RepeatedCompositeFieldContainer[_common_pb2.Certificate]
    def __init__(self, key_id: _Optional[str] = ..., algorithm: _Optional[_Union[_common_pb2.KeyAlgorithm, str]] = ..., scheme: _Optional[_Union[_common_pb2.SignatureScheme, str]] = ..., certificate: _Optional[_Union[_common_pb2.Certificate, _Mapping]] = ..., chain: _Optional[_Iterable[_Union[_common_pb2.Certificate, _Mapping]]] = ...) -> None: ...
