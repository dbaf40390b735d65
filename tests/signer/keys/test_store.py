"""Pkcs11KeyStore against a real SoftHSM2 token through the p11-kit proxy (no mocks).

Signatures are checked by someone else's parser: pyca/cryptography for every case, and the
``openssl`` command line for a few.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pkcs11 import Attribute, ObjectClass
from pkcs11.util.ec import decode_ec_public_key

from signer.digest import Digest, HashAlg
from signer.errors import (
    AlreadyExists,
    ConfigError,
    HsmUnavailable,
    InvalidRequest,
    NotFound,
    NotUsable,
)
from signer.keys.store import HsmConfig, Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, KeyInfo, KeyUse, Scheme, SigningKey
from tests.helpers import REPO, HsmEnv, make_store, provision, verify_signature

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

RSA_ALGS = [a for a in KeyAlgorithm if a.is_rsa]
EC_ALGS = [a for a in KeyAlgorithm if not a.is_rsa]


def _label(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def keys(keystore: Pkcs11KeyStore) -> dict[KeyAlgorithm, KeyInfo]:
    """One key of every algorithm (RSA-4096 generation takes a second or two)."""
    return {alg: keystore.generate_key(alg, _label(f"t-{alg.value}")) for alg in KeyAlgorithm}


@pytest.fixture
def raw_session(keystore: Pkcs11KeyStore) -> Iterator[pkcs11.types.Session]:
    """A session of the store's (already logged-in) application, for reading attributes."""
    lib = pkcs11.lib(keystore.config.module)  # cached per path: the store's own library
    token = lib.get_token(token_label=keystore.config.token_label)
    session = token.open()  # no PIN: the application is logged in once already
    try:
        yield session
    finally:
        session.close()


# --- configuration ---------------------------------------------------------------------------


def test_config_hides_pin_and_validates() -> None:
    config = HsmConfig(token_label="t", pin="s3cret-pin")
    assert "s3cret-pin" not in repr(config)
    assert config.module.endswith("p11-kit-proxy.so")
    with pytest.raises(ConfigError, match="pool_size"):
        HsmConfig(token_label="t", pin="p", pool_size=0)


def test_only_one_store_per_process(keystore: Pkcs11KeyStore, hsm_env: HsmEnv) -> None:
    with pytest.raises(ConfigError, match="one login per application"):
        make_store(hsm_env).open()
    keystore.check()  # the refused second store did not disturb the first


# --- generation ------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", list(KeyAlgorithm), ids=lambda a: a.value)
def test_generated_key_attributes(
    alg: KeyAlgorithm,
    keys: dict[KeyAlgorithm, KeyInfo],
    raw_session: pkcs11.types.Session,
) -> None:
    info = keys[alg]
    assert info.algorithm is alg
    assert len(info.key_id) == 16
    public = load_der_public_key(info.public_key_der)
    if alg.is_rsa:
        assert isinstance(public, rsa.RSAPublicKey)
        assert public.key_size == int(alg.value.split("-")[1])
        assert public.public_numbers().e == 65537
    elif alg is KeyAlgorithm.ED25519:
        assert isinstance(public, Ed25519PublicKey)
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey)
        expected = {KeyAlgorithm.EC_P256: "secp256r1", KeyAlgorithm.EC_P384: "secp384r1"}
        assert public.curve.name == expected[alg]

    (private,) = raw_session.get_objects(
        {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: info.key_id}
    )
    attrs = private.get_attributes(
        [
            Attribute.TOKEN,
            Attribute.PRIVATE,
            Attribute.SENSITIVE,
            Attribute.EXTRACTABLE,
            Attribute.SIGN,
            Attribute.ALWAYS_SENSITIVE,
            Attribute.NEVER_EXTRACTABLE,
            Attribute.LABEL,
            Attribute.ID,
            Attribute.DECRYPT,
        ]
    )
    assert attrs[Attribute.TOKEN] is True
    assert attrs[Attribute.PRIVATE] is True
    assert attrs[Attribute.SENSITIVE] is True
    assert attrs[Attribute.EXTRACTABLE] is False
    assert attrs[Attribute.SIGN] is True
    assert attrs[Attribute.DECRYPT] is False
    assert attrs[Attribute.ALWAYS_SENSITIVE] is True
    assert attrs[Attribute.NEVER_EXTRACTABLE] is True
    assert attrs[Attribute.ID] == info.key_id
    assert attrs[Attribute.LABEL] == info.label

    (pub,) = raw_session.get_objects(
        {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: info.key_id}
    )
    pattrs = pub.get_attributes([Attribute.VERIFY, Attribute.TOKEN, Attribute.LABEL])
    assert pattrs == {Attribute.VERIFY: True, Attribute.TOKEN: True, Attribute.LABEL: info.label}


