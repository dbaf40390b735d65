"""A signature made with a key this registry marked compromised (``kyso admin key
compromise``): the verifier reads the key's state from the registry and judges the
signature by what proves when it was made (issue 15 item 3: it used to say PASSED)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from registry.db.models import KeyRow
from signer.verify.engine import Verifier
from signer.verify.report import SignatureReport
from tests.signer.verify.world import CONTENT, NOW, World, registry_engine

pytestmark = pytest.mark.database_free  # its own SQLite registry; the PostgreSQL pass skips it


@pytest.fixture
def compromised(w: World, tmp_path: Path) -> Iterator[tuple[Any, Verifier]]:
    """A registry holding the seal key, and a verifier reading it; the test marks the key
    compromised at the moment it names."""
    store = registry_engine(tmp_path, w)
    yield store, w.verifier(store.engine)
    store.close()


def _compromise(store: Any, w: World, at: datetime) -> None:
    store.mark_compromised(w.seal.key.key_id, "token stolen")
    with store.engine.begin() as conn:  # as if marked at ``at``
        conn.execute(update(KeyRow).where(KeyRow.key_id == w.seal.key.key_id.hex())
                     .values(compromised_at=at))


def _one(v: Verifier, der: bytes) -> SignatureReport:
    [s] = v.verify(der, content=CONTENT).signatures
    return s


def _outcome(s: SignatureReport) -> tuple[str, str, list[str], list[str]]:
    return (s.indication.name, s.check.sub_indication, [m.code for m in s.check.problems],
            [m.code for m in s.check.warnings])


def _stamped_at(w: World, when: datetime) -> Any:
    return lambda d: w.token(d, gen_time=when)


def test_a_signature_the_key_made_before_marking_still_passes_without_a_word(
        w: World, compromised: tuple[Any, Verifier]) -> None:
    """Not compromised (yet): nothing changes."""
    _, v = compromised
    assert _outcome(_one(v, w.seal.sign_cms())) == ("PASSED", "", [], [])


def test_no_timestamp_means_no_proof_it_is_older_than_the_compromise(
        w: World, compromised: tuple[Any, Verifier]) -> None:
    """The signer's own signing time (an hour before) is no proof: whoever holds the key
    writes it."""
    store, v = compromised
    p7s = w.seal.sign_cms(at=NOW - timedelta(hours=1))
    _compromise(store, w, NOW)
    s = _one(v, p7s)
    assert _outcome(s) == ("INDETERMINATE", "REVOKED_NO_POE", ["compromise.no_proof"], [])
    assert s.key_compromise is not None and s.key_compromise.at == NOW
    assert s.revocation == "compromised" and s.revocation_message is not None
    assert s.revocation_message.code == "compromise.marked"
    why = s.check.problems[0].args
    assert why["key"] == w.seal.key.key_id.hex()
    assert why["at"] == (NOW + timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S+07:00")


def test_a_signing_time_after_the_compromise_fails(
        w: World, compromised: tuple[Any, Verifier]) -> None:
    store, v = compromised
    p7s = w.seal.sign_cms(at=NOW)
    _compromise(store, w, NOW - timedelta(hours=2))
    assert _outcome(_one(v, p7s)) == ("FAILED", "REVOKED", ["compromise.after_claim"], [])


def test_a_timestamp_before_the_compromise_keeps_it_valid_with_a_warning(
        w: World, compromised: tuple[Any, Verifier]) -> None:
    store, v = compromised
    p7s = w.seal.sign_cms(at=NOW - timedelta(hours=3),
                          timestamper=_stamped_at(w, NOW - timedelta(hours=2)))
    _compromise(store, w, NOW - timedelta(hours=1))
    s = _one(v, p7s)
    assert _outcome(s) == ("PASSED", "", [], ["compromise.proven_before"])
    assert s.check.warnings[0].args["proven"].endswith("+07:00")


def test_a_timestamp_after_the_compromise_fails(
        w: World, compromised: tuple[Any, Verifier]) -> None:
    store, v = compromised
    p7s = w.seal.sign_cms(at=NOW - timedelta(hours=3), timestamper=_stamped_at(w, NOW))
    _compromise(store, w, NOW - timedelta(hours=1))
    assert _outcome(_one(v, p7s)) == ("FAILED", "REVOKED", ["compromise.after_proof"], [])
