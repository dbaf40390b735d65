from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class HashAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HASH_ALGORITHM_UNSPECIFIED: _ClassVar[HashAlgorithm]
    HASH_ALGORITHM_SHA256: _ClassVar[HashAlgorithm]
    HASH_ALGORITHM_SHA384: _ClassVar[HashAlgorithm]
    HASH_ALGORITHM_SHA512: _ClassVar[HashAlgorithm]

class SignatureScheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNATURE_SCHEME_UNSPECIFIED: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_RSA_PKCS1V15: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_RSA_PSS: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_ECDSA: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_EDDSA: _ClassVar[SignatureScheme]

class KeyAlgorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_ALGORITHM_UNSPECIFIED: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_RSA_2048: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_RSA_3072: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_RSA_4096: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_EC_P256: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_EC_P384: _ClassVar[KeyAlgorithm]
    KEY_ALGORITHM_ED25519: _ClassVar[KeyAlgorithm]
HASH_ALGORITHM_UNSPECIFIED: HashAlgorithm
HASH_ALGORITHM_SHA256: HashAlgorithm
HASH_ALGORITHM_SHA384: HashAlgorithm
HASH_ALGORITHM_SHA512: HashAlgorithm
SIGNATURE_SCHEME_UNSPECIFIED: SignatureScheme
SIGNATURE_SCHEME_RSA_PKCS1V15: SignatureScheme
SIGNATURE_SCHEME_RSA_PSS: SignatureScheme
SIGNATURE_SCHEME_ECDSA: SignatureScheme
SIGNATURE_SCHEME_EDDSA: SignatureScheme
KEY_ALGORITHM_UNSPECIFIED: KeyAlgorithm
KEY_ALGORITHM_RSA_2048: KeyAlgorithm
KEY_ALGORITHM_RSA_3072: KeyAlgorithm
KEY_ALGORITHM_RSA_4096: KeyAlgorithm
KEY_ALGORITHM_EC_P256: KeyAlgorithm
KEY_ALGORITHM_EC_P384: KeyAlgorithm
KEY_ALGORITHM_ED25519: KeyAlgorithm

class Certificate(_message.Message):
    __slots__ = ("der", "subject", "issuer", "serial_hex", "not_before_unix", "not_after_unix")
    DER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    SERIAL_HEX_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_UNIX_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_UNIX_FIELD_NUMBER: _ClassVar[int]
    der: bytes
    subject: str
    issuer: str
    serial_hex: str
    not_before_unix: int
    not_after_unix: int
    def __init__(self, der: _Optional[bytes] = ..., subject: _Optional[str] = ..., issuer: _Optional[str] = ..., serial_hex: _Optional[str] = ..., not_before_unix: _Optional[int] = ..., not_after_unix: _Optional[int] = ...) -> None: ...