def test_lookup_by_id_and_label(
    keystore: Pkcs11KeyStore,
    keys: dict[KeyAlgorithm, KeyInfo],
) -> None:
    for info in keys.values():
        assert keystore.public_key(info.key_id) == info
        assert keystore.find_keys(label=info.label) == [info]
    listed = keystore.find_keys()
    assert set(keys.values()) <= set(listed)


def test_generate_with_given_id_and_duplicates(keystore: Pkcs11KeyStore) -> None:
    key_id = uuid.uuid4().bytes
    label = _label("given-id")
    info = keystore.generate_key(KeyAlgorithm.EC_P256, label, key_id=key_id)
    assert info.key_id == key_id
    with pytest.raises(AlreadyExists):
        keystore.generate_key(KeyAlgorithm.EC_P256, _label("other"), key_id=key_id)
    # Labels need not be unique; ids must.
    twin = keystore.generate_key(KeyAlgorithm.EC_P256, label)
    assert twin.key_id != key_id
    assert {k.key_id for k in keystore.find_keys(label=label)} == {key_id, twin.key_id}
    keystore.delete_key(key_id)
    keystore.delete_key(twin.key_id)


def test_delete_key(keystore: Pkcs11KeyStore) -> None:
    info = keystore.generate_key(KeyAlgorithm.EC_P256, _label("doomed"))
    digest = Digest.of(HashAlg.SHA256, b"before")
    keystore.sign_digest(info.key_id, digest, Scheme.ECDSA)  # caches the handle in a session
    keystore.delete_key(info.key_id)
    with pytest.raises(NotFound):
        keystore.sign_digest(info.key_id, digest, Scheme.ECDSA)
    with pytest.raises(NotFound):
        keystore.delete_key(info.key_id)
    assert keystore.find_keys(label=info.label) == []


# --- signing ---------------------------------------------------------------------------------

SIGN_CASES = [
    (alg, scheme, h)
    for alg in KeyAlgorithm
    if alg.signs_digests
    for scheme in Scheme
    if scheme.fits(alg)
    for h in HashAlg
]


def test_ed25519_signs_whole_messages_only(
    keystore: Pkcs11KeyStore, keys: dict[KeyAlgorithm, KeyInfo]
) -> None:
    """Pure EdDSA (RFC 8032) over the message; no digest is ever signed with such a key."""
    info = keys[KeyAlgorithm.ED25519]
    message = b"kyso-audit-checkpoint-v2\x00 a message longer than any digest"
    public = load_der_public_key(info.public_key_der)
    assert isinstance(public, Ed25519PublicKey)
    public.verify(keystore.sign_message(info.key_id, message, use=KeyUse.SEAL), message)
    with pytest.raises(NotUsable, match="signs whole messages"):
        keystore.sign_digest(info.key_id, Digest.of(HashAlg.SHA256, message), Scheme.EDDSA)
    rsa_key = keys[KeyAlgorithm.RSA2048]
    with pytest.raises(NotUsable, match="only Ed25519"):
        keystore.sign_message(rsa_key.key_id, message, use=KeyUse.SEAL)


def test_a_key_is_used_only_for_what_its_label_says(keystore: Pkcs11KeyStore) -> None:
    """The database may map anything to anything; the token's label decides the use."""
    ca = keystore.generate_key(KeyAlgorithm.EC_P256, label="kyso-dev-ca")
    seal = keystore.generate_key(KeyAlgorithm.EC_P256, label="seal-H13-1")
    d = Digest.of(HashAlg.SHA256, b"x")
    try:
        with pytest.raises(NotUsable, match=r"'kyso-dev-ca'.*not a key for seal"):
            keystore.sign_digest(ca.key_id, d, Scheme.ECDSA)
        with pytest.raises(NotUsable, match="not a key for seal"):
            keystore.key(ca.key_id)
        assert keystore.sign_digest(ca.key_id, d, Scheme.ECDSA, use=KeyUse.CA)
        for use in (KeyUse.CA, KeyUse.TSA, KeyUse.AUDIT):
            with pytest.raises(NotUsable, match="'seal-H13-1'"):
                keystore.sign_digest(seal.key_id, d, Scheme.ECDSA, use=use)
        with pytest.raises(NotUsable, match="not a key for tsa"):
            keystore.sign_digest(ca.key_id, d, Scheme.ECDSA, use=KeyUse.TSA)
    finally:
        keystore.delete_key(ca.key_id)
        keystore.delete_key(seal.key_id)


