from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgencyState(_message.Message):
    __slots__ = ("code", "name", "format", "level", "parent_code", "status", "valid_from", "valid_to", "successor_code")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    PARENT_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_TO_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    format: str
    level: int
    parent_code: str
    status: str
    valid_from: str
    valid_to: str
    successor_code: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., format: _Optional[str] = ..., level: _Optional[int] = ..., parent_code: _Optional[str] = ..., status: _Optional[str] = ..., valid_from: _Optional[str] = ..., valid_to: _Optional[str] = ..., successor_code: _Optional[str] = ...) -> None: ...

class AgencyList(_message.Message):
    __slots__ = ("agencies",)
    AGENCIES_FIELD_NUMBER: _ClassVar[int]
    agencies: _containers.RepeatedCompositeFieldContainer[AgencyState]
    def __init__(self, agencies: _Optional[_Iterable[_Union[AgencyState, _Mapping]]] = ...) -> None: ...

class AgencyEvent(_message.Message):
    __slots__ = ("code", "kind", "effective", "old_name", "new_name", "old_parent", "new_parent", "related_codes", "note", "recorded_unix")
    CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    OLD_NAME_FIELD_NUMBER: _ClassVar[int]
    NEW_NAME_FIELD_NUMBER: _ClassVar[int]
    OLD_PARENT_FIELD_NUMBER: _ClassVar[int]
    NEW_PARENT_FIELD_NUMBER: _ClassVar[int]
    RELATED_CODES_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RECORDED_UNIX_FIELD_NUMBER: _ClassVar[int]
    code: str
    kind: str
    effective: str
    old_name: str
    new_name: str
    old_parent: str
    new_parent: str
    related_codes: _containers.RepeatedScalarFieldContainer[str]
    note: str
    recorded_unix: int
    def __init__(self, code: _Optional[str] = ..., kind: _Optional[str] = ..., effective: _Optional[str] = ..., old_name: _Optional[str] = ..., new_name: _Optional[str] = ..., old_parent: _Optional[str] = ..., new_parent: _Optional[str] = ..., related_codes: _Optional[_Iterable[str]] = ..., note: _Optional[str] = ..., recorded_unix: _Optional[int] = ...) -> None: ...

class Reissue(_message.Message):
    __slots__ = ("old_code", "new_code")
    OLD_CODE_FIELD_NUMBER: _ClassVar[int]
    NEW_CODE_FIELD_NUMBER: _ClassVar[int]
    old_code: str
    new_code: str
    def __init__(self, old_code: _Optional[str] = ..., new_code: _Optional[str] = ...) -> None: ...

class RenameAgencyRequest(_message.Message):
    __slots__ = ("code", "name", "effective", "note")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    effective: str
    note: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., effective: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class MoveAgencyRequest(_message.Message):
    __slots__ = ("code", "new_code", "effective", "name", "note")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NEW_CODE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    code: str
    new_code: str
    effective: str
    name: str
    note: str
    def __init__(self, code: _Optional[str] = ..., new_code: _Optional[str] = ..., effective: _Optional[str] = ..., name: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class MergeAgenciesRequest(_message.Message):
    __slots__ = ("codes", "into", "effective", "name", "reissue", "note")
    CODES_FIELD_NUMBER: _ClassVar[int]
    INTO_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REISSUE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    codes: _containers.RepeatedScalarFieldContainer[str]
    into: str
    effective: str
    name: str
    reissue: _containers.RepeatedCompositeFieldContainer[Reissue]
    note: str
    def __init__(self, codes: _Optional[_Iterable[str]] = ..., into: _Optional[str] = ..., effective: _Optional[str] = ..., name: _Optional[str] = ..., reissue: _Optional[_Iterable[_Union[Reissue, _Mapping]]] = ..., note: _Optional[str] = ...) -> None: ...

class SplitPart(_message.Message):
    __slots__ = ("code", "name")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class SplitAgencyRequest(_message.Message):
    __slots__ = ("code", "parts", "effective", "reissue", "note")
    CODE_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    REISSUE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    code: str
    parts: _containers.RepeatedCompositeFieldContainer[SplitPart]
    effective: str
    reissue: _containers.RepeatedCompositeFieldContainer[Reissue]
    note: str
    def __init__(self, code: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[SplitPart, _Mapping]]] = ..., effective: _Optional[str] = ..., reissue: _Optional[_Iterable[_Union[Reissue, _Mapping]]] = ..., note: _Optional[str] = ...) -> None: ...

