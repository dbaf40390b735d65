"""Idempotent replies: lookup bound to the request, and retention (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from kyso.signer.v1 import signer_pb2
from registry.db.idempotency import REPLIES
from registry.db.store import RegistryStore
from signer.errors import InvalidRequest
from signer.idempotency import Replies, fingerprint


def test_lookup_is_bound_to_the_request_and_old_replies_are_pruned(store: RegistryStore) -> None:
    replies = Replies(store.engine)
    req = signer_pb2.SignDigestsRequest(agency_code="000.00.00.H13", idempotency_key="k")
    other = signer_pb2.SignDigestsRequest(agency_code="000.00.00.H14", idempotency_key="k")
    assert fingerprint(req) != fingerprint(other)
    # the key itself is not part of the fingerprint: a retry may come with any transport
    assert fingerprint(req) == fingerprint(signer_pb2.SignDigestsRequest(
        agency_code="000.00.00.H13", idempotency_key="another"))
    now = datetime.now(UTC)
    with store.engine.begin() as c:
        for key, age in (("k", 0), ("old", 8)):
            table, row = Replies.row("dms", key, "SignDigests", fingerprint(req), b"reply-" +
                                     key.encode())
            c.execute(insert(table), [dict(row, created=now - timedelta(days=age))])
    assert replies.find("dms", "k", "SignDigests", fingerprint(req)) == b"reply-k"
    assert replies.find("someone-else", "k", "SignDigests", fingerprint(req)) is None
    with pytest.raises(InvalidRequest, match="already used for a different request"):
        replies.find("dms", "k", "SignDigests", fingerprint(other))
    assert replies.prune(now - timedelta(days=7)) == 1
    assert replies.find("dms", "old", "SignDigests", fingerprint(req)) is None
    assert replies.find("dms", "k", "SignDigests", fingerprint(req)) == b"reply-k"
    assert REPLIES.name == "idempotent_replies"


@pytest.mark.parametrize("key", ["x" * 129, "tab\there", "khóa"])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidRequest, match="printable ASCII"):
        Replies.check_key(key)
