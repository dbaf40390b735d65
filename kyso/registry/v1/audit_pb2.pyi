from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VerifyAuditLogRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AuditProblem(_message.Message):
    __slots__ = ("node_id", "seq", "record_id", "kind", "message")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    seq: int
    record_id: int
    kind: str
    message: str
    def __init__(self, node_id: _Optional[str] = ..., seq: _Optional[int] = ..., record_id: _Optional[int] = ..., kind: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class AuditNodeSummary(_message.Message):
    __slots__ = ("node_id", "records", "last_seq", "checkpoints_verified", "last_checkpoint_seq", "problems")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECKPOINT_SEQ_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    records: int
    last_seq: int
    checkpoints_verified: int
    last_checkpoint_seq: int
    problems: int
    def __init__(self, node_id: _Optional[str] = ..., records: _Optional[int] = ..., last_seq: _Optional[int] = ..., checkpoints_verified: _Optional[int] = ..., last_checkpoint_seq: _Optional[int] = ..., problems: _Optional[int] = ...) -> None: ...

class VerifyAuditLogResponse(_message.Message):
    __slots__ = ("ok", "records", "checkpoints_verified", "nodes", "first_problem", "problems", "problem_count", "trusted_keys", "node_damage")
    OK_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    FIRST_PROBLEM_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_KEYS_FIELD_NUMBER: _ClassVar[int]
    NODE_DAMAGE_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    records: int
    checkpoints_verified: int
    nodes: _containers.RepeatedCompositeFieldContainer[AuditNodeSummary]
    first_problem: AuditProblem
    problems: _containers.RepeatedCompositeFieldContainer[AuditProblem]
    problem_count: int
    trusted_keys: _containers.RepeatedScalarFieldContainer[str]
    node_damage: str
    def __init__(self, ok: _Optional[bool] = ..., records: _Optional[int] = ..., checkpoints_verified: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[AuditNodeSummary, _Mapping]]] = ..., first_problem: _Optional[_Union[AuditProblem, _Mapping]] = ..., problems: _Optional[_Iterable[_Union[AuditProblem, _Mapping]]] = ..., problem_count: _Optional[int] = ..., trusted_keys: _Optional[_Iterable[str]] = ..., node_damage: _Optional[str] = ...) -> None: ...

class ListAuditRecordsRequest(_message.Message):
    __slots__ = ("node_id", "after_id", "limit", "action")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    after_id: int
    limit: int
    action: str
    def __init__(self, node_id: _Optional[str] = ..., after_id: _Optional[int] = ..., limit: _Optional[int] = ..., action: _Optional[str] = ...) -> None: ...

class AuditRecord(_message.Message):
    __slots__ = ("id", "node_id", "seq", "time", "actor", "action", "target", "details_json", "prev_hash", "hash")
    ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    PREV_HASH_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    id: int
    node_id: str
    seq: int
    time: str
    actor: str
    action: str
    target: str
    details_json: str
    prev_hash: bytes
    hash: bytes
    def __init__(self, id: _Optional[int] = ..., node_id: _Optional[str] = ..., seq: _Optional[int] = ..., time: _Optional[str] = ..., actor: _Optional[str] = ..., action: _Optional[str] = ..., target: _Optional[str] = ..., details_json: _Optional[str] = ..., prev_hash: _Optional[bytes] = ..., hash: _Optional[bytes] = ...) -> None: ...

class ListAuditRecordsResponse(_message.Message):
    __slots__ = ("records", "next_after_id")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_AFTER_ID_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[AuditRecord]
    next_after_id: int
    def __init__(self, records: _Optional[_Iterable[_Union[AuditRecord, _Mapping]]] = ..., next_after_id: _Optional[int] = ...) -> None: ...
