"""The PKCS#11 key store: keys generated and used inside the HSM, never outside it.

This is the only module of kyso that imports ``pkcs11``, and :func:`map_pkcs11_error`
is the one place where a ``pkcs11`` exception becomes a kyso error.

Process model (docs/limits.md, traps 1 and 2)
    * The PKCS#11 module is loaded through p11-kit's proxy by default: SoftHSM2 loaded
      directly turns its locks off under python-pkcs11 and crashes under threads.
    * One library initialisation and one login per process: only one store may be open per
      module in a process. Every pooled session after the login session is logged in too.

Concurrency
    A thread borrows one pooled session for one operation. Every PKCS#11 call runs under the
    shared side of a readers-writer guard; recovery (``C_Finalize``/``C_Initialize``) takes the
    exclusive side, so it never runs while another thread is inside the module.

Budgets
    ``HsmConfig.session_budgets`` caps how many of the ``pool_size`` sessions signing with
    keys of one :class:`~signer.keys.types.KeyUse` may hold at once (the node gives the TSA
    ``tsa.max_hsm_sessions``): a flood of anonymous timestamp requests then waits for its own
    few sessions and leaves the rest of the pool to agencies' signatures. A call waits for a
    place in its budget before it waits for a session, both within ``acquire_timeout_s``.

Recovery
    Errors meaning the session, login, token, device or library went away trigger recovery:
    one thread finalises and re-initialises the library, finds the token by label, logs in,
    rebuilds the pool and drops every cached key handle, with bounded exponential backoff.
    A generation counter makes N threads failing at once cause one recovery; the others wait
    and retry. A call spends at most ``recovery_timeout_s`` recovering, then raises
    :class:`~signer.errors.HsmUnavailable`. A wrong PIN is never retried (it could lock the
    token): it raises :class:`~signer.errors.ConfigError` and the store stops trying.

    Some losses raise nothing: after a logout or with the token directory gone, SoftHSM2
    simply shows no private objects. So a key lookup that finds nothing first checks the
    token is there (``C_GetTokenInfo``) and, if the public half is visible without the
    private one, recovers once before answering NotFound (remembered per generation).
    ``healthy`` never blocks; when it finds the store broken it starts one recovery in a
    background thread, so an idle server marked NOT_SERVING still heals.
"""

from __future__ import annotations

import enum
import logging
import os
import queue
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import pkcs11
from asn1crypto.core import OctetString
from asn1crypto.keys import ECDomainParameters
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pkcs11 import MGF, Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.types import Object, Session, SignMixin, Token
from pkcs11.util.ec import encode_ecdsa_signature, encode_named_curve_parameters

from signer.digest import Digest, HashAlg
from signer.errors import (
    AlreadyExists,
    ConfigError,
    HsmUnavailable,
    InvalidRequest,
    KysoError,
    NotFound,
    NotUsable,
)
from signer.keys.types import KeyAlgorithm, KeyInfo, KeyUse, Scheme, SigningKey
from signer.runtime.observe import HSM_ERRORS, HSM_SESSIONS_IN_USE, hsm_timer

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as _Library

__all__ = ["DEFAULT_MODULE", "HsmConfig", "Pkcs11KeyStore", "map_pkcs11_error"]

logger = logging.getLogger(__name__)

DEFAULT_MODULE = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class HsmConfig:
    """Where the keys live and how hard to try to reach them. The PIN never shows in a repr."""

    module: str = DEFAULT_MODULE
    token_label: str
    pin: str = field(repr=False)
    pool_size: int = 4
    recovery_timeout_s: float = 10.0  # per call: total time spent recovering before giving up
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 1.0
    acquire_timeout_s: float = 30.0  # per call: longest wait for a free pooled session
    # At most this many sessions at once for signing with keys of a use (e.g. {TSA: 2});
    # uses not named share the whole pool.
    session_budgets: Mapping[KeyUse, int] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        problems = []
        if not self.token_label:
            problems.append("token_label is empty")
        if not self.pin:
            problems.append("the PIN is empty")
        if self.pool_size < 1:
            problems.append(f"pool_size must be at least 1, got {self.pool_size}")
        if self.recovery_timeout_s <= 0:
            problems.append("recovery_timeout_s must be positive")
        if self.acquire_timeout_s <= 0:
            problems.append("acquire_timeout_s must be positive")
        if not 0 < self.backoff_initial_s <= self.backoff_max_s:
            problems.append("need 0 < backoff_initial_s <= backoff_max_s")
        for use, n in self.session_budgets.items():
            if not 1 <= n <= self.pool_size:
                problems.append(f"the {use.value} session budget must be 1..pool_size "
                                f"({self.pool_size}), got {n}")
        if problems:
            raise ConfigError("invalid HSM configuration: " + "; ".join(problems))


# --- mechanism tables ------------------------------------------------------------------------

