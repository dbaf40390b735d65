from kyso.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DocumentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOCUMENT_KIND_AUTO: _ClassVar[DocumentKind]
    DOCUMENT_KIND_CMS: _ClassVar[DocumentKind]
    DOCUMENT_KIND_PDF: _ClassVar[DocumentKind]
    DOCUMENT_KIND_XML: _ClassVar[DocumentKind]
    DOCUMENT_KIND_TSR: _ClassVar[DocumentKind]

class Indication(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INDICATION_UNSPECIFIED: _ClassVar[Indication]
    INDICATION_PASSED: _ClassVar[Indication]
    INDICATION_FAILED: _ClassVar[Indication]
    INDICATION_INDETERMINATE: _ClassVar[Indication]
DOCUMENT_KIND_AUTO: DocumentKind
DOCUMENT_KIND_CMS: DocumentKind
DOCUMENT_KIND_PDF: DocumentKind
DOCUMENT_KIND_XML: DocumentKind
DOCUMENT_KIND_TSR: DocumentKind
INDICATION_UNSPECIFIED: Indication
INDICATION_PASSED: Indication
INDICATION_FAILED: Indication
INDICATION_INDETERMINATE: Indication

class VerifyRequest(_message.Message):
    __slots__ = ("document", "content", "content_digest", "content_hash", "kind")
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    document: bytes
    content: bytes
    content_digest: bytes
    content_hash: _common_pb2.HashAlgorithm
    kind: DocumentKind
    def __init__(self, document: _Optional[bytes] = ..., content: _Optional[bytes] = ..., content_digest: _Optional[bytes] = ..., content_hash: _Optional[_Union[_common_pb2.HashAlgorithm, str]] = ..., kind: _Optional[_Union[DocumentKind, str]] = ...) -> None: ...

class CertificateSummary(_message.Message):
    __slots__ = ("subject", "issuer", "serial_hex", "not_before_unix", "not_after_unix", "common_name", "organization", "issuer_common_name", "issuer_organization", "self_signed")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    SERIAL_HEX_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_UNIX_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_UNIX_FIELD_NUMBER: _ClassVar[int]
    COMMON_NAME_FIELD_NUMBER: _ClassVar[int]
    ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    ISSUER_COMMON_NAME_FIELD_NUMBER: _ClassVar[int]
    ISSUER_ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    SELF_SIGNED_FIELD_NUMBER: _ClassVar[int]
    subject: str
    issuer: str
    serial_hex: str
    not_before_unix: int
    not_after_unix: int
    common_name: str
    organization: str
    issuer_common_name: str
    issuer_organization: str
    self_signed: bool
    def __init__(self, subject: _Optional[str] = ..., issuer: _Optional[str] = ..., serial_hex: _Optional[str] = ..., not_before_unix: _Optional[int] = ..., not_after_unix: _Optional[int] = ..., common_name: _Optional[str] = ..., organization: _Optional[str] = ..., issuer_common_name: _Optional[str] = ..., issuer_organization: _Optional[str] = ..., self_signed: _Optional[bool] = ...) -> None: ...

class ReportMessage(_message.Message):
    __slots__ = ("code", "params", "detail", "text", "causes")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CODE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CAUSES_FIELD_NUMBER: _ClassVar[int]
    code: str
    params: _containers.ScalarMap[str, str]
    detail: str
    text: str
    causes: _containers.RepeatedCompositeFieldContainer[ReportMessage]
    def __init__(self, code: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., detail: _Optional[str] = ..., text: _Optional[str] = ..., causes: _Optional[_Iterable[_Union[ReportMessage, _Mapping]]] = ...) -> None: ...

class AgencyMatch(_message.Message):
    __slots__ = ("code", "name_on_signing_date", "signing_date", "current_name", "status", "successors", "successor_names", "matched_by")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_ON_SIGNING_DATE_FIELD_NUMBER: _ClassVar[int]
    SIGNING_DATE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SUCCESSORS_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_NAMES_FIELD_NUMBER: _ClassVar[int]
    MATCHED_BY_FIELD_NUMBER: _ClassVar[int]
    code: str
    name_on_signing_date: str
    signing_date: str
    current_name: str
    status: str
    successors: _containers.RepeatedScalarFieldContainer[str]
    successor_names: _containers.RepeatedScalarFieldContainer[str]
    matched_by: str
    def __init__(self, code: _Optional[str] = ..., name_on_signing_date: _Optional[str] = ..., signing_date: _Optional[str] = ..., current_name: _Optional[str] = ..., status: _Optional[str] = ..., successors: _Optional[_Iterable[str]] = ..., successor_names: _Optional[_Iterable[str]] = ..., matched_by: _Optional[str] = ...) -> None: ...

class TimestampReport(_message.Message):
    __slots__ = ("time_unix", "time_micros", "tsa_subject", "indication", "sub_indication", "message", "hash_algorithm", "messages", "tsa_common_name", "tsa_organization")
    TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    TIME_MICROS_FIELD_NUMBER: _ClassVar[int]
    TSA_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    INDICATION_FIELD_NUMBER: _ClassVar[int]
    SUB_INDICATION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    HASH_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    TSA_COMMON_NAME_FIELD_NUMBER: _ClassVar[int]
    TSA_ORGANIZATION_FIELD_NUMBER: _ClassVar[int]
    time_unix: int
    time_micros: int
    tsa_subject: str
    indication: Indication
    sub_indication: str
    message: str
    hash_algorithm: str
    messages: _containers.RepeatedCompositeFieldContainer[ReportMessage]
    tsa_common_name: str
    tsa_organization: str
    def __init__(self, time_unix: _Optional[int] = ..., time_micros: _Optional[int] = ..., tsa_subject: _Optional[str] = ..., indication: _Optional[_Union[Indication, str]] = ..., sub_indication: _Optional[str] = ..., message: _Optional[str] = ..., hash_algorithm: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[ReportMessage, _Mapping]]] = ..., tsa_common_name: _Optional[str] = ..., tsa_organization: _Optional[str] = ...) -> None: ...

