"""The agency-code registry through a real server and the CLI: import with
errors (exit 1, the error table) then a valid file, the July 2025 merge,
history before and after, export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from signer.runtime.auth import rule_for
from tests.helpers import hsm_unavailable_reason
from tests.servers import Server, server_env, start_server, stop_server

OFFICIAL = """code,name,parent_code,valid_from
000.00.00.H59,Ủy ban nhân dân tỉnh Sóc Trăng,,2020-01-01
000.00.00.H64,Ủy ban nhân dân tỉnh Hậu Giang,,2020-01-01
000.00.05.H59,Sở Tài chính tỉnh Sóc Trăng,000.00.00.H59,2020-01-01
000.00.05.H64,Sở Tài chính tỉnh Hậu Giang,,2020-01-01
"""
BROKEN = """code,name
000.00.00.H59,Ủy ban nhân dân tỉnh Sóc Trăng
000.00.0X.H59,Sở hỏng
000.00.07.H77,Sở không có cha
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    if rule_for("/kyso.registry.v1.AgencyService/ImportAgencies") is None:
        pytest.skip("AgencyService has no entries in signer.runtime.auth.POLICY yet: "
                    "the server refuses its calls (deny by default)")
    workdir = tmp_path_factory.mktemp("e2e-agency")
    s = start_server(workdir, server_env(workdir, "kyso-e2e-agency"), "--demo")
    yield s
    stop_server(s)


def test_import_merge_history_export(srv: Server, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BROKEN, encoding="utf-8")
    r = srv.cli("admin", "agency", "import", str(bad))
    assert r.returncode == 4, r.stdout + r.stderr
    assert "2 error(s), nothing imported" in r.stdout and "parent_code" in r.stdout
    r = srv.cli("admin", "agency", "import", str(bad), "--json")
    errors = json.loads(r.stdout)["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(3, "code"), (4, "parent_code")]
    assert "H59" not in srv.cli("admin", "agency", "list", "--json").stdout

    good = tmp_path / "official.csv"
    good.write_text(OFFICIAL, encoding="utf-8")
    r = srv.cli("admin", "agency", "import", str(good), "--dry-run")
    assert r.returncode == 0 and "would create 4" in r.stdout, r.stdout + r.stderr
    r = srv.cli("admin", "agency", "import", str(good), check=True)
    assert "did create 4" in r.stdout

    # July 2025: Sóc Trăng and Hậu Giang close into Cần Thơ (the demo's 000.00.00.H13).
    r = srv.cli("admin", "agency", "merge", "000.00.00.H59", "000.00.00.H64",
                "--into", "000.00.00.H13", "--effective", "2025-07-01",
                "--reissue", "000.00.05.H59=000.00.41.H13",
                "--reissue", "000.00.05.H64=000.00.42.H13", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["code"] == "000.00.00.H13"

    r = srv.cli("admin", "agency", "history", "000.00.00.H59", "--on", "2025-06-30", "--json",
                check=True)
    h = json.loads(r.stdout)
    assert h["name_on_date"] == "Ủy ban nhân dân tỉnh Sóc Trăng" and h["in_force_on_date"]
    assert h["successors"] == ["000.00.00.H13"]
    assert [e["kind"] for e in h["events"]] == ["create", "merge"]
    r = srv.cli("admin", "agency", "history", "000.00.00.H59", check=True)
    assert "not in force" in r.stdout and "000.00.00.H13" in r.stdout

    r = srv.cli("admin", "agency", "subtree", "000.00.00.H13", "--json", check=True)
    assert {a["code"] for a in json.loads(r.stdout)} == {"000.00.41.H13", "000.00.42.H13"}
    r = srv.cli("admin", "agency", "add", "000.00.00.H59", "--name", "Cơ quan khác")
    assert r.returncode == 4 and "closed on 2025-07-01" in r.stderr

    out = tmp_path / "export.json"
    srv.cli("admin", "agency", "export", "--format", "json", "-o", str(out), check=True)
    exported = json.loads(out.read_text(encoding="utf-8"))
    codes = {a["code"] for a in exported}
    assert "000.00.41.H13" in codes and "000.00.00.H59" not in codes
    r = srv.cli("admin", "agency", "export", "--include-closed", check=True)
    assert "000.00.00.H59,Ủy ban nhân dân tỉnh Sóc Trăng,,2020-01-01,closed,2025-07-01," \
           "000.00.00.H13" in r.stdout
