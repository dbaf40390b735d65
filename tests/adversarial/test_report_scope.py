"""Promise: the monthly statistics show a client only what its grant covers.

The attacker is an auditor of one agency (a grant without ``/**``): asking for that
agency's report must not show its sub-units' signatures, nor the TSA's global token
count; a lower-case code is the same code as everywhere else; only a subtree grant
shows the subtree.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from signer.formats.tsp import make_request
from tests.adversarial.nodes import Node

pytestmark = pytest.mark.e2e
def _month() -> str:
    """This Vietnam month, read when the report is asked for (not at collection: a month
    may turn in between)."""
    return datetime.now(UTC).astimezone(timezone(timedelta(hours=7))).strftime("%Y-%m")


def _cli_ok(node: Node, *args: str, token: str | None = None) -> str:
    assert node.server is not None
    env_token = {"KYSO_TOKEN": token} if token else {}
    srv = node.server
    saved = dict(srv.env)
    srv.env.update(env_token)
    try:
        r = srv.cli(*args)
    finally:
        srv.env.clear()
        srv.env.update(saved)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def _report(node: Node, token: str, agency: str) -> dict[str, Any]:
    out = _cli_ok(node, "admin", "report", "--month", _month(), "--agency", agency, "--json",
                  token=token)
    report: dict[str, Any] = json.loads(out)
    return report


def test_a_single_agency_grant_sees_that_agency_only(node: Node) -> None:
    assert node.server is not None
    srv = node.server
    for code, name in (("H55", "Tỉnh Sóc Trăng"), ("H55.01", "Sở Tài chính")):
        _cli_ok(node, "admin", "agency", "add", code, "--name", name)
        _cli_ok(node, "admin", "key", "generate", code, "--algorithm", "ec-p256")
        _cli_ok(node, "admin", "cert", "issue", code)
    with srv.client() as c:
        c.sign_digests("H55", [hashlib.sha256(b"parent").digest()], document_type="CV")
        c.sign_digests("H55.01", [hashlib.sha256(b"child").digest()], document_type="QD",
                       cms=True, timestamp=True)
        for _ in range(3):
            c.timestamp(make_request(os.urandom(32))[0])
    tokens = {}
    for name, grant in (("auditor-h55", "auditor@H55"), ("auditor-h55-tree", "auditor@H55/**")):
        out = _cli_ok(node, "admin", "client", "add", name, "--grant", grant, "--json")
        tokens[name] = json.loads(out)["token"]

    narrow = _report(node, tokens["auditor-h55"], "H55")
    assert {r["agency_code"] for r in narrow["rows"]} == {"H55"}, narrow
    assert narrow["signatures"] == 1
    assert narrow["timestamps"] == 0, "the TSA's global count leaked into a one-agency report"
    assert _report(node, tokens["auditor-h55"], "h55") == narrow  # the same code

    tree = _report(node, tokens["auditor-h55-tree"], "H55")
    assert {r["agency_code"] for r in tree["rows"]} == {"H55", "H55.01"}, tree
    assert tree["signatures"] == 2 and tree["timestamps"] == 1  # H55.01's B-T signature

    admin = json.loads(_cli_ok(node, "admin", "report", "--month", _month(), "--json"))
    assert admin["timestamps"] >= 4  # the whole TSA: only for a grant on every agency