# RFC 8017 §9.2 note 1: DER DigestInfo prefixes, hash value appended.
_DIGEST_INFO_PREFIX: dict[HashAlg, bytes] = {
    HashAlg.SHA256: bytes.fromhex("3031300d060960864801650304020105000420"),
    HashAlg.SHA384: bytes.fromhex("3041300d060960864801650304020205000430"),
    HashAlg.SHA512: bytes.fromhex("3051300d060960864801650304020305000440"),
}
_HASH_MECHANISM: dict[HashAlg, tuple[Mechanism, MGF]] = {
    HashAlg.SHA256: (Mechanism.SHA256, MGF.SHA256),
    HashAlg.SHA384: (Mechanism.SHA384, MGF.SHA384),
    HashAlg.SHA512: (Mechanism.SHA512, MGF.SHA512),
}
_RSA_BITS: dict[KeyAlgorithm, int] = {
    KeyAlgorithm.RSA2048: 2048,
    KeyAlgorithm.RSA3072: 3072,
    KeyAlgorithm.RSA4096: 4096,
}
_EC_CURVE: dict[KeyAlgorithm, str] = {
    KeyAlgorithm.EC_P256: "secp256r1",
    KeyAlgorithm.EC_P384: "secp384r1",
}
_CURVE_ALG = {name: alg for alg, name in _EC_CURVE.items()}
# RFC 8410: id-Ed25519; PKCS#11 v3.0 names Edwards curves by this OID in CKA_EC_PARAMS.
_ED25519_OID_DER = bytes.fromhex("06032b6570")
_CRYPTOGRAPHY_CURVE: dict[KeyAlgorithm, ec.EllipticCurve] = {
    KeyAlgorithm.EC_P256: ec.SECP256R1(),
    KeyAlgorithm.EC_P384: ec.SECP384R1(),
}


def _sign_args(algorithm: KeyAlgorithm, digest: Digest, scheme: Scheme) -> dict[str, Any]:
    """Data and mechanism for one signature (pre-transform; ECDSA is post-transformed)."""
    if scheme is Scheme.PKCS1V15:
        return {
            "data": _DIGEST_INFO_PREFIX[digest.alg] + digest.value,
            "mechanism": Mechanism.RSA_PKCS,
        }
    if scheme is Scheme.PSS:
        hash_mech, mgf = _HASH_MECHANISM[digest.alg]
        # RFC 8017 §9.1: MGF1 with the message hash; salt as long as the hash.
        return {
            "data": digest.value,
            "mechanism": Mechanism.RSA_PKCS_PSS,
            "mechanism_param": (hash_mech, mgf, digest.alg.digest_size),
        }
    # SoftHSM2 has no CKM_ECDSA_SHA256 (docs/limits.md trap 3): sign the digest with CKM_ECDSA.
    return {"data": digest.value, "mechanism": Mechanism.ECDSA}


# --- error translation -----------------------------------------------------------------------

_RECOVERABLE: tuple[type[p11.PKCS11Error], ...] = (
    p11.SessionHandleInvalid,
    p11.SessionClosed,
    p11.DeviceError,
    p11.DeviceRemoved,
    p11.TokenNotPresent,
    p11.TokenNotRecognised,
    p11.UserNotLoggedIn,
    p11.GeneralError,
    p11.NoSuchToken,
    p11.SlotIDInvalid,
    p11.ObjectHandleInvalid,
    p11.KeyHandleInvalid,
)
_STALE_HANDLE: tuple[type[p11.PKCS11Error], ...] = (p11.ObjectHandleInvalid, p11.KeyHandleInvalid)
_BAD_PIN: tuple[type[p11.PKCS11Error], ...] = (
    p11.PinIncorrect,
    p11.PinInvalid,
    p11.PinLenRange,
    p11.PinLocked,
    p11.PinExpired,
    p11.UserPinNotInitialized,
)


def _not_initialized(exc: BaseException) -> bool:
    # python-pkcs11 raises a bare PKCS11Error for CKR_CRYPTOKI_NOT_INITIALIZED.
    return type(exc) is p11.PKCS11Error and "not initialized" in str(exc)


def _is_recoverable(exc: BaseException) -> bool:
    return isinstance(exc, _RECOVERABLE) or _not_initialized(exc)


def _describe(exc: BaseException) -> str:
    """For logs only: the PKCS#11 error class and its text, never shown to clients."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def map_pkcs11_error(exc: p11.PKCS11Error, action: str, *, token_label: str = "") -> KysoError:
    """Translate a ``pkcs11`` exception raised while trying to ``action`` into a kyso error.

    The message is for the person who has to act; the PKCS#11 detail goes to the log.
    Callers raise the result ``from exc``.
    """
    token = f" '{token_label}'" if token_label else ""
    logger.info("PKCS#11 failure while trying to %s: %s", action, _describe(exc))
    if isinstance(exc, (p11.PinLocked, p11.PinExpired)):
        return ConfigError(
            f"the user PIN of HSM token{token} is locked or expired: an HSM officer must "
            "reset it, then restart kyso"
        )
    if isinstance(exc, _BAD_PIN):
        return ConfigError(
            f"HSM token{token} rejected the configured user PIN: check the PIN file, then "
            "restart kyso (the PIN is not retried automatically, to avoid locking the token)"
        )
    if isinstance(exc, p11.MultipleTokensReturned):
        return ConfigError(f"more than one HSM token is labelled{token}: labels must be unique")
    if isinstance(exc, p11.NoSuchToken):
        return HsmUnavailable(
            f"no HSM token labelled{token} is present: check the token label and that the "
            "HSM is connected"
        )
    if isinstance(exc, p11.NoSuchKey):
        return NotFound(f"no such key in the HSM (while trying to {action})")
    if isinstance(exc, (p11.MechanismInvalid, p11.MechanismParamInvalid, p11.FunctionNotSupported)):
        return NotUsable(f"the HSM does not support what is needed to {action}")
    if isinstance(exc, (p11.KeyTypeInconsistent, p11.KeySizeRange)):
        return NotUsable(f"the HSM key cannot be used to {action}")
    if isinstance(exc, (p11.DataInvalid, p11.DataLenRange)):
        return InvalidRequest(f"the HSM refused the input: cannot {action} with this key")
    if isinstance(exc, (p11.TokenWriteProtected, p11.SessionReadOnly)):
        return NotUsable(f"the HSM token{token} is write-protected: cannot {action}")
    if isinstance(exc, (p11.DeviceMemory, p11.HostMemory, p11.SessionCount)):
        return HsmUnavailable(f"the HSM is out of resources: cannot {action} now, retry later")
    if _is_recoverable(exc):
        return HsmUnavailable(f"the HSM token{token} is not reachable: cannot {action} now")
    return KysoError(f"the HSM failed to {action}; details are in the signer log")


# --- concurrency helpers ---------------------------------------------------------------------


class _GuardTimeout(Exception):
    pass


class _RWGuard:
    """Readers-writer lock preferring writers, so recovery is not starved by a busy signer.

    Not re-entrant: a thread holding the shared side must not take it again.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def acquire_shared(self, timeout: float | None) -> bool:
        with self._cond:
            if not self._cond.wait_for(
                lambda: not self._writer and not self._writers_waiting, timeout
            ):
                return False
            self._readers += 1
            return True

    def release_shared(self) -> None:
        with self._cond:
            self._readers -= 1
            if not self._readers:
                self._cond.notify_all()

    @contextmanager
    def shared(self, timeout: float | None) -> Iterator[None]:
        if not self.acquire_shared(timeout):
            raise _GuardTimeout
        try:
            yield
        finally:
            self.release_shared()

    @contextmanager
    def exclusive(self, timeout: float | None) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            try:
                ok = self._cond.wait_for(lambda: not self._writer and not self._readers, timeout)
            finally:
                self._writers_waiting -= 1
            if not ok:
                self._cond.notify_all()  # readers held back by this writer may go on
                raise _GuardTimeout
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class _Deadline:
    """A call's recovery budget; the clock starts at the first trouble, not at the call."""

    def __init__(self, budget_s: float) -> None:
        self._budget = budget_s
        self._end: float | None = None

    def start(self) -> None:
        if self._end is None:
            self._end = time.monotonic() + self._budget

    def remaining(self) -> float:
        self.start()
        assert self._end is not None
        return max(0.0, self._end - time.monotonic())


