"""Session budgets of the key store (``HsmConfig.session_budgets``), on a real SoftHSM2
token: signing with keys of a budgeted use never holds more sessions than its budget,
and the rest of the pool stays free for other keys (issue 12.6: timestamping cannot
starve agencies' signing).

The store runs in a child process with a token of its own (one login per process,
docs/limits.md trap 2: the suite's shared store is already logged in here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from signer.errors import ConfigError
from signer.keys.store import HsmConfig
from signer.keys.types import KeyUse
from tests.helpers import REPO, hsm_unavailable_reason, provision

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


def test_a_budget_must_fit_the_pool() -> None:
    with pytest.raises(ConfigError, match=r"tsa session budget must be 1\.\.pool_size"):
        HsmConfig(token_label="t", pin="p", pool_size=2, session_budgets={KeyUse.TSA: 3})
    with pytest.raises(ConfigError, match="tsa session budget"):
        HsmConfig(token_label="t", pin="p", pool_size=2, session_budgets={KeyUse.TSA: 0})
    HsmConfig(token_label="t", pin="p", pool_size=2, session_budgets={KeyUse.TSA: 2})


def _budget_child() -> None:
    """Sign from 8 threads at once with a TSA key (budget 1 of a pool of 4) and then with a
    seal key (no budget), watching how many sessions are lent out; meanwhile sign with the
    seal key from one more thread. Prints a JSON report."""
    from signer.digest import Digest, HashAlg
    from signer.keys.types import KeyAlgorithm, Scheme
    from signer.runtime.observe import HSM_SESSIONS_IN_USE
    from tests.helpers import HsmEnv, make_store

    a = json.loads(sys.argv[1])
    env = HsmEnv(a["softhsm2_conf"], a["token_label"], a["pin"], Path(a["dir"]))
    store = make_store(env, pool_size=4, session_budgets={KeyUse.TSA: 1})
    store.open()
    # RSA-4096: slow enough (~10 ms a signature) that sessions are visibly held.
    tsa = store.generate_key(KeyAlgorithm.RSA4096, "kyso-tsa")
    seal = store.generate_key(KeyAlgorithm.RSA4096, "seal-budget")
    digest = Digest.of(HashAlg.SHA256, b"budget")

    def saturate(key_id: bytes, use: KeyUse) -> dict[str, Any]:
        stop = threading.Event()
        peak = [0.0]
        errors: list[str] = []
        beside: list[str] = []

        def sampler() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], HSM_SESSIONS_IN_USE.collect()[0].samples[0].value)

        def hammer() -> None:
            for _ in range(25):
                try:
                    store.sign_digest(key_id, digest, Scheme.PKCS1V15, use=use)
                except Exception as exc:
                    errors.append(repr(exc))

        threads = [threading.Thread(target=hammer) for _ in range(8)]
        watch = threading.Thread(target=sampler)
        watch.start()
        for t in threads:
            t.start()
        if use is KeyUse.TSA:
            # While the TSA threads hold their budget, a seal signature still finds a session.
            for _ in range(10):
                try:
                    store.sign_digest(seal.key_id, digest, Scheme.PKCS1V15)
                    beside.append("ok")
                except Exception as exc:
                    beside.append(repr(exc))
        for t in threads:
            t.join()
        stop.set()
        watch.join()
        return {"peak": peak[0], "errors": errors, "beside": beside}

    out = {"tsa": saturate(tsa.key_id, KeyUse.TSA), "seal": saturate(seal.key_id, KeyUse.SEAL)}
    store.close()
    print(json.dumps(out))


def test_budgeted_use_holds_at_most_its_sessions(tmp_path: Path) -> None:
    reason = hsm_unavailable_reason()
    if reason:
        pytest.skip(reason)
    env = provision(tmp_path / "hsm", "kyso-budget")
    arg = json.dumps({"softhsm2_conf": env.softhsm2_conf, "token_label": env.token_label,
                      "pin": env.pin, "dir": str(env.dir)})
    child_env = {
        **os.environ,
        "SOFTHSM2_CONF": env.softhsm2_conf,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.run(
        [sys.executable, "-c",
         "from tests.signer.keys.test_budgets import _budget_child; _budget_child()", arg],
        cwd=REPO, env=child_env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    tsa, seal = report["tsa"], report["seal"]
    assert not tsa["errors"] and not seal["errors"], (tsa["errors"][:3], seal["errors"][:3])
    # The seal signatures beside the TSA threads found sessions of their own...
    assert tsa["beside"] == ["ok"] * 10, tsa["beside"]
    # ...and the 8 TSA threads never held more than their one session (plus, at most, the
    # one seal signature running beside them), while 8 seal threads fill the whole pool,
    # so the watch can see more than one.
    assert tsa["peak"] <= 2, tsa
    assert seal["peak"] >= 3, seal
