from kyso.common.v1 import common_pb2 as _common_pb2
from kyso.registry.v1 import registry_pb2 as _registry_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignatureProfile(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNATURE_PROFILE_UNSPECIFIED: _ClassVar[SignatureProfile]
    SIGNATURE_PROFILE_SEAL: _ClassVar[SignatureProfile]
    SIGNATURE_PROFILE_ATTACHMENT: _ClassVar[SignatureProfile]
    SIGNATURE_PROFILE_COPY: _ClassVar[SignatureProfile]
SIGNATURE_PROFILE_UNSPECIFIED: SignatureProfile
SIGNATURE_PROFILE_SEAL: SignatureProfile
SIGNATURE_PROFILE_ATTACHMENT: SignatureProfile
SIGNATURE_PROFILE_COPY: SignatureProfile

class KeyEntry(_message.Message):
    __slots__ = ("key", "activated_unix", "state_changed_unix", "state_reason", "compromised_unix", "chain_der")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_UNIX_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    COMPROMISED_UNIX_FIELD_NUMBER: _ClassVar[int]
    CHAIN_DER_FIELD_NUMBER: _ClassVar[int]
    key: _registry_pb2.Key
    activated_unix: int
    state_changed_unix: int
    state_reason: str
    compromised_unix: int
    chain_der: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, key: _Optional[_Union[_registry_pb2.Key, _Mapping]] = ..., activated_unix: _Optional[int] = ..., state_changed_unix: _Optional[int] = ..., state_reason: _Optional[str] = ..., compromised_unix: _Optional[int] = ..., chain_der: _Optional[_Iterable[bytes]] = ...) -> None: ...

