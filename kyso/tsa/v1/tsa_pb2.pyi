from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class TimestampRequest(_message.Message):
    __slots__ = ("time_stamp_req", "idempotency_key")
    TIME_STAMP_REQ_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    time_stamp_req: bytes
    idempotency_key: str
    def __init__(self, time_stamp_req: _Optional[bytes] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class TimestampResponse(_message.Message):
    __slots__ = ("time_stamp_resp",)
    TIME_STAMP_RESP_FIELD_NUMBER: _ClassVar[int]
    time_stamp_resp: bytes
    def __init__(self, time_stamp_resp: _Optional[bytes] = ...) -> None: ...
