"""Group commit: records are durable before their reply leaves, at the cost of
one database commit per *group* of requests rather than per request.

A caller ``write()``s a row and blocks until the transaction holding it has
committed. One writer thread per table takes everything queued since its last
commit, inserts it in one statement and commits once. Under load groups grow by
themselves (no timer: while one commit runs, the next group queues up); idle,
a lone record is committed at once.

A failed commit fails every caller of that group with ``StoreUnavailable``: the
caller must not send the reply (the token or signature was never acknowledged,
so nothing acknowledged is lost).
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from signer.errors import KysoError, StoreUnavailable

log = logging.getLogger(__name__)

_STOP = object()


class GroupCommitter:
    def __init__(
        self,
        engine: Engine,
        table: Table,
        *,
        max_group: int = 1000,
        name: str | None = None,
    ) -> None:
        self._engine = engine
        self._table = table
        self._max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self.commits = 0
        self.records = 0
        self._thread = threading.Thread(
            target=self._run, name=f"kyso-commit-{name or table.name}", daemon=True
        )
        self._thread.start()

    def submit(self, row: dict[str, Any]) -> Future[None]:
        if self._closed:
            raise StoreUnavailable("the server is shutting down; retry on another node")
        fut: Future[None] = Future()
        self._queue.put((row, fut))
        return fut

    def write(self, row: dict[str, Any], timeout: float = 30.0) -> None:
        """Insert ``row`` and return once it is committed."""
        fut = self.submit(row)
        try:
            fut.result(timeout)
        except TimeoutError:
            raise StoreUnavailable(
                f"the database did not commit within {timeout:.0f} s; retry later"
            ) from None

    def close(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            group = [first]
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                group.append(item)
            self._commit(group)

    def _commit(self, group: list[tuple[dict[str, Any], Future[None]]]) -> None:
        rows = [row for row, _ in group]
        error: KysoError | None = None
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(self._table), rows)
        except IntegrityError as exc:  # a bug (e.g. a reused serial): never acknowledge it
            log.error("group commit of %d %s records violated a constraint: %s", len(rows),
                      self._table.name, exc.orig)
            error = KysoError("recording failed (a uniqueness check refused it); nothing was "
                              "issued")
        except DBAPIError as exc:
            log.error("group commit of %d %s records failed: %s", len(rows), self._table.name,
                      exc)
            error = StoreUnavailable("the database is unavailable; the request was not "
                                     "recorded and nothing was issued: retry later")
        except Exception as exc:  # never let the writer thread die
            log.exception("group commit of %d %s records failed", len(rows), self._table.name)
            error = KysoError(f"recording failed ({type(exc).__name__}); nothing was issued")
        else:
            self.commits += 1
            self.records += len(rows)
        for _, fut in group:
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)
