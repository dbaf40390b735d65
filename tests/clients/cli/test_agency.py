"""``kyso admin agency add|list``: what is sent, what is printed (names literally, in a
table or a sentence), and ``--json``."""

from __future__ import annotations

import json

import pytest

from clients.client import KysoClientError
from kyso.common.v1 import common_pb2
from kyso.registry.v1 import registry_pb2
from tests.clients.cli.fake import FakeKyso, Kyso, clean

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

CODE = "000.00.15.H13"
NAME = "Sở Tài chính tỉnh Hà Tĩnh"
ODD = "Sở [dự án] :x:"  # brackets and a colon pair: rich markup and emoji syntax


def agency(code: str = CODE, name: str = NAME, keys: int = 0, active: int = 0
           ) -> registry_pb2.Agency:
    return registry_pb2.Agency(
        code=code, name=name, level=2, parent_code="000.00.00.H13",
        keys=[registry_pb2.Key(
            key_id=f"{i:032x}", label=f"k{i}", algorithm=common_pb2.KEY_ALGORITHM_EC_P256,
            state=registry_pb2.KEY_STATE_ACTIVE if i < active else registry_pb2.KEY_STATE_RETIRED,
            agency_code=code) for i in range(keys)])


def test_add_sends_code_and_name(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("create_agency", agency())
    r = kyso("admin", "agency", "add", CODE, "--name", NAME)
    assert r.exit_code == 0, r.stderr
    assert fake.only("create_agency").args == (CODE, NAME)
    assert r.stdout == f"added agency {CODE} — {NAME} (level 2, parent 000.00.00.H13)\n"


def test_add_json(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("create_agency", agency(keys=1, active=1))
    r = kyso("admin", "agency", "add", CODE, "--name", NAME, "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["code"] == CODE and d["name"] == NAME and d["parent"] == "000.00.00.H13"
    assert d["keys"][0]["state"] == "active" and d["keys"][0]["algorithm"] == "ec-p256"
    assert NAME in r.stdout  # ensure_ascii=False: Vietnamese as such


def test_add_refused(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("create_agency", KysoClientError("ALREADY_EXISTS", f"agency {CODE} exists"))
    r = kyso("admin", "agency", "add", CODE, "--name", NAME)
    clean(r)
    assert r.exit_code == 4 and f"error (ALREADY_EXISTS): agency {CODE} exists" in r.stderr


def test_add_prints_a_name_with_brackets_literally(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("create_agency", agency(name=ODD))
    r = kyso("admin", "agency", "add", CODE, "--name", ODD)
    assert r.exit_code == 0, r.stderr
    assert ODD in r.stdout


def test_list_table(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("list_agencies", [agency(keys=3, active=1),
                              agency("000.00.16.H13", "Sở Nội vụ", keys=0)])
    r = kyso("admin", "agency", "list")
    assert r.exit_code == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if "H13" in line]
    assert len(rows) == 2
    assert CODE in rows[0] and NAME in rows[0] and "3 (1)" in rows[0]
    assert "000.00.16.H13" in rows[1] and "Sở Nội vụ" in rows[1] and "0 (0)" in rows[1]
    assert fake.only("list_agencies").args == ()


def test_list_json(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("list_agencies", [agency(keys=2, active=1)])
    r = kyso("admin", "agency", "list", "--json")
    assert r.exit_code == 0, r.stderr
    [d] = json.loads(r.stdout)
    assert (d["code"], d["name"], d["level"]) == (CODE, NAME, 2)
    assert [k["state"] for k in d["keys"]] == ["active", "retired"]


def test_list_empty(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("list_agencies", [])
    r = kyso("admin", "agency", "list", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == []


def test_list_prints_a_name_with_brackets_literally(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("list_agencies", [agency(name=ODD)])
    r = kyso("admin", "agency", "list")
    assert r.exit_code == 0, r.stderr
    assert ODD in r.stdout


def test_list_json_keeps_a_name_with_brackets(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("list_agencies", [agency(name=ODD)])
    r = kyso("admin", "agency", "list", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)[0]["name"] == ODD
