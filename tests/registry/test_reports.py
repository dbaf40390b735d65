"""``registry.reports.monthly_report``: a month is a Vietnam month, on SQLite as on
PostgreSQL. SQLite keeps times as text, so the bounds must be bound in the zone the rows
are stored in (UTC): bounds at +07:00 compared as text put 1 December 00:00-07:00 (Vietnam
time) into November."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from registry.db.records import SignatureRecordRow
from registry.db.store import RegistryStore
from registry.db.tsa import TsaTokenRow
from registry.reports import monthly_report


def _sign_at(store: RegistryStore, when: datetime, code: str = "000.00.00.H13") -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(SignatureRecordRow).values(
            time=when, node_id="n1", client="dms", agency_code=code, key_id="ab" * 16,
            hash_alg="sha256", digest=b"\0" * 32, output="cms", level="B-B",
            document_type="CV", document_number=""))


@pytest.mark.parametrize(("utc", "month"), [
    (datetime(2026, 11, 30, 16, 59, 59, tzinfo=UTC), "2026-11"),  # 23:59:59 in Vietnam
    (datetime(2026, 11, 30, 17, 0, 1, tzinfo=UTC), "2026-12"),    # 00:00:01 on 1 December
    (datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), "2026-12"),
    (datetime(2026, 12, 31, 17, 0, 0, tzinfo=UTC), "2027-01"),    # the year turns too
])
def test_a_signature_counts_in_its_vietnam_month(store: RegistryStore, utc: datetime,
                                                 month: str) -> None:
    _sign_at(store, utc)
    counts = {m: monthly_report(store.engine, m).signatures
              for m in ("2026-11", "2026-12", "2027-01")}
    assert counts == {m: int(m == month) for m in counts}, (utc, counts)


def test_tokens_count_in_their_vietnam_month(store: RegistryStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(TsaTokenRow).values(
            serial="7b", gen_time=datetime(2026, 11, 30, 18, 0, tzinfo=UTC), hash_alg="sha256",
            imprint=b"\0" * 32, policy="0.4.0.2023.1.1", nonce=None, node_id="n1",
            key_id="cd" * 16))
    assert monthly_report(store.engine, "2026-11").timestamps == 0
    assert monthly_report(store.engine, "2026-12").timestamps == 1


def test_load_tests_are_counted_apart(store: RegistryStore) -> None:
    """`kyso bench sign` signatures (recorded as any, marked as load tests) are in no row
    and not in the total: they are not documents (issue 15)."""
    from signer.doctypes import LOAD_TEST

    when = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
    _sign_at(store, when)
    with store.engine.begin() as conn:
        for _ in range(3):
            conn.execute(insert(SignatureRecordRow).values(
                time=when, node_id="n1", client="bench", agency_code="000.00.00.H13",
                key_id="ab" * 16, hash_alg="sha256", digest=b"\1" * 32, output="raw",
                level=None, document_type=LOAD_TEST, document_number=""))
    r = monthly_report(store.engine, "2026-11")
    assert (r.signatures, r.load_test_signatures) == (1, 3)
    assert [(x.document_type, x.signatures) for x in r.rows] == [("CV", 1)]
