"""Nodes reach a SoftHSM2 token through ``hsm-sim/serve-socket.sh`` (p11-kit server over a
Unix socket, ``p11-kit-client.so`` in the node), the way they would reach a network HSM.

Each node is a subprocess: p11-kit-client.so reads ``P11_KIT_SERVER_ADDRESS`` when it is
loaded (``C_GetFunctionList``), python-pkcs11 loads a module path once per process and the
key store allows one login per module per process, so two nodes cannot live in this one.
The nodes get no ``SOFTHSM2_CONF``: only the server needs it.

Signatures are checked here, with pyca/cryptography, against the public key the first node
got when it generated the key.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from signer.digest import Digest, HashAlg
from signer.keys.store import HsmConfig, Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, Scheme
from tests.helpers import REPO, hsm_unavailable_reason, provision, verify_signature

SERVE = REPO / "hsm-sim" / "serve-socket.sh"
P11_KIT_SERVER = Path("/usr/libexec/p11-kit/p11-kit-server")
P11_KIT_CLIENT = Path("/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so")
LABEL = "kyso-socket"
THREADS = 4
PER_THREAD = 50
NODE_TIMEOUT_S = 120


def _unavailable() -> str | None:
    reason = hsm_unavailable_reason()
    if reason is None and not P11_KIT_SERVER.is_file():
        reason = f"{P11_KIT_SERVER} not found: install Debian's p11-kit package"
    if reason is None and not P11_KIT_CLIENT.is_file():
        reason = f"{P11_KIT_CLIENT} not found: install Debian's p11-kit-modules package"
    return reason


_REASON = _unavailable()
pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


# --- a node: runs in a subprocess ------------------------------------------------------------


def _plan(node: str, worker: int, i: int) -> tuple[KeyAlgorithm, HashAlg, Scheme, bytes]:
    """RSA-2048 (PKCS#1 v1.5 and PSS) and P-256 over every hash, interleaved."""
    hash_alg = list(HashAlg)[(worker + i) % 3]
    message = f"{node} w{worker} i{i}".encode()
    kind = (worker + 2 * i) % 3
    if kind == 0:
        return KeyAlgorithm.RSA2048, hash_alg, Scheme.PKCS1V15, message
    if kind == 1:
        return KeyAlgorithm.RSA2048, hash_alg, Scheme.PSS, message
    return KeyAlgorithm.EC_P256, hash_alg, Scheme.ECDSA, message


def _sign_concurrently(
    store: Pkcs11KeyStore, node: str, key_ids: dict[KeyAlgorithm, bytes]
) -> dict[str, Any]:
    results: list[list[list[str]]] = [[] for _ in range(THREADS)]
    errors: list[str] = []

    def work(worker: int) -> None:
        try:
            for i in range(PER_THREAD):
                alg, hash_alg, scheme, message = _plan(node, worker, i)
                signature = store.sign_digest(key_ids[alg], Digest.of(hash_alg, message), scheme)
                results[worker].append(
                    [alg.value, hash_alg.value, scheme.value, message.hex(), signature.hex()]
                )
        except Exception as exc:  # reported to the test
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=NODE_TIMEOUT_S / 2)
    hung = sum(t.is_alive() for t in threads)
    return {
        "signed": [s for batch in results for s in batch],
        "errors": errors,
        "hung": hung,
        "recoveries": store.recoveries,
    }


def _node() -> None:
    """One node. argv: name, PIN, and key ids (hex) to look up, or none to generate keys.

    Prints a JSON line with the keys it sees, waits for a line on stdin, signs from
    THREADS threads, prints a JSON line with the signatures, closes its store.
    """
    name, pin, *wanted = sys.argv[1:]
    store = Pkcs11KeyStore(
        HsmConfig(module=os.environ["KYSO_HSM_MODULE"], token_label=LABEL, pin=pin, pool_size=4)
    )
    store.open()
    try:
        if wanted:
            infos = [store.public_key(bytes.fromhex(key_id)) for key_id in wanted]
        else:
            infos = [
                store.generate_key(alg, f"{name}-{alg.value}")
                for alg in (KeyAlgorithm.RSA2048, KeyAlgorithm.EC_P256)
            ]
        listed = sorted(k.key_id.hex() for k in store.find_keys())
        keys = {i.algorithm.value: [i.key_id.hex(), i.public_key_der.hex()] for i in infos}
        print(json.dumps({"keys": keys, "listed": listed}), flush=True)
        sys.stdin.readline()  # go
        key_ids = {i.algorithm: i.key_id for i in infos}
        print(json.dumps(_sign_concurrently(store, name, key_ids)), flush=True)
    finally:
        store.close()


