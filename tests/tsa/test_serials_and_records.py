from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import cast

import pytest
from sqlalchemy import Table, func, select

from registry.audit import AuditLog, AuditNotary, wait_all
from registry.db.audit import AuditRecordRow
from registry.db.store import BulkWriter, RegistryStore
from registry.db.tsa import TsaTokenRow
from signer.errors import KysoError, StoreUnavailable
from signer.keys.store import Pkcs11KeyStore
from tsa.clock import STA_UNSYNC, TIME_ERROR, ClockCheck, ClockGuard
from tsa.serials import SerialAllocator

TOKENS = cast(Table, TsaTokenRow.__table__)


def test_serials_unique_across_allocators_threads_and_restarts(store: RegistryStore) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def work(alloc: SerialAllocator) -> None:
        got = [alloc.next() for _ in range(500)]
        with lock:
            seen.extend(got)

    # Two "processes" (allocators) with 4 threads each, then a "restart".
    allocs = [SerialAllocator(store.engine, block=37) for _ in range(2)]
    threads = [threading.Thread(target=work, args=(a,)) for a in allocs for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    work(SerialAllocator(store.engine, block=37))
    assert len(seen) == len(set(seen)) == 4500
    assert min(s.bit_length() for s in seen) > 64
    counters = {s >> 64 for s in seen}
    assert len(counters) == 4500  # the counter part alone is unique


def _row(i: int) -> dict[str, object]:
    from datetime import UTC, datetime

    return {
        "serial": format(i, "x"),
        "gen_time": datetime.now(UTC),
        "hash_alg": "sha256",
        "imprint": b"\0" * 32,
        "policy": "1.2.3",
        "nonce": None,
        "node_id": "n",
        "key_id": "k",
    }


@pytest.fixture
def journal(keystore: Pkcs11KeyStore, store: RegistryStore) -> Iterator[AuditLog]:
    log = AuditLog(store.engine, f"n-{uuid.uuid4().hex[:8]}", AuditNotary(keystore, store))
    yield log
    log.close()


def test_group_commit_makes_every_record_durable_in_few_commits(
    store: RegistryStore, journal: AuditLog
) -> None:
    futures = [journal.append("t", "timestamp", str(i), rows=[(TOKENS, _row(i))])
               for i in range(2000)]
    wait_all(futures)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(TsaTokenRow)).scalar() == 2000
        # each token's record sits in the same transaction as its audit record
        audited = conn.execute(select(func.count()).select_from(AuditRecordRow)
                               .where(AuditRecordRow.action == "timestamp")).scalar()
    assert audited == 2000
    assert journal.commits < 2000  # groups formed


def test_a_failed_commit_fails_its_callers(
    keystore: Pkcs11KeyStore, store: RegistryStore, journal: AuditLog
) -> None:
    journal.append("t", "timestamp", "1", rows=[(TOKENS, _row(1))]).result(30)
    with pytest.raises(KysoError, match="uniqueness check refused it") as exc:
        # duplicate serial: the unique index refuses it, and its audit record with it
        journal.append("t", "timestamp", "1", rows=[(TOKENS, _row(1))]).result(30)
    assert not isinstance(exc.value, StoreUnavailable)
    # the chain goes on from the last committed record
    after = journal.append("t", "timestamp", "2", rows=[(TOKENS, _row(2))]).result(30)
    assert after.seq == 2
    # A database that refuses writes: SQLite's read-only mode (root ignores file modes),
    # or for PostgreSQL a server that is not there.
    if store.url.startswith("sqlite"):
        path = store.url.split("///")[1]
        ro = RegistryStore(f"sqlite:///file:{path}?mode=ro&uri=true")
    else:
        ro = RegistryStore("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2")
    ro_log = AuditLog(store.engine, f"ro-{uuid.uuid4().hex[:8]}", AuditNotary(keystore, store))
    ro_log._writer = BulkWriter(ro.engine)  # the database goes away after start-up
    with pytest.raises(StoreUnavailable, match="nothing was done or issued"):
        ro_log.append("t", "timestamp", "3", rows=[(TOKENS, _row(3))]).result(30)


def test_a_bad_row_fails_only_its_own_caller(store: RegistryStore, journal: AuditLog) -> None:
    """Group commit isolates a request whose row the database refuses: the others in its
    group commit, only its caller gets the error (issue 12, item 2)."""
    journal.append("t", "timestamp", "1", rows=[(TOKENS, _row(1))]).result(30)
    with store.engine.connect() as blocker:  # hold the writer so that one group forms
        if store.url.startswith("sqlite"):
            blocker.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            blocker.exec_driver_sql("BEGIN")
            blocker.exec_driver_sql("LOCK TABLE audit_records IN EXCLUSIVE MODE")
        first = journal.append("t", "timestamp", "2", rows=[(TOKENS, _row(2))])
        time.sleep(0.3)  # the writer has taken it and waits for the lock
        group = [journal.append("t", "timestamp", str(i), rows=[(TOKENS, _row(i))])
                 for i in (3, 1, 4, 5)]  # serial 1 is taken: that one row is refused
        blocker.rollback()
    assert first.result(30).seq == 2
    with pytest.raises(KysoError, match="uniqueness check refused it"):
        group[1].result(30)
    assert sorted(f.result(30).seq for f in (group[0], group[2], group[3])) == [3, 4, 5]


@pytest.mark.parametrize(
    ("state", "flags", "maxerror_us", "ok", "says"),
    [
        (0, 0, 200_000, True, ""),
        (TIME_ERROR, STA_UNSYNC, 16_000_000, False, "not synchronised"),
        (0, STA_UNSYNC, 1000, False, "not synchronised"),
        (0, 0, 2_500_000, False, "exceeds the configured 1000 ms"),
    ],
)
def test_clock_guard_reads_the_kernel_verdict(
    monkeypatch: pytest.MonkeyPatch, state: int, flags: int, maxerror_us: int, ok: bool, says: str
) -> None:
    import tsa.clock

    monkeypatch.setattr(tsa.clock, "kernel_clock_status", lambda: (state, flags, maxerror_us))
    status = ClockGuard(ClockCheck.KERNEL, max_error_ms=1000).status()
    assert status.synchronised is ok
    assert says in status.reason


def test_clock_guard_reads_this_machine() -> None:
    # The real adjtimex call works here (read-only) and yields a coherent verdict.
    status = ClockGuard(ClockCheck.KERNEL, max_error_ms=1000).status()
    assert status.max_error_ms is not None and status.max_error_ms >= 0
    assert status.synchronised == (status.reason == "")
    assert ClockGuard(ClockCheck.OFF, 1).status().synchronised
