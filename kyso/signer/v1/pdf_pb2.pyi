from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PdfProfile(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PDF_PROFILE_UNSPECIFIED: _ClassVar[PdfProfile]
    PDF_PROFILE_SEAL: _ClassVar[PdfProfile]
    PDF_PROFILE_ATTACHMENT: _ClassVar[PdfProfile]
    PDF_PROFILE_COPY: _ClassVar[PdfProfile]

class PadesLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PADES_LEVEL_UNSPECIFIED: _ClassVar[PadesLevel]
    PADES_LEVEL_B_B: _ClassVar[PadesLevel]
    PADES_LEVEL_B_T: _ClassVar[PadesLevel]
    PADES_LEVEL_B_LT: _ClassVar[PadesLevel]
PDF_PROFILE_UNSPECIFIED: PdfProfile
PDF_PROFILE_SEAL: PdfProfile
PDF_PROFILE_ATTACHMENT: PdfProfile
PDF_PROFILE_COPY: PdfProfile
PADES_LEVEL_UNSPECIFIED: PadesLevel
PADES_LEVEL_B_B: PadesLevel
PADES_LEVEL_B_T: PadesLevel
PADES_LEVEL_B_LT: PadesLevel

class SignPdfOptions(_message.Message):
    __slots__ = ("agency_code", "profile", "document_number", "document_type", "level", "copy_form", "has_position", "page", "x", "y")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_NUMBER_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    COPY_FORM_FIELD_NUMBER: _ClassVar[int]
    HAS_POSITION_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    profile: PdfProfile
    document_number: str
    document_type: str
    level: PadesLevel
    copy_form: str
    has_position: bool
    page: int
    x: float
    y: float
    def __init__(self, agency_code: _Optional[str] = ..., profile: _Optional[_Union[PdfProfile, str]] = ..., document_number: _Optional[str] = ..., document_type: _Optional[str] = ..., level: _Optional[_Union[PadesLevel, str]] = ..., copy_form: _Optional[str] = ..., has_position: _Optional[bool] = ..., page: _Optional[int] = ..., x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class SignPdfRequest(_message.Message):
    __slots__ = ("options", "chunk")
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    options: SignPdfOptions
    chunk: bytes
    def __init__(self, options: _Optional[_Union[SignPdfOptions, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class SignPdfResult(_message.Message):
    __slots__ = ("level", "signing_time", "field_name", "size", "notes")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SIGNING_TIME_FIELD_NUMBER: _ClassVar[int]
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    level: str
    signing_time: str
    field_name: str
    size: int
    notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, level: _Optional[str] = ..., signing_time: _Optional[str] = ..., field_name: _Optional[str] = ..., size: _Optional[int] = ..., notes: _Optional[_Iterable[str]] = ...) -> None: ...

class SignPdfResponse(_message.Message):
    __slots__ = ("result", "chunk")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    result: SignPdfResult
    chunk: bytes
    def __init__(self, result: _Optional[_Union[SignPdfResult, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...