# --- pooled sessions and cached keys ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Key:
    obj: SignMixin
    algorithm: KeyAlgorithm
    label: str


@dataclass(slots=True, eq=False)
class _Pooled:
    """One session of the pool, with the key handles found through it (bound to it)."""

    session: Session
    generation: int
    keys: dict[bytes, _Key] = field(default_factory=dict)


class _SuspectLoggedOut(Exception):
    """Public key objects are visible but private ones are not: the login may have gone."""

    def __init__(self, key_ids: tuple[bytes, ...]) -> None:
        super().__init__("private key objects not visible")
        self.key_ids = key_ids


class _State(enum.Enum):
    CLOSED = "closed"
    READY = "ready"
    BROKEN = "broken"  # sessions are gone; the next call recovers
    FAILED = "failed"  # a wrong PIN: never retried


_OPEN_MODULES: set[str] = set()
_APPLICATION = "kyso"  # CKA_APPLICATION of kyso's data objects
_OPEN_MODULES_LOCK = threading.Lock()

_MAX_RECOVERIES_PER_CALL = 3


def _algorithm_of(obj: Object) -> KeyAlgorithm | None:
    """The kyso algorithm of a key object (public or private), None if kyso does not use it."""
    key_type = obj[Attribute.KEY_TYPE]
    if key_type == KeyType.RSA:
        bits = len(obj[Attribute.MODULUS].lstrip(b"\0")) * 8
        return next((a for a, n in _RSA_BITS.items() if n == bits), None)
    if key_type == KeyType.EC:
        params = ECDomainParameters.load(obj[Attribute.EC_PARAMS])
        if params.name != "named":
            return None
        return _CURVE_ALG.get(params.chosen.native)
    if key_type == KeyType.EC_EDWARDS:
        raw = bytes(obj[Attribute.EC_PARAMS])
        # the OID, or the curve's name as a PrintableString (PKCS#11 v3.0 allows both)
        return KeyAlgorithm.ED25519 if raw == _ED25519_OID_DER or b"edwards25519" in raw else None
    return None


def _ec_point(raw: bytes, algorithm: KeyAlgorithm) -> bytes:
    # PKCS#11 v2.40 §2.3.3: CKA_EC_POINT is a DER OCTET STRING; some modules return it bare.
    if algorithm is KeyAlgorithm.ED25519:
        return raw if len(raw) == 32 else bytes(OctetString.load(raw).native)
    coord = (_CRYPTOGRAPHY_CURVE[algorithm].key_size + 7) // 8
    if len(raw) == 1 + 2 * coord and raw[0] == 4:
        return raw
    point: bytes = OctetString.load(raw).native
    return point


def _spki(obj: Object, algorithm: KeyAlgorithm) -> bytes:
    """DER SubjectPublicKeyInfo from a public key object (or an RSA private key's public part)."""
    public: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
    if algorithm.is_rsa:
        n = int.from_bytes(obj[Attribute.MODULUS], "big")
        e = int.from_bytes(obj[Attribute.PUBLIC_EXPONENT], "big")
        public = rsa.RSAPublicNumbers(e, n).public_key()
    elif algorithm is KeyAlgorithm.ED25519:
        public = ed25519.Ed25519PublicKey.from_public_bytes(
            _ec_point(obj[Attribute.EC_POINT], algorithm))
    else:
        public = ec.EllipticCurvePublicKey.from_encoded_point(
            _CRYPTOGRAPHY_CURVE[algorithm], _ec_point(obj[Attribute.EC_POINT], algorithm)
        )
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True, slots=True)
class _StoreSigningKey:
    """A :class:`~signer.keys.types.SigningKey` that delegates to the store, for one use."""

    store: Pkcs11KeyStore
    key_id: bytes
    algorithm: KeyAlgorithm
    use: KeyUse

    def sign_digest(self, digest: Digest, scheme: Scheme) -> bytes:
        return self.store.sign_digest(self.key_id, digest, scheme, use=self.use)


