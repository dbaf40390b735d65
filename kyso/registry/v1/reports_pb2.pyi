from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MonthlyReportRequest(_message.Message):
    __slots__ = ("month", "agency_code")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    month: str
    agency_code: str
    def __init__(self, month: _Optional[str] = ..., agency_code: _Optional[str] = ...) -> None: ...

class ReportRow(_message.Message):
    __slots__ = ("agency_code", "agency_name", "document_type", "signatures", "timestamped")
    AGENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    AGENCY_NAME_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPED_FIELD_NUMBER: _ClassVar[int]
    agency_code: str
    agency_name: str
    document_type: str
    signatures: int
    timestamped: int
    def __init__(self, agency_code: _Optional[str] = ..., agency_name: _Optional[str] = ..., document_type: _Optional[str] = ..., signatures: _Optional[int] = ..., timestamped: _Optional[int] = ...) -> None: ...

class MonthlyReportResponse(_message.Message):
    __slots__ = ("month", "rows", "signatures", "timestamps", "load_test_signatures")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    LOAD_TEST_SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    month: str
    rows: _containers.RepeatedCompositeFieldContainer[ReportRow]
    signatures: int
    timestamps: int
    load_test_signatures: int
    def __init__(self, month: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[ReportRow, _Mapping]]] = ..., signatures: _Optional[int] = ..., timestamps: _Optional[int] = ..., load_test_signatures: _Optional[int] = ...) -> None: ...
