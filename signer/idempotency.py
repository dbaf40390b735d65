"""Idempotency keys: a retried signing or timestamp request returns the first reply.

A client puts a key (1–128 printable ASCII characters, unique per client) in a
``SignDigests`` or gRPC ``Timestamp`` request and sends the same request again
after a failure that leaves it unsure whether the first one was done (a node
killed mid-call, a lost reply). The first reply is stored **in the same
transaction** as the signature or token records and the audit record, so either
all of them exist or none does; a retry finds it and gets it back, and no second
signature, token or record is made.

The key is bound to its request: the same key with a different request (another
digest, agency or format) is refused (INVALID_ARGUMENT), never answered with the
other request's reply. Requests with one key are serialised within a node; two
nodes receiving the same key at the same instant (a retry racing its original)
both sign, and the second commit is refused by the table's primary key — that
caller gets an error and nothing is issued to it, and its next retry finds the
first reply.

Stored replies are kept ``server.idempotency_retention_days`` (7 by default): every
node deletes older ones hourly. A retry after that is treated as a new request.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Table, delete, select
from sqlalchemy.engine import Engine

from registry.audit import current_actor
from registry.db.idempotency import REPLIES
from registry.db.store import translate_sql_errors
from signer.errors import InvalidRequest

MAX_KEY = 128


Row = tuple[Table, dict[str, Any]]  # a row to commit with a request's records
Recorder = Callable[[bytes], Row]
T = TypeVar("T")


class Replies:
    """Looks up and records first replies for one node."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._locks: dict[tuple[str, str], list[Any]] = {}  # [lock, users]
        self._guard = threading.Lock()

    def first_reply(self, method: str, request: Any, run: Callable[[Recorder | None], T],
                    decode: Callable[[bytes], T]) -> T:
        """The reply to ``request``: the stored first reply (``decode``d) when its
        idempotency key was seen before, else ``run(record)``, where ``record(reply)``
        makes the row that stores the serialised reply with the request's records
        (``record`` is ``None`` for a request without a key)."""
        key = request.idempotency_key
        if not key:
            return run(None)
        self.check_key(key)
        client, fp = current_actor.get(), fingerprint(request)
        with self.once(client, key):
            stored = self.find(client, key, method, fp)
            if stored is not None:  # a retry: the first reply, nothing done again
                return decode(stored)
            return run(lambda reply: self.row(client, key, method, fp, reply))

    @staticmethod
    def check_key(key: str) -> None:
        if len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
            raise InvalidRequest(
                f"idempotency_key must be 1 to {MAX_KEY} printable ASCII characters")

    @contextmanager
    def once(self, client: str, key: str) -> Iterator[None]:
        """Serialise the requests of one (client, key) within this node."""
        with self._guard:
            entry = self._locks.setdefault((client, key), [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._locks[(client, key)]

    def find(self, client: str, key: str, method: str, fingerprint: bytes) -> bytes | None:
        """The stored reply for this key, if any; refuses a key reused for another request."""
        with translate_sql_errors("looking up an idempotency key"), self._engine.connect() as c:
            row = c.execute(select(REPLIES.c.method, REPLIES.c.fingerprint, REPLIES.c.reply)
                            .where(REPLIES.c.client == client, REPLIES.c.key == key)).first()
        if row is None:
            return None
        if row.method != method or bytes(row.fingerprint) != fingerprint:
            raise InvalidRequest(
                f"idempotency_key {key!r} was already used for a different request: use a "
                "new key for each new request, and the same key only to retry it")
        return bytes(row.reply)

    def prune(self, older_than: datetime) -> int:
        """Delete replies stored before ``older_than``; returns how many."""
        with translate_sql_errors("pruning idempotent replies"), self._engine.begin() as c:
            n = c.execute(delete(REPLIES).where(REPLIES.c.created < older_than)).rowcount
        return int(n or 0)

    @staticmethod
    def row(client: str, key: str, method: str, fingerprint: bytes, reply: bytes) -> Row:
        """The row that records ``reply``, to commit with the request's other records."""
        return REPLIES, {"client": client, "key": key, "method": method,
                         "fingerprint": fingerprint, "reply": reply,
                         "created": datetime.now(UTC)}


def fingerprint(request: Any) -> bytes:
    """SHA-256 of the request without its idempotency key (deterministic encoding)."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("idempotency_key")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()