class CreateCsrRequest(_message.Message):
    __slots__ = ("agency_code", "key_id", "subject")
    class SubjectEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    key_id: str
    subject: _containers.ScalarMap[str, str]
    def __init__(self, agency_code: _Optional[str] = ..., key_id: _Optional[str] = ..., subject: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CreateCsrResponse(_message.Message):
    __slots__ = ("key_id", "csr_der", "subject")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    CSR_DER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    csr_der: bytes
    subject: str
    def __init__(self, key_id: _Optional[str] = ..., csr_der: _Optional[bytes] = ..., subject: _Optional[str] = ...) -> None: ...

class ImportCertificateRequest(_message.Message):
    __slots__ = ("agency_code", "certificate", "chain", "no_activate", "tsa")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    NO_ACTIVATE_FIELD_NUMBER: _ClassVar[int]
    TSA_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    certificate: bytes
    chain: _containers.RepeatedScalarFieldContainer[bytes]
    no_activate: bool
    tsa: bool
    def __init__(self, agency_code: _Optional[str] = ..., certificate: _Optional[bytes] = ..., chain: _Optional[_Iterable[bytes]] = ..., no_activate: _Optional[bool] = ..., tsa: _Optional[bool] = ...) -> None: ...

class ActivateKeyRequest(_message.Message):
    __slots__ = ("key_id", "agency_code")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    agency_code: str
    def __init__(self, key_id: _Optional[str] = ..., agency_code: _Optional[str] = ...) -> None: ...

class RotateKeyRequest(_message.Message):
    __slots__ = ("agency_code", "algorithm", "scheme", "tsa")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    TSA_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    algorithm: _common_pb2.KeyAlgorithm
    scheme: _common_pb2.SignatureScheme
    tsa: bool
    def __init__(self, agency_code: _Optional[str] = ..., algorithm: _Optional[_Union[_common_pb2.KeyAlgorithm, str]] = ..., scheme: _Optional[_Union[_common_pb2.SignatureScheme, str]] = ..., tsa: _Optional[bool] = ...) -> None: ...

class RotateKeyResponse(_message.Message):
    __slots__ = ("key", "activated", "csr_der", "previous")
    KEY_FIELD_NUMBER: _ClassVar[int]
    ACTIVATED_FIELD_NUMBER: _ClassVar[int]
    CSR_DER_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    key: KeyEntry
    activated: bool
    csr_der: bytes
    previous: KeyEntry
    def __init__(self, key: _Optional[_Union[KeyEntry, _Mapping]] = ..., activated: _Optional[bool] = ..., csr_der: _Optional[bytes] = ..., previous: _Optional[_Union[KeyEntry, _Mapping]] = ...) -> None: ...

class RetireKeyRequest(_message.Message):
    __slots__ = ("key_id", "force", "agency_code")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    force: bool
    agency_code: str
    def __init__(self, key_id: _Optional[str] = ..., force: _Optional[bool] = ..., agency_code: _Optional[str] = ...) -> None: ...

class MarkCompromisedRequest(_message.Message):
    __slots__ = ("key_id", "reason", "agency_code")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    reason: str
    agency_code: str
    def __init__(self, key_id: _Optional[str] = ..., reason: _Optional[str] = ..., agency_code: _Optional[str] = ...) -> None: ...

class ListKeysRequest(_message.Message):
    __slots__ = ("agency_code",)
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    def __init__(self, agency_code: _Optional[str] = ...) -> None: ...

class ListKeysResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[KeyEntry]
    def __init__(self, keys: _Optional[_Iterable[_Union[KeyEntry, _Mapping]]] = ...) -> None: ...

class AgencyAssets(_message.Message):
    __slots__ = ("agency_code", "has_seal", "seal_png", "seal_width_mm", "seal_height_mm", "seal_width_px", "seal_height_px", "default_profile", "updated_unix", "skip_personal_signature_check", "xml_form")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    HAS_SEAL_FIELD_NUMBER: _ClassVar[int]
    SEAL_PNG_FIELD_NUMBER: _ClassVar[int]
    SEAL_WIDTH_MM_FIELD_NUMBER: _ClassVar[int]
    SEAL_HEIGHT_MM_FIELD_NUMBER: _ClassVar[int]
    SEAL_WIDTH_PX_FIELD_NUMBER: _ClassVar[int]
    SEAL_HEIGHT_PX_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PROFILE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_UNIX_FIELD_NUMBER: _ClassVar[int]
    SKIP_PERSONAL_SIGNATURE_CHECK_FIELD_NUMBER: _ClassVar[int]
    XML_FORM_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    has_seal: bool
    seal_png: bytes
    seal_width_mm: float
    seal_height_mm: float
    seal_width_px: int
    seal_height_px: int
    default_profile: SignatureProfile
    updated_unix: int
    skip_personal_signature_check: bool
    xml_form: str
    def __init__(self, agency_code: _Optional[str] = ..., has_seal: _Optional[bool] = ..., seal_png: _Optional[bytes] = ..., seal_width_mm: _Optional[float] = ..., seal_height_mm: _Optional[float] = ..., seal_width_px: _Optional[int] = ..., seal_height_px: _Optional[int] = ..., default_profile: _Optional[_Union[SignatureProfile, str]] = ..., updated_unix: _Optional[int] = ..., skip_personal_signature_check: _Optional[bool] = ..., xml_form: _Optional[str] = ...) -> None: ...

class SetXmlFormRequest(_message.Message):
    __slots__ = ("agency_code", "form")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    FORM_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    form: str
    def __init__(self, agency_code: _Optional[str] = ..., form: _Optional[str] = ...) -> None: ...

class SetSealImageRequest(_message.Message):
    __slots__ = ("agency_code", "png", "width_mm", "height_mm")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    WIDTH_MM_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_MM_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    png: bytes
    width_mm: float
    height_mm: float
    def __init__(self, agency_code: _Optional[str] = ..., png: _Optional[bytes] = ..., width_mm: _Optional[float] = ..., height_mm: _Optional[float] = ...) -> None: ...

class GetSealImageRequest(_message.Message):
    __slots__ = ("agency_code",)
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    def __init__(self, agency_code: _Optional[str] = ...) -> None: ...

class SetDefaultProfileRequest(_message.Message):
    __slots__ = ("agency_code", "profile")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    profile: SignatureProfile
    def __init__(self, agency_code: _Optional[str] = ..., profile: _Optional[_Union[SignatureProfile, str]] = ...) -> None: ...

class SetPdfPolicyRequest(_message.Message):
    __slots__ = ("agency_code", "skip_personal_signature_check")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    SKIP_PERSONAL_SIGNATURE_CHECK_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    skip_personal_signature_check: bool
    def __init__(self, agency_code: _Optional[str] = ..., skip_personal_signature_check: _Optional[bool] = ...) -> None: ...

class IssuePersonCertificateRequest(_message.Message):
    __slots__ = ("csr", "validity_days")
    CSR_FIELD_NUMBER: _ClassVar[int]
    VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    csr: bytes
    validity_days: int
    def __init__(self, csr: _Optional[bytes] = ..., validity_days: _Optional[int] = ...) -> None: ...

class IssuePersonCertificateResponse(_message.Message):
    __slots__ = ("certificate_der", "chain_der", "subject", "serial_hex", "not_after_unix")
    CERTIFICATE_DER_FIELD_NUMBER: _ClassVar[int]
    CHAIN_DER_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SERIAL_HEX_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_UNIX_FIELD_NUMBER: _ClassVar[int]
    certificate_der: bytes
    chain_der: _containers.RepeatedScalarFieldContainer[bytes]
    subject: str
    serial_hex: str
    not_after_unix: int
    def __init__(self, certificate_der: _Optional[bytes] = ..., chain_der: _Optional[_Iterable[bytes]] = ..., subject: _Optional[str] = ..., serial_hex: _Optional[str] = ..., not_after_unix: _Optional[int] = ...) -> None: ...
