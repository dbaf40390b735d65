"""Raw PKCS#11 signing rate, the yardstick for ``kyso bench --raw``.

    python -m signer.keys.rawbench --algorithm rsa-2048 --threads 2 --duration 5

Opens the token configured by the usual settings (KYSO_HSM_*, SOFTHSM2_CONF),
generates a throwaway key of the given type, signs random digests with one
thread per core for ``duration`` seconds straight through the key store (no
gRPC, no CMS, no database), deletes the key and prints one JSON line:
``{"algorithm": ..., "threads": N, "signatures": N, "seconds": S, "rate": R}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

from signer.config import load_settings
from signer.digest import Digest, HashAlg
from signer.keys.store import HsmConfig, Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm


def measure(store: Pkcs11KeyStore, algorithm: KeyAlgorithm, threads: int,
            duration: float) -> dict[str, object]:
    info = store.generate_key(algorithm, label=f"seal-rawbench-{os.getpid()}")
    scheme = algorithm.default_scheme
    digest = Digest(HashAlg.SHA256, os.urandom(32))
    counts = [0] * threads
    stop = time.monotonic() + duration

    def work(i: int) -> None:
        n = 0
        while time.monotonic() < stop:
            store.sign_digest(info.key_id, digest, scheme)
            n += 1
        counts[i] = n

    try:
        store.sign_digest(info.key_id, digest, scheme)  # warm the handle caches
        start = time.monotonic()
        workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        seconds = time.monotonic() - start
    finally:
        store.delete_key(info.key_id)
    total = sum(counts)
    return {"algorithm": algorithm.value, "threads": threads, "signatures": total,
            "seconds": round(seconds, 3), "rate": round(total / seconds, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--algorithm", default="rsa-2048")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--duration", type=float, default=5.0)
    args = p.parse_args(argv)
    s = load_settings()
    store = Pkcs11KeyStore(HsmConfig(module=s.hsm.module, token_label=s.hsm.token_label,
                                     pin=s.hsm.read_pin(), pool_size=max(args.threads, 1)))
    store.open()
    try:
        result = measure(store, KeyAlgorithm.parse(args.algorithm), args.threads, args.duration)
    finally:
        store.close()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