# --- the test --------------------------------------------------------------------------------


@dataclass
class Served:
    env: dict[str, str]  # what a node's environment needs (the script's exports)
    pin: str
    dir: Path


def _exports(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            out[name] = value
    return out


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KYSO_", "SOFTHSM2_"))}
    env["KYSO_HSM_TOKEN_LABEL"] = LABEL
    return subprocess.run(
        [str(SERVE), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A fresh token served on DIR/p11-kit.sock; stopped afterwards."""
    hsm = provision(tmp_path / "hsm", LABEL)
    started = _serve("--background", str(hsm.dir))
    assert started.returncode == 0, started.stderr
    try:
        exports = _exports(started.stdout)
        assert exports["KYSO_HSM_MODULE"] == str(P11_KIT_CLIENT)
        assert exports["P11_KIT_SERVER_ADDRESS"] == f"unix:path={hsm.dir}/p11-kit.sock"
        again = _serve("--background", str(hsm.dir))  # idempotent: the same server
        assert again.returncode == 0 and "already serving" in again.stderr, again.stderr
        assert _exports(again.stdout) == exports
        yield Served(env=exports, pin=hsm.pin, dir=hsm.dir)
    finally:
        stopped = _serve("--stop", str(hsm.dir))
        assert stopped.returncode == 0, stopped.stderr
    assert not (hsm.dir / "p11-kit.sock").exists()
    assert not (hsm.dir / "p11-kit-server.pid").exists()


def _start_node(served: Served, name: str, *key_ids: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KYSO_", "SOFTHSM2_"))}
    env.update(served.env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    code = "from tests.integration.test_hsm_socket import _node; _node()"
    return subprocess.Popen(
        [sys.executable, "-c", code, name, served.pin, *key_ids],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_json(node: subprocess.Popen[str]) -> dict[str, Any]:
    """The node's next JSON line; on failure, what it wrote to stderr."""
    stdout: IO[str] | None = node.stdout
    assert stdout is not None
    line = stdout.readline()
    if not line:
        node.wait(timeout=NODE_TIMEOUT_S)
        stderr = node.stderr.read() if node.stderr else ""
        pytest.fail(f"node exited ({node.returncode}) without answering:\n{stderr}")
    result: dict[str, Any] = json.loads(line)
    return result


def test_two_nodes_sign_concurrently_through_the_socket(served: Served) -> None:
    first = _start_node(served, "node-a")
    second: subprocess.Popen[str] | None = None
    try:
        generated = _read_json(first)["keys"]
        assert set(generated) == {KeyAlgorithm.RSA2048.value, KeyAlgorithm.EC_P256.value}
        key_ids = sorted(key_id for key_id, _ in generated.values())

        # A second node, over the same socket, sees the very same keys.
        second = _start_node(served, "node-b", *key_ids)
        seen = _read_json(second)
        assert seen["keys"] == generated
        assert seen["listed"] == key_ids

        # Both nodes sign at once, each from THREADS threads.
        reports: dict[str, dict[str, Any]] = {}
        for node in (first, second):
            assert node.stdin is not None
            node.stdin.write("go\n")
            node.stdin.flush()
        for name, node in (("node-a", first), ("node-b", second)):
            reports[name] = _read_json(node)
            node.wait(timeout=NODE_TIMEOUT_S)
            stderr = node.stderr.read() if node.stderr else ""
            assert node.returncode == 0, stderr
    finally:
        for node in (first, second):
            if node is not None and node.poll() is None:
                node.kill()
                node.wait()

    public = {alg: bytes.fromhex(der) for alg, (_, der) in generated.items()}
    for name, report in reports.items():
        assert report["errors"] == [] and report["hung"] == 0, (name, report["errors"])
        assert report["recoveries"] == 0, name
        assert len(report["signed"]) == THREADS * PER_THREAD, name
        for alg, hash_alg, scheme, message, signature in report["signed"]:
            digest = Digest.of(HashAlg(hash_alg), bytes.fromhex(message))
            assert verify_signature(
                public[alg], digest, Scheme(scheme), bytes.fromhex(signature)
            ), (name, alg, scheme, message)
    signed_by = {n: {tuple(s[:3]) for s in r["signed"]} for n, r in reports.items()}
    assert all(len(kinds) == 9 for kinds in signed_by.values())  # 3 schemes x 3 hashes