class CloseAgencyRequest(_message.Message):
    __slots__ = ("code", "effective", "successor_code", "reissue", "note")
    CODE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FIELD_NUMBER: _ClassVar[int]
    SUCCESSOR_CODE_FIELD_NUMBER: _ClassVar[int]
    REISSUE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    code: str
    effective: str
    successor_code: str
    reissue: _containers.RepeatedCompositeFieldContainer[Reissue]
    note: str
    def __init__(self, code: _Optional[str] = ..., effective: _Optional[str] = ..., successor_code: _Optional[str] = ..., reissue: _Optional[_Iterable[_Union[Reissue, _Mapping]]] = ..., note: _Optional[str] = ...) -> None: ...

class GetAgencyHistoryRequest(_message.Message):
    __slots__ = ("code", "on")
    CODE_FIELD_NUMBER: _ClassVar[int]
    ON_FIELD_NUMBER: _ClassVar[int]
    code: str
    on: str
    def __init__(self, code: _Optional[str] = ..., on: _Optional[str] = ...) -> None: ...

class AgencyHistory(_message.Message):
    __slots__ = ("agency", "on", "name_on_date", "in_force_on_date", "successors", "events")
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    ON_FIELD_NUMBER: _ClassVar[int]
    NAME_ON_DATE_FIELD_NUMBER: _ClassVar[int]
    IN_FORCE_ON_DATE_FIELD_NUMBER: _ClassVar[int]
    SUCCESSORS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    agency: AgencyState
    on: str
    name_on_date: str
    in_force_on_date: bool
    successors: _containers.RepeatedScalarFieldContainer[str]
    events: _containers.RepeatedCompositeFieldContainer[AgencyEvent]
    def __init__(self, agency: _Optional[_Union[AgencyState, _Mapping]] = ..., on: _Optional[str] = ..., name_on_date: _Optional[str] = ..., in_force_on_date: _Optional[bool] = ..., successors: _Optional[_Iterable[str]] = ..., events: _Optional[_Iterable[_Union[AgencyEvent, _Mapping]]] = ...) -> None: ...

class ListAgencyTreeRequest(_message.Message):
    __slots__ = ("code", "include_closed")
    CODE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CLOSED_FIELD_NUMBER: _ClassVar[int]
    code: str
    include_closed: bool
    def __init__(self, code: _Optional[str] = ..., include_closed: _Optional[bool] = ...) -> None: ...

class ImportAgenciesRequest(_message.Message):
    __slots__ = ("content", "format", "dry_run")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    format: str
    dry_run: bool
    def __init__(self, content: _Optional[bytes] = ..., format: _Optional[str] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class ImportProblem(_message.Message):
    __slots__ = ("line", "field", "reason")
    LINE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    line: int
    field: str
    reason: str
    def __init__(self, line: _Optional[int] = ..., field: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RenamePlan(_message.Message):
    __slots__ = ("code", "old_name", "new_name")
    CODE_FIELD_NUMBER: _ClassVar[int]
    OLD_NAME_FIELD_NUMBER: _ClassVar[int]
    NEW_NAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    old_name: str
    new_name: str
    def __init__(self, code: _Optional[str] = ..., old_name: _Optional[str] = ..., new_name: _Optional[str] = ...) -> None: ...

class ImportAgenciesResponse(_message.Message):
    __slots__ = ("create", "rename", "unchanged", "problems", "applied")
    CREATE_FIELD_NUMBER: _ClassVar[int]
    RENAME_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    create: _containers.RepeatedCompositeFieldContainer[AgencyState]
    rename: _containers.RepeatedCompositeFieldContainer[RenamePlan]
    unchanged: _containers.RepeatedScalarFieldContainer[str]
    problems: _containers.RepeatedCompositeFieldContainer[ImportProblem]
    applied: bool
    def __init__(self, create: _Optional[_Iterable[_Union[AgencyState, _Mapping]]] = ..., rename: _Optional[_Iterable[_Union[RenamePlan, _Mapping]]] = ..., unchanged: _Optional[_Iterable[str]] = ..., problems: _Optional[_Iterable[_Union[ImportProblem, _Mapping]]] = ..., applied: _Optional[bool] = ...) -> None: ...

class ExportAgenciesRequest(_message.Message):
    __slots__ = ("format", "include_closed")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CLOSED_FIELD_NUMBER: _ClassVar[int]
    format: str
    include_closed: bool
    def __init__(self, format: _Optional[str] = ..., include_closed: _Optional[bool] = ...) -> None: ...

class ExportAgenciesResponse(_message.Message):
    __slots__ = ("content", "format")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    format: str
    def __init__(self, content: _Optional[bytes] = ..., format: _Optional[str] = ...) -> None: ...