@pytest.mark.parametrize(
    ("alg", "scheme", "hash_alg"),
    SIGN_CASES,
    ids=[f"{a.value}-{s.value}-{h.value}" for a, s, h in SIGN_CASES],
)
def test_signature_verifies(
    keystore: Pkcs11KeyStore,
    keys: dict[KeyAlgorithm, KeyInfo],
    alg: KeyAlgorithm,
    scheme: Scheme,
    hash_alg: HashAlg,
) -> None:
    info = keys[alg]
    digest = Digest.of(hash_alg, f"kyso {alg.value} {scheme.value}".encode())
    signature = keystore.sign_digest(info.key_id, digest, scheme)
    assert verify_signature(info.public_key_der, digest, scheme, signature)
    other = Digest.of(hash_alg, b"something else")
    assert not verify_signature(info.public_key_der, other, scheme, signature)


OPENSSL_CASES = [
    (KeyAlgorithm.RSA2048, Scheme.PKCS1V15, HashAlg.SHA256),
    (KeyAlgorithm.RSA3072, Scheme.PSS, HashAlg.SHA384),
    (KeyAlgorithm.EC_P256, Scheme.ECDSA, HashAlg.SHA256),
    (KeyAlgorithm.EC_P384, Scheme.ECDSA, HashAlg.SHA512),
]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not found")
@pytest.mark.parametrize(
    ("alg", "scheme", "hash_alg"),
    OPENSSL_CASES,
    ids=[f"{a.value}-{s.value}-{h.value}" for a, s, h in OPENSSL_CASES],
)
def test_signature_verifies_with_openssl(
    keystore: Pkcs11KeyStore,
    keys: dict[KeyAlgorithm, KeyInfo],
    tmp_path: Path,
    alg: KeyAlgorithm,
    scheme: Scheme,
    hash_alg: HashAlg,
) -> None:
    info = keys[alg]
    data = b"a document sealed by kyso\n" * 10
    signature = keystore.sign_digest(info.key_id, Digest.of(hash_alg, data), scheme)
    pem = load_der_public_key(info.public_key_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "pub.pem").write_bytes(pem)
    (tmp_path / "data.bin").write_bytes(data)
    (tmp_path / "sig.bin").write_bytes(signature)
    cmd = ["openssl", "dgst", f"-{hash_alg.value}", "-verify", "pub.pem", "-signature", "sig.bin"]
    if scheme is Scheme.PSS:
        cmd += [
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            f"rsa_pss_saltlen:{hash_alg.digest_size}",
        ]
    proc = subprocess.run(
        [*cmd, "data.bin"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verified OK" in proc.stdout


def test_wrong_scheme_for_key(
    keystore: Pkcs11KeyStore,
    keys: dict[KeyAlgorithm, KeyInfo],
) -> None:
    digest = Digest.of(HashAlg.SHA256, b"x")
    with pytest.raises(InvalidRequest, match="use ecdsa"):
        keystore.sign_digest(keys[KeyAlgorithm.EC_P256].key_id, digest, Scheme.PKCS1V15)
    with pytest.raises(InvalidRequest, match="use pkcs1v15, pss"):
        keystore.sign_digest(keys[KeyAlgorithm.RSA2048].key_id, digest, Scheme.ECDSA)


def test_unknown_key(keystore: Pkcs11KeyStore) -> None:
    digest = Digest.of(HashAlg.SHA256, b"x")
    unknown = b"\xee" * 16
    with pytest.raises(NotFound):
        keystore.sign_digest(unknown, digest, Scheme.ECDSA)
    with pytest.raises(NotFound):
        keystore.public_key(unknown)
    with pytest.raises(NotFound):
        keystore.key(unknown)


def test_signing_key_protocol(
    keystore: Pkcs11KeyStore,
    keys: dict[KeyAlgorithm, KeyInfo],
) -> None:
    for info in (keys[KeyAlgorithm.RSA2048], keys[KeyAlgorithm.EC_P384]):
        signing_key: SigningKey = keystore.key(info.key_id)
        assert signing_key.key_id == info.key_id
        assert signing_key.algorithm is info.algorithm
        digest = Digest.of(HashAlg.SHA384, b"protocol")
        scheme = info.algorithm.default_scheme
        assert verify_signature(
            info.public_key_der, digest, scheme, signing_key.sign_digest(digest, scheme)
        )


def test_health(keystore: Pkcs11KeyStore) -> None:
    assert keystore.healthy
    keystore.check()


# --- concurrency -----------------------------------------------------------------------------

Signed = tuple[KeyInfo, Digest, Scheme, bytes]


def _plan(keys: dict[KeyAlgorithm, KeyInfo], worker: int, i: int) -> tuple[KeyInfo, Digest, Scheme]:
    """A mix of RSA-2048 (PKCS#1 v1.5 and PSS) and P-256 over every hash."""
    hash_alg = list(HashAlg)[(worker + i) % 3]
    digest = Digest.of(hash_alg, f"w{worker} i{i}".encode())
    kind = (worker + i) % 3
    if kind == 0:
        return keys[KeyAlgorithm.RSA2048], digest, Scheme.PKCS1V15
    if kind == 1:
        return keys[KeyAlgorithm.RSA2048], digest, Scheme.PSS
    return keys[KeyAlgorithm.EC_P256], digest, Scheme.ECDSA


def _run_signers(
    keystore: Pkcs11KeyStore,
    keys: dict[KeyAlgorithm, KeyInfo],
    threads: int,
    per_thread: int,
    during: Callable[[], None] | None = None,
) -> list[list[Signed]]:
    """Sign from ``threads`` threads; run ``during`` once they are well under way."""
    results: list[list[Signed]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    done = [0]
    count_lock = threading.Lock()
    under_way = threading.Event()

    def work(worker: int) -> None:
        try:
            for i in range(per_thread):
                info, digest, scheme = _plan(keys, worker, i)
                signature = keystore.sign_digest(info.key_id, digest, scheme)
                results[worker].append((info, digest, scheme, signature))
                with count_lock:
                    done[0] += 1
                    if done[0] >= 10 * threads:
                        under_way.set()
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)
            under_way.set()

    pool = [
        threading.Thread(target=work, args=(w,), name=f"signer-{w}", daemon=True)
        for w in range(threads)
    ]
    for thread in pool:
        thread.start()
    if during is not None:
        assert under_way.wait(20), "signers did not get going"
        with count_lock:
            assert done[0] < threads * per_thread, "signers finished before the fault"
        during()
    for thread in pool:
        thread.join(timeout=45)
    hung = [t.name for t in pool if t.is_alive()]
    assert not hung, f"threads hung: {hung}"
    assert not errors, f"signers failed: {errors!r}"
    assert [len(r) for r in results] == [per_thread] * threads
    for batch in results:
        for info, digest, scheme, signature in batch:
            assert verify_signature(info.public_key_der, digest, scheme, signature)
    return results


def test_concurrent_signing(
    keystore: Pkcs11KeyStore,
    keys: dict[KeyAlgorithm, KeyInfo],
) -> None:
    """8 threads on 4 pooled sessions: proves the proxy turns SoftHSM2's locking on."""
    recoveries = keystore.recoveries
    _run_signers(keystore, keys, threads=8, per_thread=300)
    assert keystore.recoveries == recoveries


# --- recovery --------------------------------------------------------------------------------


def _raw_lib(keystore: Pkcs11KeyStore) -> Any:
    return pkcs11.lib(keystore.config.module)  # the same cached object the store uses


def _fault_reinitialise(keystore: Pkcs11KeyStore) -> None:
    lib = _raw_lib(keystore)
    with keystore.exclusive():  # no PKCS#11 call is in flight meanwhile
        lib.finalize()  # every session and the login are gone in the module
        lib.initialize()


def _fault_close_sessions(keystore: Pkcs11KeyStore) -> None:
    with keystore.exclusive():
        for session in keystore._pooled_sessions():
            session.close()  # C_CloseSession (and C_Logout for the login session)


def _fault_finalise(keystore: Pkcs11KeyStore) -> None:
    lib = _raw_lib(keystore)
    with keystore.exclusive():
        lib.finalize()  # not re-initialised: the store must do it


FAULTS = {
    "finalize+initialize": _fault_reinitialise,
    "sessions-closed": _fault_close_sessions,
    "finalized-only": _fault_finalise,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_recovery_while_signing(
    keystore: Pkcs11KeyStore,
    keys: dict[KeyAlgorithm, KeyInfo],
    fault: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="signer.keys.store")
    recoveries = keystore.recoveries
    generation = keystore.generation
    _run_signers(keystore, keys, threads=4, per_thread=200, during=lambda: FAULTS[fault](keystore))
    # Four threads failing together cause exactly one recovery (the generation counter).
    assert keystore.recoveries == recoveries + 1
    assert keystore.generation == generation + 1
    assert any("HSM recovered" in r.getMessage() for r in caplog.records)
    assert keystore.healthy
    # Keys are found again through the new sessions.
    assert keystore.public_key(keys[KeyAlgorithm.EC_P384].key_id) == keys[KeyAlgorithm.EC_P384]


def test_recovery_after_logout(
    keystore: Pkcs11KeyStore,
    keys: dict[KeyAlgorithm, KeyInfo],
) -> None:
    """A logout hides private keys (lookups find nothing) rather than raising: still recovered."""
    info = keys[KeyAlgorithm.EC_P256]
    with keystore.exclusive():
        keystore._pooled_sessions()[0].close()  # the login session: C_Logout + C_CloseSession
    recoveries = keystore.recoveries
    digest = Digest.of(HashAlg.SHA256, b"after logout")
    assert verify_signature(
        info.public_key_der,
        digest,
        Scheme.ECDSA,
        keystore.sign_digest(info.key_id, digest, Scheme.ECDSA),
    )
    assert keystore.recoveries == recoveries + 1


def test_public_key_without_private_key(
    keystore: Pkcs11KeyStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Looks like a logout once (one recovery to make sure), then is just NotFound."""
    der = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    key_id = uuid.uuid4().bytes
    lib = pkcs11.lib(keystore.config.module)
    token = lib.get_token(token_label=keystore.config.token_label)
    with token.open(rw=True) as session:
        session.create_object(
            {
                **decode_ec_public_key(der),
                Attribute.ID: key_id,
                Attribute.TOKEN: True,
                Attribute.LABEL: "public-only",
            }
        )
    digest = Digest.of(HashAlg.SHA256, b"x")
    recoveries = keystore.recoveries
    with pytest.raises(NotFound):
        keystore.sign_digest(key_id, digest, Scheme.ECDSA)
    assert keystore.recoveries == recoveries + 1
    # Remembered for this generation: no more recoveries for this key. (Listing only this
    # key's label: the session's token is shared, and a listing of every key would also
    # look into whatever other tests left behind.)
    with pytest.raises(NotFound):
        keystore.sign_digest(key_id, digest, Scheme.ECDSA)
    with pytest.raises(NotFound):
        keystore.key(key_id)
    assert key_id not in {k.key_id for k in keystore.find_keys(label="public-only")}
    assert keystore.recoveries == recoveries + 1
    keystore.delete_key(key_id)  # deletes the lone public key
    with pytest.raises(NotFound):
        keystore.delete_key(key_id)


# --- outages, wrong PIN, missing token: each needs a login of its own, so a subprocess -------


def _outage_child() -> None:
    """Run in a subprocess (one login per process). Prints one JSON object."""
    env = HsmEnv(**{**json.loads(sys.argv[1]), "dir": Path(json.loads(sys.argv[1])["dir"])})
    out: dict[str, Any] = {}
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    def timed(fn: Callable[[], object]) -> tuple[str, float, str]:
        start = time.monotonic()
        try:
            fn()
            name, message = "ok", ""
        except Exception as exc:
            name, message = type(exc).__name__, str(exc)
        return name, time.monotonic() - start, message

    # A wrong PIN is a configuration error, raised at once (never retried: it could lock the
    # token); the failed open leaves the process free to open a store later.
    bad = make_store(env, pin=env.pin + "-wrong", recovery_timeout_s=5.0)
    out["wrong_pin"] = timed(bad.open)
    # A token label nobody has: retried with backoff, then HsmUnavailable.
    missing = make_store(env, token_label="kyso-nobody", recovery_timeout_s=0.6)
    out["missing_token"] = timed(missing.open)

    store = make_store(env, recovery_timeout_s=1.5, backoff_initial_s=0.05, backoff_max_s=0.25)
    store.open()
    info = store.generate_key(KeyAlgorithm.EC_P256, "outage")
    digest = Digest.of(HashAlg.SHA256, b"outage")
    out["before"] = timed(lambda: store.sign_digest(info.key_id, digest, Scheme.ECDSA))
    tokens = env.dir / "tokens"
    away = env.dir / "tokens.away"
    tokens.rename(away)  # the token disappears from under the live sessions
    try:
        out["during"] = timed(lambda: store.sign_digest(info.key_id, digest, Scheme.ECDSA))
        out["during_again"] = timed(lambda: store.sign_digest(info.key_id, digest, Scheme.ECDSA))
        out["healthy_during"] = store.healthy
    finally:
        away.rename(tokens)
    # No traffic: polling `healthy` alone (as the server's health monitor does) heals it.
    start = time.monotonic()
    while not store.healthy and time.monotonic() - start < 8:
        time.sleep(0.05)
    out["healed_after_s"] = time.monotonic() - start
    out["recoveries_before_traffic"] = store.recoveries
    result: list[bytes] = []
    out["after"] = timed(
        lambda: result.append(store.sign_digest(info.key_id, digest, Scheme.ECDSA))
    )
    out["after_verifies"] = bool(result) and verify_signature(
        info.public_key_der, digest, Scheme.ECDSA, result[0]
    )
    out["healthy_after"] = store.healthy
    out["recoveries"] = store.recoveries
    store.close()
    print(json.dumps(out))


@pytest.fixture(scope="module")
def outage_report(tmp_path_factory: pytest.TempPathFactory, hsm_env: HsmEnv) -> dict[str, Any]:
    # A token of its own, so renaming its directory cannot disturb the shared store.
    env = provision(tmp_path_factory.mktemp("hsm-outage"), "kyso-outage")
    arg = json.dumps(
        {
            "softhsm2_conf": env.softhsm2_conf,
            "token_label": env.token_label,
            "pin": env.pin,
            "dir": str(env.dir),
        }
    )
    child_env = {
        **os.environ,
        "SOFTHSM2_CONF": env.softhsm2_conf,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tests.signer.keys.test_store import _outage_child; _outage_child()",
            arg,
        ],
        cwd=REPO,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    report["stderr"] = proc.stderr
    return report


def test_wrong_pin_is_a_config_error_without_retries(outage_report: dict[str, Any]) -> None:
    name, elapsed, message = outage_report["wrong_pin"]
    assert name == "ConfigError"
    assert "PIN" in message and "-wrong" not in message and "CKR" not in message
    assert elapsed < 1.0  # no backoff loop
    assert "-wrong" not in outage_report["stderr"]  # nor in the logs


def test_missing_token_retries_then_unavailable(outage_report: dict[str, Any]) -> None:
    name, elapsed, message = outage_report["missing_token"]
    assert name == "HsmUnavailable"
    assert "kyso-nobody" in message
    # Retried with backoff (0.05 s doubling: more than one attempt takes over 0.1 s), and
    # gave up within its 0.6 s budget instead of hanging. The store stops early when the
    # next sleep would overrun the budget, so the floor is not the budget.
    assert 0.1 < elapsed < 2.0


def test_token_outage_raises_in_bounded_time_then_recovers(
    outage_report: dict[str, Any],
) -> None:
    assert outage_report["before"][0] == "ok"
    for key in ("during", "during_again"):
        name, elapsed, message = outage_report[key]
        assert name == HsmUnavailable.__name__, outage_report[key]
        assert elapsed < 1.5 + 1.0, f"{key} took {elapsed:.2f} s"
        assert "CKR" not in message and "Error" not in message
    assert outage_report["healthy_during"] is False
    assert outage_report["healed_after_s"] < 5, "healthy did not recover without traffic"
    assert outage_report["recoveries_before_traffic"] == 1
    assert outage_report["after"][0] == "ok"
    assert outage_report["after_verifies"] is True
    assert outage_report["healthy_after"] is True
    assert outage_report["recoveries"] >= 1