class SignatureReport(_message.Message):
    __slots__ = ("index", "format", "indication", "sub_indication", "errors", "warnings", "signer", "chain", "intact", "signature_valid", "trusted", "trust_anchor", "revocation", "revocation_detail", "agency", "signing_time_unix", "timestamp", "digest_algorithm", "signature_algorithm", "weak_algorithms", "coverage", "coverage_detail", "modifications", "field_name", "has_signing_time", "problems", "warning_messages", "integrity", "revocation_message", "signed_revision", "total_revisions", "references", "token_serial_hex", "token_policy")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INDICATION_FIELD_NUMBER: _ClassVar[int]
    SUB_INDICATION_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    INTACT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_VALID_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_FIELD_NUMBER: _ClassVar[int]
    TRUST_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_DETAIL_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    SIGNING_TIME_UNIX_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DIGEST_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    WEAK_ALGORITHMS_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_FIELD_NUMBER: _ClassVar[int]
    COVERAGE_DETAIL_FIELD_NUMBER: _ClassVar[int]
    MODIFICATIONS_FIELD_NUMBER: _ClassVar[int]
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    HAS_SIGNING_TIME_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    WARNING_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    INTEGRITY_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SIGNED_REVISION_FIELD_NUMBER: _ClassVar[int]
    TOTAL_REVISIONS_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    TOKEN_SERIAL_HEX_FIELD_NUMBER: _ClassVar[int]
    TOKEN_POLICY_FIELD_NUMBER: _ClassVar[int]
    index: int
    format: str
    indication: Indication
    sub_indication: str
    errors: _containers.RepeatedScalarFieldContainer[str]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    signer: CertificateSummary
    chain: _containers.RepeatedCompositeFieldContainer[CertificateSummary]
    intact: bool
    signature_valid: bool
    trusted: bool
    trust_anchor: str
    revocation: str
    revocation_detail: str
    agency: AgencyMatch
    signing_time_unix: int
    timestamp: TimestampReport
    digest_algorithm: str
    signature_algorithm: str
    weak_algorithms: _containers.RepeatedScalarFieldContainer[str]
    coverage: str
    coverage_detail: str
    modifications: str
    field_name: str
    has_signing_time: bool
    problems: _containers.RepeatedCompositeFieldContainer[ReportMessage]
    warning_messages: _containers.RepeatedCompositeFieldContainer[ReportMessage]
    integrity: str
    revocation_message: ReportMessage
    signed_revision: int
    total_revisions: int
    references: _containers.RepeatedScalarFieldContainer[str]
    token_serial_hex: str
    token_policy: str
    def __init__(self, index: _Optional[int] = ..., format: _Optional[str] = ..., indication: _Optional[_Union[Indication, str]] = ..., sub_indication: _Optional[str] = ..., errors: _Optional[_Iterable[str]] = ..., warnings: _Optional[_Iterable[str]] = ..., signer: _Optional[_Union[CertificateSummary, _Mapping]] = ..., chain: _Optional[_Iterable[_Union[CertificateSummary, _Mapping]]] = ..., intact: _Optional[bool] = ..., signature_valid: _Optional[bool] = ..., trusted: _Optional[bool] = ..., trust_anchor: _Optional[str] = ..., revocation: _Optional[str] = ..., revocation_detail: _Optional[str] = ..., agency: _Optional[_Union[AgencyMatch, _Mapping]] = ..., signing_time_unix: _Optional[int] = ..., timestamp: _Optional[_Union[TimestampReport, _Mapping]] = ..., digest_algorithm: _Optional[str] = ..., signature_algorithm: _Optional[str] = ..., weak_algorithms: _Optional[_Iterable[str]] = ..., coverage: _Optional[str] = ..., coverage_detail: _Optional[str] = ..., modifications: _Optional[str] = ..., field_name: _Optional[str] = ..., has_signing_time: _Optional[bool] = ..., problems: _Optional[_Iterable[_Union[ReportMessage, _Mapping]]] = ..., warning_messages: _Optional[_Iterable[_Union[ReportMessage, _Mapping]]] = ..., integrity: _Optional[str] = ..., revocation_message: _Optional[_Union[ReportMessage, _Mapping]] = ..., signed_revision: _Optional[int] = ..., total_revisions: _Optional[int] = ..., references: _Optional[_Iterable[str]] = ..., token_serial_hex: _Optional[str] = ..., token_policy: _Optional[str] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("kind", "overall_indication", "signatures", "notes", "verified_at_unix", "trust_anchors", "note_messages")
    KIND_FIELD_NUMBER: _ClassVar[int]
    OVERALL_INDICATION_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_AT_UNIX_FIELD_NUMBER: _ClassVar[int]
    TRUST_ANCHORS_FIELD_NUMBER: _ClassVar[int]
    NOTE_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    kind: str
    overall_indication: Indication
    signatures: _containers.RepeatedCompositeFieldContainer[SignatureReport]
    notes: _containers.RepeatedScalarFieldContainer[str]
    verified_at_unix: int
    trust_anchors: _containers.RepeatedScalarFieldContainer[str]
    note_messages: _containers.RepeatedCompositeFieldContainer[ReportMessage]
    def __init__(self, kind: _Optional[str] = ..., overall_indication: _Optional[_Union[Indication, str]] = ..., signatures: _Optional[_Iterable[_Union[SignatureReport, _Mapping]]] = ..., notes: _Optional[_Iterable[str]] = ..., verified_at_unix: _Optional[int] = ..., trust_anchors: _Optional[_Iterable[str]] = ..., note_messages: _Optional[_Iterable[_Union[ReportMessage, _Mapping]]] = ...) -> None: ...
