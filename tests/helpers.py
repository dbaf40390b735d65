"""Shared test helpers: SoftHSM2 provisioning, key stores, independent signature checks."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.serialization import load_der_public_key

from signer.digest import Digest, HashAlg
from signer.keys.store import DEFAULT_MODULE, HsmConfig, Pkcs11KeyStore
from signer.keys.types import Scheme

REPO = Path(__file__).resolve().parent.parent
PROVISION = REPO / "hsm-sim" / "provision.sh"

# Variables of provision.sh that would change where PINs come from.
_PROVISION_INPUTS = (
    "KYSO_HSM_PIN",
    "KYSO_HSM_SO_PIN",
    "KYSO_HSM_PIN_FILE",
    "KYSO_HSM_SO_PIN_FILE",
    "KYSO_HSM_DIR",
)


@dataclass(frozen=True)
class HsmEnv:
    """A provisioned SoftHSM2 token. ``pin`` is the user PIN."""

    softhsm2_conf: str
    token_label: str
    pin: str
    dir: Path


def hsm_unavailable_reason() -> str | None:
    """Why HSM tests cannot run here, or None if they can."""
    if shutil.which("softhsm2-util") is None:
        return "softhsm2-util not found: install Debian's softhsm2 package"
    if not os.path.exists(DEFAULT_MODULE):
        return f"p11-kit proxy module {DEFAULT_MODULE} not found: install p11-kit"
    return None


def provision(directory: Path, label: str) -> HsmEnv:
    """Run ``hsm-sim/provision.sh`` into ``directory`` and parse the exports it prints."""
    env = {k: v for k, v in os.environ.items() if k not in _PROVISION_INPUTS}
    env["KYSO_HSM_TOKEN_LABEL"] = label
    proc = subprocess.run(
        [str(PROVISION), str(directory)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"provision.sh failed ({proc.returncode}): {proc.stderr.strip()}")
    exports: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            exports[name] = value
    pin = Path(exports["KYSO_HSM_PIN_FILE"]).read_text().strip()
    return HsmEnv(
        softhsm2_conf=exports["SOFTHSM2_CONF"],
        token_label=exports["KYSO_HSM_TOKEN_LABEL"],
        pin=pin,
        dir=directory.resolve(),
    )


def make_store(hsm_env: HsmEnv, **overrides: Any) -> Pkcs11KeyStore:
    """An unopened store on ``hsm_env``'s token; ``overrides`` replace HsmConfig fields."""
    fields: dict[str, Any] = {
        "token_label": hsm_env.token_label,
        "pin": hsm_env.pin,
        "pool_size": 4,
    }
    fields.update(overrides)
    return Pkcs11KeyStore(HsmConfig(**fields))


_HASHES: dict[HashAlg, type[hashes.HashAlgorithm]] = {
    HashAlg.SHA256: hashes.SHA256,
    HashAlg.SHA384: hashes.SHA384,
    HashAlg.SHA512: hashes.SHA512,
}


def verify_signature(
    public_key_der: bytes, digest: Digest, scheme: Scheme, signature: bytes
) -> bool:
    """Check a signature over a digest with pyca/cryptography (Prehashed)."""
    public = load_der_public_key(public_key_der)
    hash_alg = _HASHES[digest.alg]()
    prehashed = utils.Prehashed(hash_alg)
    try:
        if scheme is Scheme.ECDSA:
            assert isinstance(public, ec.EllipticCurvePublicKey)
            public.verify(signature, digest.value, ec.ECDSA(prehashed))
        elif scheme is Scheme.PSS:
            assert isinstance(public, rsa.RSAPublicKey)
            pss = padding.PSS(
                mgf=padding.MGF1(_HASHES[digest.alg]()), salt_length=digest.alg.digest_size
            )
            public.verify(signature, digest.value, pss, prehashed)
        else:
            assert isinstance(public, rsa.RSAPublicKey)
            public.verify(signature, digest.value, padding.PKCS1v15(), prehashed)
    except InvalidSignature:
        return False
    return True


# --- databases -------------------------------------------------------------------------------

POSTGRES_ENV = "KYSO_TEST_POSTGRES_URL"  # e.g. postgresql+psycopg://postgres@/postgres?host=/tmp/x


def fresh_database_url(directory: Path) -> str:
    """A new, empty database: a SQLite file in ``directory``, or, when
    ``KYSO_TEST_POSTGRES_URL`` names a PostgreSQL server, a new database on it."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        return f"sqlite:///{directory / 'kyso.db'}"
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"kyso_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def copy_database(url: str) -> str:
    """A new PostgreSQL database made from the one at ``url`` (which nobody may be
    connected to): ``CREATE DATABASE … TEMPLATE``, much faster than building it again."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    source = make_url(url)
    name = f"kyso_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    admin.dispose()
    return source.set(database=name).render_as_string(hide_password=False)
