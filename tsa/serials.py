"""TSA serial numbers: unique across restarts, processes and nodes, with no
coordination beyond the database every node already shares.

Design
    A serial is ``(counter << 64) | random64``:

    * ``counter`` comes from a block of consecutive values that this process
      reserved in one atomic ``UPDATE serial_counters SET next_value = next_value
      + block ... RETURNING next_value``. Blocks of different processes never
      overlap, and a restart reserves a fresh block, so counters are unique
      across restarts, processes and nodes. Values left in a block when a
      process stops are skipped (gaps are harmless: RFC 3161 §2.4.2 only asks
      for uniqueness).
    * ``random64`` adds 64 bits from the OS CSPRNG, so serials are at least 65
      bits long and do not reveal how many tokens the TSA issues.

    The unique index on ``tsa_tokens.serial`` is the safety net: a duplicate
    could never be recorded, so it could never be sent.
"""

from __future__ import annotations

import secrets
import threading
from typing import cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from registry.db.tsa import SerialCounterRow
from signer.errors import StoreUnavailable

_counters = cast(Table, SerialCounterRow.__table__)


class SerialAllocator:
    def __init__(self, engine: Engine, *, name: str = "tsa", block: int = 1024) -> None:
        if block < 1:
            raise ValueError("block must be positive")
        self._engine = engine
        self._name = name
        self._block = block
        self._lock = threading.Lock()
        self._next = 0
        self._end = 0  # exclusive
        self.blocks_reserved = 0

    def next(self) -> int:
        with self._lock:
            if self._next >= self._end:
                self._reserve()
            counter = self._next
            self._next += 1
        return (counter << 64) | secrets.randbits(64)

    def _reserve(self) -> None:
        try:
            for _ in range(3):
                with self._engine.begin() as conn:
                    end = conn.execute(
                        update(_counters)
                        .where(_counters.c.name == self._name)
                        .values(next_value=_counters.c.next_value + self._block)
                        .returning(_counters.c.next_value)
                    ).scalar()
                    if end is None:
                        try:
                            conn.execute(
                                insert(_counters).values(
                                    name=self._name, next_value=1 + self._block
                                )
                            )
                        except IntegrityError:
                            continue  # another process created it first: reserve again
                        end = 1 + self._block
                self._next, self._end = end - self._block, end
                self.blocks_reserved += 1
                return
            raise StoreUnavailable("could not reserve TSA serial numbers; retry later")
        except DBAPIError as exc:
            raise StoreUnavailable(
                "the database is unavailable, so no serial number can be issued; retry later"
            ) from exc

    def peek_counter(self) -> int:
        """The next block start in the database (for tests and diagnostics)."""
        with self._engine.connect() as conn:
            value = conn.execute(
                select(_counters.c.next_value).where(_counters.c.name == self._name)
            ).scalar()
        return int(value or 0)
