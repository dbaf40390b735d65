"""The .proto files are the API's documentation for integrators: they say how to
authenticate, which statuses come back and what the limits are, and nothing stale
("Not served yet (issue 3)" stood above a served TSA)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

PROTO = Path(__file__).resolve().parents[1] / "proto" / "kyso"


def test_common_proto_says_how_every_rpc_is_called() -> None:
    text = (PROTO / "common" / "v1" / "common.proto").read_text(encoding="utf-8")
    for needed in ("authorization: Bearer", "client certificate", "UNAUTHENTICATED",
                   "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL",
                   "max_batch", "max_message_bytes", "idempotency"):
        assert needed in text, needed


def test_no_stale_promises() -> None:
    for path in PROTO.rglob("*.proto"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"not served yet|\(issue \d+\)|UNIMPLEMENTED", text, re.I), path
