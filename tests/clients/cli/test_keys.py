"""``kyso admin key list CODE``: the table (key ids, states, certificate subjects and
dates literally) and ``--json``."""

from __future__ import annotations

import json

import pytest

from clients.client import KysoClientError
from kyso.common.v1 import common_pb2
from kyso.registry.v1 import keys_pb2, registry_pb2
from tests.clients.cli.fake import FakeKyso, Kyso, clean

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

CODE = "000.00.15.H13"
SUBJECT = "CN=Sở Tài chính,O=UBND tỉnh Hà Tĩnh,C=VN"
ODD_SUBJECT = "CN=Sở [dự án] :x:,C=VN"
ACTIVE_ID = "0a" * 16
RETIRED_ID = "0b" * 16
T0 = 1_735_689_600  # 2025-01-01T00:00:00Z
NOT_AFTER = 1_767_225_600  # 2026-01-01T00:00:00Z


def entry(key_id: str, state: int, subject: str = SUBJECT, reason: str = "",
          changed: int = T0) -> keys_pb2.KeyEntry:
    return keys_pb2.KeyEntry(
        key=registry_pb2.Key(
            key_id=key_id, label="seal", algorithm=common_pb2.KEY_ALGORITHM_RSA_3072,
            state=state, agency_code=CODE,
            certificate=common_pb2.Certificate(subject=subject, issuer="CN=kyso dev CA",
                                               serial_hex="7b", not_before_unix=T0,
                                               not_after_unix=NOT_AFTER)),
        activated_unix=T0, state_changed_unix=changed, state_reason=reason)


def entries() -> list[keys_pb2.KeyEntry]:
    return [entry(ACTIVE_ID, registry_pb2.KEY_STATE_ACTIVE),
            entry(RETIRED_ID, registry_pb2.KEY_STATE_RETIRED, reason="rotated",
                  changed=T0 + 3600)]


def test_list_table(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("list_keys", entries())
    r = kyso("admin", "key", "list", CODE)
    assert r.exit_code == 0, r.stderr
    assert fake.only("list_keys").args == (CODE,)
    active = next(line for line in r.stdout.splitlines() if ACTIVE_ID in line)
    retired = next(line for line in r.stdout.splitlines() if RETIRED_ID in line)
    # times as a person in Vietnam reads them (+07:00), like every other output
    for cell in ("rsa-3072", "active", "2025-01-01T07:00:00+07:00", SUBJECT, "2026-01-01"):
        assert cell in active, (cell, active)
    for cell in ("retired", "2025-01-01T08:00:00+07:00", "rotated"):
        assert cell in retired, (cell, retired)


def test_list_json(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("list_keys", entries())
    r = kyso("admin", "key", "list", CODE, "--json")
    assert r.exit_code == 0, r.stderr
    a, b = json.loads(r.stdout)
    assert a == {
        "key_id": ACTIVE_ID, "label": "seal", "algorithm": "rsa-3072", "state": "active",
        "agency": CODE,
        "certificate": {"subject": SUBJECT, "issuer": "CN=kyso dev CA", "serial": "7b",
                        "not_after": "2026-01-01T07:00:00+07:00"},
        "activated_at": "2025-01-01T07:00:00+07:00",
        "state_changed_at": "2025-01-01T07:00:00+07:00",
        "state_reason": None, "compromised_at": None,
    }
    assert (b["state"], b["state_reason"]) == ("retired", "rotated")


def test_list_key_without_certificate(kyso: Kyso, fake: FakeKyso) -> None:
    e = keys_pb2.KeyEntry(key=registry_pb2.Key(key_id=ACTIVE_ID, state=1, agency_code=CODE,
                                               algorithm=common_pb2.KEY_ALGORITHM_EC_P256))
    fake.on("list_keys", [e])
    r = kyso("admin", "key", "list", CODE, "--json")
    assert r.exit_code == 0, r.stderr
    [d] = json.loads(r.stdout)
    assert "certificate" not in d and d["state"] == "pending" and d["state_changed_at"] is None
    r = kyso("admin", "key", "list", CODE)
    assert r.exit_code == 0, r.stderr
    assert "pending" in r.stdout and "—" in r.stdout


def test_list_refused(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("list_keys", KysoClientError("NOT_FOUND", f"no agency {CODE}"))
    r = kyso("admin", "key", "list", CODE)
    clean(r)
    assert r.exit_code == 4 and f"error (NOT_FOUND): no agency {CODE}" in r.stderr
    assert r.stdout == ""


def test_list_prints_a_subject_with_brackets_literally(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("list_keys", [entry(ACTIVE_ID, registry_pb2.KEY_STATE_ACTIVE,
                                subject=ODD_SUBJECT)])
    r = kyso("admin", "key", "list", CODE)
    assert r.exit_code == 0, r.stderr
    assert ODD_SUBJECT in r.stdout


# --- key rotate -------------------------------------------------------------------------


@pytest.mark.parametrize("state,word", [(registry_pb2.KEY_STATE_COMPROMISED, "compromised"),
                                        (registry_pb2.KEY_STATE_RETIRED, "retired")])
def test_rotate_reports_the_previous_keys_real_state(kyso: Kyso, fake: FakeKyso,
                                                     state: int, word: str) -> None:
    """After a compromise the replaced key is reported compromised, not "retired"."""
    fake.on("rotate_key", keys_pb2.RotateKeyResponse(
        key=entry(ACTIVE_ID, registry_pb2.KEY_STATE_ACTIVE), activated=True,
        previous=entry(RETIRED_ID, state)))
    r = kyso("admin", "key", "rotate", CODE)
    assert r.exit_code == 0, r.stderr
    assert fake.only("rotate_key").args == (CODE, None, None)
    assert f"the previous key {RETIRED_ID} is {word}" in r.stdout
    r = kyso("admin", "key", "rotate", CODE, "--json")
    assert json.loads(r.stdout)["previous"]["state"] == word


def test_rotate_of_a_first_key_names_no_previous_one(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("rotate_key", keys_pb2.RotateKeyResponse(
        key=entry(ACTIVE_ID, registry_pb2.KEY_STATE_ACTIVE), activated=True))
    r = kyso("admin", "key", "rotate", CODE)
    assert r.exit_code == 0, r.stderr
    assert "previous" not in r.stdout
    assert json.loads(kyso("admin", "key", "rotate", CODE, "--json").stdout)["previous"] is None