# --- the store -------------------------------------------------------------------------------


class Pkcs11KeyStore:
    """Signing keys in one PKCS#11 token, shared by all threads of the process."""

    def __init__(self, config: HsmConfig) -> None:
        self._config = config
        self._lib: _Library | None = None
        self._pool: queue.Queue[_Pooled] = queue.Queue()
        self._pooled: list[_Pooled] = []
        self._guard = _RWGuard()
        self._recover_lock = threading.Lock()
        self._keygen_lock = threading.Lock()
        self._state = _State.CLOSED
        self._generation = 0
        self._recoveries = 0
        # The last recovery gave up and none has succeeded since: calls fail at once
        # (HsmUnavailable) while a background recovery keeps trying, instead of each
        # call waiting out recovery_timeout_s of its own.
        self._gave_up = False
        self._public_only: dict[bytes, int] = {}  # key id -> generation it was seen so
        self._failure: KysoError | None = None
        self._healer: threading.Thread | None = None
        self._healer_lock = threading.Lock()
        self._budgets = {use: threading.BoundedSemaphore(n)
                         for use, n in config.session_budgets.items()}

    def __repr__(self) -> str:
        return (
            f"<Pkcs11KeyStore token={self._config.token_label!r} state={self._state.value} "
            f"generation={self._generation}>"
        )

    # --- life cycle ---

    def open(self) -> None:
        """Load the module, find the token by label, log in once and fill the session pool.

        Retries a missing token with backoff for up to ``recovery_timeout_s`` (another
        process's login can briefly hide a SoftHSM2 token, docs/limits.md trap 2).
        """
        cfg = self._config
        with _OPEN_MODULES_LOCK:
            if self._state is not _State.CLOSED:
                raise ConfigError("this key store is already open")
            if cfg.module in _OPEN_MODULES:
                raise ConfigError(
                    f"a key store on {cfg.module} is already open in this process: PKCS#11 "
                    "allows one login per application, so share that store"
                )
            _OPEN_MODULES.add(cfg.module)
        try:
            if "softhsm" in os.path.basename(cfg.module).lower():
                logger.warning(
                    "loading %s directly: SoftHSM2 runs without locks under python-pkcs11 "
                    "and is not safe with threads; use the p11-kit proxy module",
                    cfg.module,
                )
            if not os.path.exists(cfg.module):
                raise ConfigError(f"PKCS#11 module {cfg.module} does not exist")
            try:
                self._lib = pkcs11.lib(cfg.module)
            except p11.PKCS11Error as exc:
                logger.error("cannot load PKCS#11 module %s: %s", cfg.module, _describe(exc))
                raise ConfigError(f"cannot load the PKCS#11 module {cfg.module}") from exc
            deadline = _Deadline(cfg.recovery_timeout_s)
            with self._guard.exclusive(None):
                self._connect_with_backoff(deadline, "open the HSM key store")
        except BaseException:
            self._drop_pool()
            self._shutdown_library()
            self._state = _State.CLOSED
            self._failure = None
            with _OPEN_MODULES_LOCK:
                _OPEN_MODULES.discard(cfg.module)
            raise
        logger.info("HSM key store open: token %r, %d sessions", cfg.token_label, cfg.pool_size)

    def close(self) -> None:
        """Close the sessions (logging out) and finalise the library. Idempotent."""
        with self._recover_lock, self._guard.exclusive(None):
            if self._state is _State.CLOSED:
                return
            self._state = _State.CLOSED
            for pooled in reversed(self._pooled):  # the login session, first, closes last
                try:
                    pooled.session.close()
                except p11.PKCS11Error as exc:
                    logger.debug("closing a session: %s", _describe(exc))
            self._drop_pool()
            self._shutdown_library()
            with _OPEN_MODULES_LOCK:
                _OPEN_MODULES.discard(self._config.module)
        logger.info("HSM key store closed: token %r", self._config.token_label)

    def __enter__(self) -> Pkcs11KeyStore:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- introspection ---

    @property
    def config(self) -> HsmConfig:
        return self._config

    @property
    def recoveries(self) -> int:
        """How many times the store has re-initialised the library and logged in again."""
        return self._recoveries

    @property
    def generation(self) -> int:
        """Bumped by every successful (re)connection; sessions of older generations are dead."""
        return self._generation

    @property
    def healthy(self) -> bool:
        """Cheap, non-blocking probe: open, not recovering, and a free session still works.

        Never blocks. When the probe fails, or an earlier recovery gave up, it starts one
        recovery in a background thread, so a store that takes no traffic (a server marked
        NOT_SERVING by this very property) still comes back by itself.
        """
        state = self._state
        if state is _State.BROKEN:
            self._heal_in_background()
        if state is not _State.READY:
            return False
        try:
            with self._guard.shared(0):
                if self._state is not _State.READY:
                    return False
                try:
                    pooled = self._pool.get_nowait()
                except queue.Empty:
                    return True  # every session is busy working
                try:
                    self._probe(pooled)
                finally:
                    self._give_back(pooled)
        except _GuardTimeout:
            return False  # recovery in progress
        except p11.PKCS11Error as exc:
            logger.info("HSM health probe failed: %s", _describe(exc))
            if _is_recoverable(exc):
                self._heal_in_background()
            return False
        return True

    def _heal_in_background(self) -> None:
        with self._healer_lock:
            if self._healer is not None and self._healer.is_alive():
                return
            self._healer = threading.Thread(
                target=self._heal, name="kyso-hsm-recovery", daemon=True
            )
            self._healer.start()

    def _heal(self) -> None:
        try:
            self.check()
        except KysoError as exc:
            logger.info("background HSM recovery did not succeed: %s", exc.message)

    def check(self) -> None:
        """Probe the token through a pooled session, recovering if needed.

        Raises :class:`~signer.errors.HsmUnavailable` if the token cannot be reached.
        """
        self._call("check the HSM", self._probe, fail_fast=False)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold every PKCS#11 call of this store off (maintenance and fault-injection tests)."""
        with self._guard.exclusive(None):
            yield

    def _pooled_sessions(self) -> list[Session]:
        """The raw sessions of the current pool (fault-injection tests only)."""
        return [p.session for p in self._pooled]

    # --- keys ---

    def generate_key(
        self, algorithm: KeyAlgorithm, label: str, key_id: bytes | None = None
    ) -> KeyInfo:
        """Generate a key pair inside the token: the private key never leaves it.

        Both halves get ``label`` and the CKA_ID ``key_id`` (16 random bytes if not given).
        The CKA_ID identifies the key: :class:`~signer.errors.AlreadyExists` if it is taken.
        Labels are for people and need not be unique (PKCS#11 does not require it).
        """
        if not label:
            raise InvalidRequest("a key label is required")
        if key_id is not None and not key_id:
            raise InvalidRequest("a key id must not be empty")
        new_id = key_id if key_id is not None else secrets.token_bytes(16)
        attempted = False

        def op(pooled: _Pooled) -> KeyInfo:
            nonlocal attempted
            session = pooled.session
            # Check-then-generate must not race for a caller-chosen id; random ids cannot clash.
            with self._keygen_lock if key_id is not None else nullcontext():
                if list(session.get_objects({Attribute.ID: new_id})):
                    if attempted:  # made by our own attempt before a recovery: done already
                        key = self._find_private_key(pooled, new_id)
                        return self._key_info(pooled, new_id, key)
                    raise AlreadyExists(f"a key with id {new_id.hex()} already exists")
                public_template: dict[Attribute, Any] = {
                    Attribute.PRIVATE: False,
                    Attribute.VERIFY: True,
                    Attribute.ENCRYPT: False,
                    Attribute.WRAP: False,
                }
                private_template: dict[Attribute, Any] = {
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.SIGN: True,
                    Attribute.DECRYPT: False,
                    Attribute.UNWRAP: False,
                    Attribute.DERIVE: False,
                }
                common: dict[str, Any] = {
                    "id": new_id,
                    "label": label,
                    "store": True,
                    "capabilities": MechanismFlag.SIGN | MechanismFlag.VERIFY,
                    "private_template": private_template,
                }
                started = time.monotonic()
                attempted = True
                if algorithm.is_rsa:
                    public, _private = session.generate_keypair(
                        KeyType.RSA,
                        _RSA_BITS[algorithm],
                        public_template=public_template
                        | {Attribute.PUBLIC_EXPONENT: b"\x01\x00\x01"},
                        **common,
                    )
                elif algorithm is KeyAlgorithm.ED25519:
                    public, _private = session.generate_keypair(
                        KeyType.EC_EDWARDS,
                        public_template=public_template
                        | {Attribute.EC_PARAMS: _ED25519_OID_DER},
                        **common,
                    )
                else:
                    public, _private = session.generate_keypair(
                        KeyType.EC,
                        public_template=public_template
                        | {
                            Attribute.EC_PARAMS: encode_named_curve_parameters(_EC_CURVE[algorithm])
                        },
                        **common,
                    )
            logger.info(
                "generated %s key %s (%r) in %.2f s",
                algorithm.value,
                new_id.hex(),
                label,
                time.monotonic() - started,
            )
            return KeyInfo(
                key_id=new_id,
                label=label,
                algorithm=algorithm,
                public_key_der=_spki(public, algorithm),
            )

        return self._call(f"generate a {algorithm.value} key", op)

    def public_key(self, key_id: bytes) -> KeyInfo:
        """What the token holds for the signing key ``key_id``; NotFound if it has none."""

        def op(pooled: _Pooled) -> KeyInfo:
            key = self._find_private_key(pooled, key_id)
            return self._key_info(pooled, key_id, key)

        return self._call("read a public key", op)

    def find_keys(self, label: str | None = None) -> list[KeyInfo]:
        """Every signing key (private key with kyso's algorithms) in the token, or by label."""

        def op(pooled: _Pooled) -> list[KeyInfo]:
            session = pooled.session
            template: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
            public_template: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PUBLIC_KEY}
            if label is not None:
                template[Attribute.LABEL] = label
                public_template[Attribute.LABEL] = label
            found: list[KeyInfo] = []
            private_ids: set[bytes] = set()
            # One search at a time per session: collect before looking further (OperationActive).
            for obj in list(session.get_objects(template)):
                key_id = bytes(obj[Attribute.ID])
                private_ids.add(key_id)
                algorithm = _algorithm_of(obj)
                if algorithm is None or not isinstance(obj, SignMixin):
                    logger.debug("skipping key %s: not a kyso signing key", key_id.hex())
                    continue
                key = _Key(obj, algorithm, str(obj[Attribute.LABEL]))
                found.append(self._key_info(pooled, key_id, key))
            lonely = tuple(
                key_id
                for key_id in {
                    bytes(o[Attribute.ID]) for o in list(session.get_objects(public_template))
                }
                - private_ids
                if self._public_only.get(key_id) != self._generation
            )
            if lonely:
                raise _SuspectLoggedOut(lonely)
            return sorted(found, key=lambda k: (k.label, k.key_id))

        return self._call("list keys", op)

    def key(self, key_id: bytes, *, use: KeyUse = KeyUse.SEAL) -> SigningKey:
        """A :class:`~signer.keys.types.SigningKey` for ``key_id`` and ``use``; NotFound if
        unknown, NotUsable if the token labels it for another use."""
        algorithm = self._call("find a key",
                               lambda p: self._private_key(p, key_id, use).algorithm)
        return _StoreSigningKey(self, key_id, algorithm, use)

    def delete_key(self, key_id: bytes) -> None:
        """Destroy every key object with CKA_ID ``key_id``; NotFound if there is none."""

        def op(pooled: _Pooled) -> None:
            session = pooled.session
            privates = list(
                session.get_objects(
                    {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: key_id}
                )
            )
            publics = list(
                session.get_objects({Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id})
            )
            if not privates and publics and self._public_only.get(key_id) != self._generation:
                raise _SuspectLoggedOut((key_id,))  # do not delete half a key pair
            objs = privates + publics
            if not objs:
                raise NotFound(f"no key with id {key_id.hex()} in the HSM")
            for obj in objs:
                obj.destroy()
            for other in self._pooled:  # handles cached by other sessions are now stale
                other.keys.pop(key_id, None)
            self._public_only.pop(key_id, None)
            logger.info("deleted key %s (%d objects)", key_id.hex(), len(objs))

        self._call("delete a key", op)

    def sign_digest(
        self, key_id: bytes, digest: Digest, scheme: Scheme, *, use: KeyUse = KeyUse.SEAL
    ) -> bytes:
        """Sign ``digest`` with key ``key_id``, for ``use``.

        RSA returns the raw signature; ECDSA returns a DER ECDSA-Sig-Value.
        Raises InvalidRequest if ``scheme`` does not fit the key, NotFound for an unknown key,
        NotUsable if the token labels the key for another use (an agency's ``SEAL`` signing
        never reaches the CA, TSA or audit keys, whatever the database says) or if the key
        signs messages, not digests (Ed25519).
        """

        def op(pooled: _Pooled) -> bytes:
            key = self._private_key(pooled, key_id, use)
            if not key.algorithm.signs_digests:
                raise NotUsable(f"key {key_id.hex()} is an {key.algorithm.value} key: it signs "
                                "whole messages, never digests")
            if not scheme.fits(key.algorithm):
                fitting = ", ".join(s.value for s in Scheme if s.fits(key.algorithm))
                raise InvalidRequest(
                    f"scheme {scheme.value} does not fit {key.algorithm.value} key "
                    f"{key_id.hex()}: use {fitting}"
                )
            signature = key.obj.sign(**_sign_args(key.algorithm, digest, scheme))
            if scheme is Scheme.ECDSA:
                return encode_ecdsa_signature(signature)
            return signature

        return self._call("sign", op, use=use)

    def sign_message(self, key_id: bytes, message: bytes, *, use: KeyUse) -> bytes:
        """Sign a whole ``message`` with the Ed25519 key ``key_id`` (pure EdDSA, RFC 8032:
        the token hashes the message itself, so no digest a caller chooses can stand in
        for it). NotUsable for a key of another type or labelled for another use."""

        def op(pooled: _Pooled) -> bytes:
            key = self._private_key(pooled, key_id, use)
            if key.algorithm is not KeyAlgorithm.ED25519:
                raise NotUsable(f"key {key_id.hex()} is an {key.algorithm.value} key: only "
                                "Ed25519 keys sign whole messages here")
            signature: bytes = key.obj.sign(message, mechanism=Mechanism.EDDSA)
            return signature

        return self._call("sign a message", op, use=use)

    # --- data objects: small records the token keeps (audit witnesses) ---

    def put_data(self, label: str, value: bytes) -> None:
        """Keep ``value`` in a private token data object labelled ``label`` (application
        ``kyso``), replacing an earlier one. Data objects' values are read-only once made,
        so the new object is created before the old ones are destroyed: a crash in between
        leaves both, and :meth:`get_data` returns every value for the caller to choose."""

        def op(pooled: _Pooled) -> None:
            session = pooled.session
            template = {Attribute.CLASS: ObjectClass.DATA, Attribute.APPLICATION: _APPLICATION,
                        Attribute.LABEL: label}
            old = list(session.get_objects(template))
            session.create_object(template | {Attribute.TOKEN: True, Attribute.PRIVATE: True,
                                              Attribute.VALUE: value})
            for obj in old:  # found before the new one was made
                obj.destroy()

        self._call("write a data object", op)

    def get_data(self, label_prefix: str) -> dict[str, list[bytes]]:
        """Values of kyso's token data objects whose label starts with ``label_prefix``."""

        def op(pooled: _Pooled) -> dict[str, list[bytes]]:
            found: dict[str, list[bytes]] = {}
            for obj in list(pooled.session.get_objects(
                    {Attribute.CLASS: ObjectClass.DATA, Attribute.APPLICATION: _APPLICATION})):
                label = str(obj[Attribute.LABEL])
                if label.startswith(label_prefix):
                    found.setdefault(label, []).append(bytes(obj[Attribute.VALUE]))
            return found

        return self._call("read data objects", op)

    # --- lookups (run inside _call, on a borrowed session) ---

    def _private_key(self, pooled: _Pooled, key_id: bytes, use: KeyUse = KeyUse.SEAL) -> _Key:
        key = self._find_private_key(pooled, key_id)
        if not use.allows(key.label):
            raise NotUsable(
                f"key {key_id.hex()} is labelled {key.label!r} in the HSM, which is not a key "
                f"for {use.value} signatures: refusing to use it (does the database point an "
                "agency at one of the server's own keys?)"
            )
        return key

    def _find_private_key(self, pooled: _Pooled, key_id: bytes) -> _Key:
        cached = pooled.keys.get(key_id)
        if cached is not None:
            return cached
        found = list(
            pooled.session.get_objects(
                {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: key_id}
            )
        )
        if not found:
            self._explain_missing(pooled, key_id)
        if len(found) > 1:
            raise NotUsable(f"{len(found)} private keys share id {key_id.hex()} in the HSM")
        obj = found[0]
        algorithm = _algorithm_of(obj)
        if algorithm is None:
            raise NotUsable(f"key {key_id.hex()} is of a type or size kyso does not sign with")
        if not isinstance(obj, SignMixin):
            raise NotUsable(f"key {key_id.hex()} is not allowed to sign (CKA_SIGN is false)")
        key = _Key(obj, algorithm, str(obj[Attribute.LABEL]))
        pooled.keys[key_id] = key
        return key

    def _explain_missing(self, pooled: _Pooled, key_id: bytes) -> NoReturn:
        # A token that went away shows no objects at all: make sure it is still there.
        pooled.session.token.slot.get_token()
        # Private objects vanish on logout while public ones stay visible.
        if self._public_only.get(key_id) != self._generation and list(
            pooled.session.get_objects(
                {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id}
            )
        ):
            raise _SuspectLoggedOut((key_id,))
        raise NotFound(f"no signing key with id {key_id.hex()} in the HSM")

    def _key_info(self, pooled: _Pooled, key_id: bytes, key: _Key) -> KeyInfo:
        publics = list(
            pooled.session.get_objects(
                {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.ID: key_id}
            )
        )
        if publics:
            der = _spki(publics[0], key.algorithm)
        elif key.algorithm.is_rsa:  # modulus and exponent are public attributes of the key
            der = _spki(key.obj, key.algorithm)
        else:
            raise NotUsable(f"EC key {key_id.hex()} has no public key object in the HSM")
        return KeyInfo(key_id=key_id, label=key.label, algorithm=key.algorithm, public_key_der=der)

    def _probe(self, pooled: _Pooled) -> None:
        info = pooled.session.token.slot.get_token()  # C_GetTokenInfo: the token is there
        if info.label != self._config.token_label:
            raise p11.TokenNotRecognised()
        pooled.session.generate_random(64)  # the session handle is alive

    # --- the call wrapper: guard, pool, retry, recovery ---

    def _call(self, action: str, op: Callable[[_Pooled], T], *, fail_fast: bool = True,
              use: KeyUse | None = None) -> T:
        budget = self._budgets.get(use) if use is not None else None
        if budget is None:
            return self._call_pooled(action, op, fail_fast=fail_fast)
        # Outside the guard: waiting for a place in the budget never delays a recovery.
        if not budget.acquire(timeout=self._config.acquire_timeout_s):
            assert use is not None
            raise HsmUnavailable(
                f"the {self._config.session_budgets[use]} HSM sessions {use.value} work may use "
                f"stayed busy for {self._config.acquire_timeout_s:g} s: overloaded, retry later"
            )
        try:
            return self._call_pooled(action, op, fail_fast=fail_fast)
        finally:
            budget.release()

    def _call_pooled(self, action: str, op: Callable[[_Pooled], T], *, fail_fast: bool) -> T:
        deadline = _Deadline(self._config.recovery_timeout_s)
        recovered = 0
        stale_retried = False
        while True:
            if fail_fast and self._gave_up:
                # Not even waiting for the guard: a background recovery may hold it.
                self._heal_in_background()
                raise self._unavailable(action, None)
            failure: BaseException | None = None
            try:
                with self._shared(deadline):
                    if self._state is _State.CLOSED:
                        raise HsmUnavailable("the HSM key store is closed")
                    if self._state is _State.FAILED:
                        assert self._failure is not None
                        raise type(self._failure)(self._failure.message)
                    generation = self._generation
                    if self._state is _State.READY:
                        pooled = self._borrow()
                        HSM_SESSIONS_IN_USE.inc()
                        try:
                            with hsm_timer(action):
                                return op(pooled)
                        except _SuspectLoggedOut as exc:
                            if recovered:
                                # Freshly logged in and still no private key: it has none.
                                for key_id in exc.key_ids:
                                    self._public_only[key_id] = generation
                                continue
                            failure = exc
                        except p11.PKCS11Error as exc:
                            HSM_ERRORS.labels(action).inc()
                            if isinstance(exc, _STALE_HANDLE) and not stale_retried:
                                # A key destroyed elsewhere, or a dead login: look it up again.
                                logger.info(
                                    "stale key handle while trying to %s; looking the key up again",
                                    action,
                                )
                                pooled.keys.clear()
                                stale_retried = True
                                continue
                            if not _is_recoverable(exc):
                                raise map_pkcs11_error(
                                    exc, action, token_label=self._config.token_label
                                ) from exc
                            failure = exc
                        finally:
                            HSM_SESSIONS_IN_USE.dec()
                            self._give_back(pooled)
            except _GuardTimeout:
                raise self._unavailable(action, None) from None
            # Outside the guard: recover, then try again.
            if recovered >= _MAX_RECOVERIES_PER_CALL:
                logger.error(
                    "giving up on trying to %s after %d recoveries: %s",
                    action,
                    recovered,
                    _describe(failure) if failure else "-",
                )
                raise self._unavailable(action, failure)
            if failure is not None:
                logger.warning(
                    "HSM failure while trying to %s (%s): recovering", action, _describe(failure)
                )
            self._recover(generation, deadline, action, failure)
            recovered += 1

    @contextmanager
    def _shared(self, deadline: _Deadline) -> Iterator[None]:
        # Only when a recovery holds the guard does waiting count against the call's budget.
        if not self._guard.acquire_shared(0):
            if not self._guard.acquire_shared(deadline.remaining()):
                raise _GuardTimeout
        try:
            yield
        finally:
            self._guard.release_shared()

    def _borrow(self) -> _Pooled:
        try:
            return self._pool.get(timeout=self._config.acquire_timeout_s)
        except queue.Empty:
            raise HsmUnavailable(
                f"all {self._config.pool_size} HSM sessions stayed busy for "
                f"{self._config.acquire_timeout_s:g} s: the signer is overloaded, retry later"
            ) from None

    def _give_back(self, pooled: _Pooled) -> None:
        if pooled.generation == self._generation:
            self._pool.put(pooled)

    def _unavailable(self, action: str, cause: BaseException | None) -> HsmUnavailable:
        err = HsmUnavailable(
            f"the HSM token '{self._config.token_label}' is not reachable: cannot {action} "
            "now, retry later"
        )
        if cause is not None:
            err.__cause__ = cause
        return err

    def _recover(
        self,
        seen_generation: int,
        deadline: _Deadline,
        action: str,
        cause: BaseException | None,
    ) -> None:
        """Reconnect unless another thread already did since ``seen_generation``."""
        if not self._recover_lock.acquire(timeout=deadline.remaining()):
            raise self._unavailable(action, cause)
        try:
            if self._generation != seen_generation and self._state is _State.READY:
                return  # somebody else recovered while we waited
            if self._state in (_State.CLOSED, _State.FAILED):
                return  # the retry reports it
            try:
                with self._guard.exclusive(deadline.remaining()):
                    self._state = _State.BROKEN
                    try:
                        self._connect_with_backoff(deadline, action)
                    except KysoError:
                        self._gave_up = True
                        raise
            except _GuardTimeout:
                raise self._unavailable(action, cause) from None
            self._gave_up = False
            self._recoveries += 1
            logger.warning(
                "HSM recovered: token %r, generation %d, %d recoveries so far",
                self._config.token_label,
                self._generation,
                self._recoveries,
            )
        finally:
            self._recover_lock.release()

    # --- (re)connection; the caller holds the exclusive guard ---

    def _connect_with_backoff(self, deadline: _Deadline, action: str) -> None:
        cfg = self._config
        delay = cfg.backoff_initial_s
        attempt = 0
        while True:
            attempt += 1
            try:
                self._connect_once()
                return
            except p11.PKCS11Error as exc:
                retryable = _is_recoverable(exc)
                if not retryable:
                    err = map_pkcs11_error(exc, "log in to the HSM", token_label=cfg.token_label)
                    if isinstance(err, ConfigError):
                        self._state = _State.FAILED
                        self._failure = err
                        logger.error(
                            "HSM login refused for token %r: %s; not retrying",
                            cfg.token_label,
                            _describe(exc),
                        )
                    raise err from exc
                pause = delay * random.uniform(0.8, 1.2)  # jitter: processes starting at once
                if deadline.remaining() <= pause:
                    logger.error(
                        "HSM token %r unreachable after %d attempts: %s",
                        cfg.token_label,
                        attempt,
                        _describe(exc),
                    )
                    if isinstance(exc, p11.NoSuchToken):
                        raise map_pkcs11_error(exc, action, token_label=cfg.token_label) from exc
                    raise self._unavailable(action, exc) from exc
                logger.log(
                    logging.WARNING if attempt == 1 else logging.DEBUG,
                    "HSM connection attempt %d failed (%s); retrying in %.2f s",
                    attempt,
                    _describe(exc),
                    pause,
                )
                time.sleep(pause)
                delay = min(delay * 2, cfg.backoff_max_s)

    def _connect_once(self) -> None:
        """Finalise and initialise the library, find the token, log in, fill the pool."""
        cfg = self._config
        lib = self._lib
        assert lib is not None, "open() loads the library first"
        self._state = _State.BROKEN
        self._drop_pool()
        try:
            lib.finalize()  # closes every session and the login, if any remain
        except p11.PKCS11Error as exc:
            logger.debug("finalize before reconnecting: %s", _describe(exc))
        lib.initialize()
        token: Token = lib.get_token(token_label=cfg.token_label)
        generation = self._generation + 1
        pooled = [_Pooled(token.open(rw=True, user_pin=cfg.pin), generation)]
        pooled += [_Pooled(token.open(rw=True), generation) for _ in range(cfg.pool_size - 1)]
        self._pooled = pooled
        self._pool = queue.Queue()
        for p in pooled:
            self._pool.put(p)
        self._generation = generation
        self._state = _State.READY

    def _drop_pool(self) -> None:
        for p in self._pooled:
            p.keys.clear()
        self._pooled = []
        self._pool = queue.Queue()

    def _shutdown_library(self) -> None:
        if self._lib is None:
            return
        try:
            self._lib.finalize()
        except p11.PKCS11Error as exc:
            logger.debug("finalize: %s", _describe(exc))
