"""kyso configuration: one typed, frozen settings object, validated once at start.

Sources, strongest first: keyword arguments (the CLI's flags), ``KYSO_*``
environment variables, the TOML file (``--config`` or ``KYSO_CONFIG``), defaults.
Environment names join section and field with one underscore:
``KYSO_HSM_PIN_FILE`` sets ``[hsm] pin_file``, ``KYSO_SERVER_LISTEN`` sets
``[server] listen``. Unknown keys are rejected, so a typo is an error, not a
silently ignored setting.

Example ``kyso.toml``::

    node_id = "node-1"

    [server]
    listen = "127.0.0.1:50051"
    max_batch = 1000

    [hsm]
    module = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"
    token_label = "kyso"
    pin_file = "/etc/kyso/hsm.pin"
    pool_size = 4

    [store]
    url = "sqlite:///var/kyso/kyso.db"
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from signer.errors import ConfigError

if TYPE_CHECKING:
    from signer.verify.fetch import AllowedHost

P11_KIT_PROXY = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_listen(listen: str, name: str) -> str:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{name} {listen!r} must be host:port, e.g. 127.0.0.1:50051")
    return host


class ServerSettings(_Section):
    listen: str = Field(
        "127.0.0.1:50051", description="gRPC address host:port; port 0 picks a free port"
    )
    threads: int = Field(16, ge=1, le=1024, description="gRPC handler threads")
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, le=64,
        description="server processes sharing the ports (SO_REUSEPORT), by default one per "
        "core; each is its own node (node_id-N) with its own HSM login and audit chain. On "
        "SQLite the processes share its single write lock: for unary-heavy load one worker "
        "can do as well (docs/benchmarks.md)",
    )
    metrics_listen: str = Field(
        "", description="Prometheus /metrics address host:port (port 0 picks one); empty: off. "
        "Off loopback it needs TLS (tls_cert_file/tls_key_file: then it is HTTPS) or "
        "metrics_allow_plaintext"
    )
    metrics_allow_plaintext: bool = Field(
        False, description="serve /metrics in plain HTTP even off loopback, when TLS is not "
        "configured (a warning is logged at start): the samples name every agency and its "
        "signing volume. No effect with TLS configured: metrics are then HTTPS"
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="server logs: text lines, or one JSON object per line"
    )
    idempotency_retention_days: float = Field(
        7.0, gt=0, description="how long the first reply to an idempotency key is kept for "
        "retries (pruned hourly)"
    )
    unsafe_skip_records: bool = Field(
        False,
        description="BENCHMARK ONLY: reply without writing signature, timestamp or audit "
        "records, to measure what durability costs. Never in service: signatures and tokens "
        "issued in this mode are nowhere on record",
    )
    max_batch: int = Field(1000, ge=1, le=100_000, description="digests per SignDigests call")
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024)
    shutdown_grace_s: float = Field(10.0, ge=0, description="drain time on SIGTERM/SIGINT")
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = Field(
        None, description="CA (PEM) of client certificates: every connection must then "
        "present one (mTLS); the caller is its bearer token's client, else its certificate's"
    )

    @model_validator(mode="after")
    def _check(self) -> ServerSettings:
        host = _check_listen(self.listen, "listen")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together: set both or neither")
        if self.tls_cert_file is None and not is_loopback(host):
            raise ValueError(
                f"listen {self.listen!r} is off loopback and TLS is not configured: set "
                "tls_cert_file and tls_key_file, or listen on 127.0.0.1"
            )
        if self.metrics_listen:
            mhost = _check_listen(self.metrics_listen, "metrics_listen")
            if (self.tls_cert_file is None and not is_loopback(mhost)
                    and not self.metrics_allow_plaintext):
                raise ValueError(
                    f"metrics_listen {self.metrics_listen!r} is off loopback and TLS is not "
                    "configured: set tls_cert_file and tls_key_file (metrics are then served "
                    "over HTTPS), listen on 127.0.0.1, or, to publish them in clear text "
                    "anyway, set metrics_allow_plaintext = true"
                )
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("tls_client_ca_file (mTLS) needs tls_cert_file and tls_key_file")
        for f in (self.tls_cert_file, self.tls_key_file, self.tls_client_ca_file):
            if f is not None and not f.is_file():
                raise ValueError(f"TLS file {f} does not exist")
        return self


class HsmSettings(_Section):
    module: str = Field(P11_KIT_PROXY, description="PKCS#11 module path")
    token_label: str = "kyso"
    pin: SecretStr | None = None
    pin_file: Path | None = None
    pool_size: int = Field(4, ge=1, le=256, description="PKCS#11 sessions")
    recovery_timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> HsmSettings:
        if self.pin is not None and self.pin_file is not None:
            raise ValueError("set either hsm.pin or hsm.pin_file, not both")
        if not Path(self.module).is_file():
            raise ValueError(
                f"PKCS#11 module {self.module} does not exist: install p11-kit and softhsm2 "
                "(apt-get install p11-kit softhsm2) or set hsm.module to your vendor's module"
            )
        return self

    def read_pin(self) -> str:
        if self.pin is not None:
            return self.pin.get_secret_value()
        if self.pin_file is not None:
            try:
                pin = self.pin_file.read_text().strip()
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the HSM PIN file {self.pin_file}: {exc.strerror}"
                ) from None
            if not pin:
                raise ConfigError(f"the HSM PIN file {self.pin_file} is empty")
            return pin
        raise ConfigError(
            "no HSM PIN configured: set KYSO_HSM_PIN_FILE (or hsm.pin_file in the config file)"
        )


class StoreSettings(_Section):
    url: str = Field("sqlite:///var/kyso.db", description="SQLAlchemy URL")

    @model_validator(mode="after")
    def _check(self) -> StoreSettings:
        if not self.url.startswith(("sqlite://", "postgresql")):
            raise ValueError(
                f"store.url {self.url!r}: use sqlite:///PATH or postgresql+psycopg://..."
            )
        return self


_OID = re.compile(r"^[0-2](\.(0|[1-9][0-9]*))+$")
ETSI_BASELINE_TS_POLICY = "0.4.0.2023.1.1"  # ETSI EN 319 421: best-practices-ts-policy


class TsaSettings(_Section):
    enabled: bool = True
    http_listen: str = Field(
        "127.0.0.1:8080", description="RFC 3161 over HTTP (POST /tsa); empty: no HTTP"
    )
    policy: str = Field(ETSI_BASELINE_TS_POLICY, description="default TSA policy OID")
    accepted_policies: tuple[str, ...] = Field(
        (), description="other policy OIDs a request may ask for"
    )
    accuracy_ms: int = Field(1000, ge=0, le=60_000, description="0: omit accuracy")
    include_chain: bool = Field(True, description="with certReq, include the CA chain too")
    clock_check: Literal["kernel", "off"] = "kernel"
    max_clock_error_ms: int = Field(1000, ge=1)
    max_request_bytes: int = Field(16 * 1024, ge=256, le=1024 * 1024)
    serial_block: int = Field(1024, ge=1, le=1_000_000)
    key_algorithm: str = Field(
        "rsa-2048", description="development only: key type of the TSA key the dev CA certifies"
    )
    # RFC 3161 over HTTP is anonymous: its resources are bounded so that a flood of
    # queries, or clients that send them a byte at a time, cannot starve signing
    # (per worker process; docs/benchmarks.md, "TSA flood").
    http_max_connections: int = Field(
        256, ge=1, le=100_000,
        description="open HTTP connections per worker; up to as many again are admitted only "
        "to be answered 503 with an RFC 3161 rejection (systemFailure) and Retry-After, then "
        "closed; beyond that a connection is closed at accept",
    )
    http_read_timeout_s: float = Field(
        10.0, gt=0, le=600,
        description="a request body must arrive within this many seconds of its headers, "
        "else the connection is cut (slow clients, slowloris)",
    )
    http_keepalive_timeout_s: float = Field(
        5.0, gt=0, le=3600,
        description="an HTTP connection must complete the headers of its next request within "
        "this many seconds of opening or of its previous response, else it is closed: idle "
        "keep-alive connections and clients dribbling headers alike",
    )
    http_threads: int = Field(
        1, ge=1, le=256,
        description="worker threads answering RFC 3161 over HTTP, per worker process. Each "
        "Python thread also takes its share of the GIL signing needs; on the 2-core reference "
        "machine more threads granted no more timestamps and slowed signing under a flood "
        "(docs/benchmarks.md); raise it where cores are spare",
    )
    http_max_queue: int = Field(
        64, ge=0, le=100_000,
        description="HTTP timestamp requests waiting for a worker thread; beyond that they are "
        "answered 503 at once (RFC 3161 rejection systemFailure, Retry-After). Waiting costs "
        "signing nothing (only http_threads work): this bounds memory and how long a "
        "timestamp client may wait (~64 / 150 per s per worker, under half a second)",
    )
    http_nice: int = Field(
        10, ge=0, le=19,
        description="how much lower the CPU priority of the threads answering RFC 3161 over "
        "HTTP is than signing's (Linux nice, per thread; 0: the same): where both share cores "
        "the scheduler serves signing first, and the TSA still gets every idle cycle",
    )
    max_hsm_sessions: int | None = Field(
        None, ge=1, le=256,
        description="HSM sessions timestamping (HTTP, gRPC and signature timestamps) may hold at "
        "once, out of hsm.pool_size; default: half of hsm.pool_size (at least 1), so that "
        "agencies' signing always has sessions of its own",
    )

    def hsm_sessions(self, pool_size: int) -> int:
        """The TSA's share of a pool of ``pool_size`` HSM sessions."""
        return self.max_hsm_sessions or max(1, pool_size // 2)

    @model_validator(mode="after")
    def _check(self) -> TsaSettings:
        for oid in (self.policy, *self.accepted_policies):
            if not _OID.match(oid):
                raise ValueError(f"policy {oid!r} is not a dotted OID such as 0.4.0.2023.1.1")
        if self.http_listen:
            _check_listen(self.http_listen, "tsa.http_listen")
        if self.accuracy_ms and self.clock_check == "kernel" and (
            self.max_clock_error_ms > self.accuracy_ms
        ):
            raise ValueError(
                f"max_clock_error_ms ({self.max_clock_error_ms}) is larger than accuracy_ms "
                f"({self.accuracy_ms}): tokens would claim an accuracy the clock cannot keep"
            )
        return self


class CadesTimestampSettings(_Section):
    """Where signature timestamps for CAdES-B-T come from."""

    source: Literal["internal", "url"] = Field(
        "internal", description="internal: this node's TSA; url: an external RFC 3161 TSA"
    )
    url: str = Field("", description="external TSA URL, e.g. http://tsa.ca.gov.vn")
    timeout_s: float = Field(30.0, gt=0, description="per attempt")
    attempts: int = Field(3, ge=1, le=20)
    backoff_s: float = Field(1.0, ge=0, description="first retry delay, doubling")
    max_concurrency: int = Field(8, ge=1, le=1024, description="requests in flight to the TSA")
    on_failure: Literal["fail", "degrade"] = Field(
        "fail", description="fail: UNAVAILABLE; degrade: return CAdES-B-B and say so"
    )

    @model_validator(mode="after")
    def _check(self) -> CadesTimestampSettings:
        if self.source == "url" and not self.url.startswith(("http://", "https://")):
            raise ValueError("source = \"url\" needs url = \"http(s)://...\"")
        return self


class DevCaSettings(_Section):
    enabled: bool = Field(True, description="a development CA in the token issues certificates")
    common_name: str = "kyso Development CA"
    validity_days: int = Field(3650, ge=1)


class PdfSettings(_Section):
    """PAdES appearances (signer/formats/pdf/pades.py): the font of the attachment and copy blocks.

    Checked at start (``kyso serve`` refuses to run otherwise): the font must have every
    character the blocks may use, Vietnamese letters included (signer/formats/pdf/font.py).
    Unset: Liberation Serif 2.x (Debian fonts-liberation2), metric-compatible with Times
    New Roman as Decree 30/2020 asks."""

    font: Path | None = Field(
        None, description="TrueType font file for the attachment/copy text blocks "
        "(default: Liberation Serif 2.x from fonts-liberation2)",
    )

    @field_validator("font")
    @classmethod
    def _check_font(cls, font: Path | None) -> Path | None:
        if font is not None and not font.is_file():
            raise ValueError(f"font file {font} does not exist")
        return font


class KeyPolicySettings(_Section):
    """Which organization keys may be generated (Circular 15/2025: RSA >= 2048, ECDSA >= 256)."""

    allowed_algorithms: tuple[str, ...] = Field(
        ("rsa-2048", "rsa-3072", "rsa-4096", "ec-p256", "ec-p384"),
        description="key algorithms an admin may generate",
    )
    allowed_schemes: tuple[str, ...] = Field(
        ("pkcs1v15", "pss", "ecdsa"), description="signature schemes a key may be set to"
    )
    trust_anchor_files: tuple[Path, ...] = Field(
        (), description="PEM files of CA roots imported certificate chains may end at"
    )

    @model_validator(mode="after")
    def _check(self) -> KeyPolicySettings:
        from signer.keys.types import KeyAlgorithm, Scheme

        known_algs = {a.value for a in KeyAlgorithm}
        known_schemes = {s.value for s in Scheme if s is not Scheme.EDDSA}
        if not self.allowed_algorithms:
            raise ValueError("allowed_algorithms is empty: allow at least one key algorithm")
        for alg in self.allowed_algorithms:
            if alg == KeyAlgorithm.ED25519.value:
                raise ValueError("ed25519 is the audit checkpoint key type, not an agency key "
                                 "algorithm: agencies sign with RSA or ECDSA (Circular 15/2025)")
            if alg not in known_algs:
                raise ValueError(
                    f"unknown key algorithm {alg!r} in allowed_algorithms: use "
                    + ", ".join(sorted(known_algs))
                )
        if not self.allowed_schemes:
            raise ValueError("allowed_schemes is empty: allow at least one signature scheme")
        for scheme in self.allowed_schemes:
            if scheme not in known_schemes:
                raise ValueError(
                    f"unknown signature scheme {scheme!r} in allowed_schemes: use "
                    + ", ".join(sorted(known_schemes))
                )
        for f in self.trust_anchor_files:
            if not f.is_file():
                raise ValueError(f"trust anchor file {f} does not exist")
        return self


_FINGERPRINT = re.compile(r"^(sha256:)?[0-9a-fA-F]{64}$")


class AuditSettings(_Section):
    """The audit log's checkpoints (``registry.audit``).

    Checkpoints are signed by Ed25519 keys labelled ``kyso-audit`` in the HSM; the
    verifier trusts those keys as the token lists them, never as the database does.
    ``trusted_key_fingerprints`` pins them further: when set, only keys whose public key
    (SHA-256 of the DER SubjectPublicKeyInfo, as the node logs at start and
    ``kyso admin audit keys`` prints) is listed are trusted, so not even someone holding
    the HSM PIN can add a trusted audit key without changing the configuration.
    """

    trusted_key_fingerprints: tuple[str, ...] = Field(
        (), description="SHA-256 fingerprints (hex, optionally 'sha256:'-prefixed) of the "
        "audit keys whose checkpoints are trusted; empty: every kyso-audit key in the HSM"
    )
    checkpoint_every: int = Field(1000, ge=1, le=1_000_000,
                                  description="records between two checkpoints at most")
    checkpoint_interval_s: float = Field(60.0, gt=0, le=86_400,
                                         description="seconds between checkpoints at most "
                                         "while there are new records")

    @model_validator(mode="after")
    def _check(self) -> AuditSettings:
        for f in self.trusted_key_fingerprints:
            if not _FINGERPRINT.match(f):
                raise ValueError(f"trusted_key_fingerprints: {f!r} is not a SHA-256 "
                                 "fingerprint (64 hex digits, optionally 'sha256:'-prefixed)")
        return self

    def pinned(self) -> frozenset[bytes]:
        """The pinned fingerprints as bytes (empty: none pinned)."""
        return frozenset(bytes.fromhex(f.removeprefix("sha256:"))
                         for f in self.trusted_key_fingerprints)


class VerifySettings(_Section):
    """Signature verification (signer/verify): trust anchors, revocation, network fetching.

    A certificate pointing at a CRL or OCSP responder whose answer is not at hand (not
    embedded in the document, and not downloaded) makes the signature
    INDETERMINATE/TRY_LATER in every mode. ``revocation`` decides what happens to
    certificates that carry no revocation pointer at all: ``require`` accepts them only
    under a revocation-free anchor (the development CA, and
    ``revocation_free_anchor_files``), otherwise INDETERMINATE; ``soft`` accepts them
    under every anchor.

    Downloads are off by default (``fetch = "off"``): a submitted document names the
    URLs, so following them would let anyone make this server send requests (issue 12).
    With ``fetch = "revocation"`` the verifier downloads CRLs and OCSP responses, and
    nothing else, for the certificates of a path that already ends at a configured
    anchor, only from ``fetch_allowed_hosts``, within ``fetch_max_requests`` and
    ``fetch_budget_s`` per Verify call. Missing intermediate certificates are never
    downloaded (AIA caIssuers): signers must include them.
    """

    trust_anchor_files: tuple[Path, ...] = Field(
        (), description="PEM files of trusted roots, e.g. the Government CA G2 root"
    )
    revocation_free_anchor_files: tuple[Path, ...] = Field(
        (), description="PEM roots whose certificates need no CRL/OCSP pointer (private CAs)"
    )
    trust_dev_ca: bool = Field(
        True, description="trust this node's development CA (revocation-free: it has no CRL)"
    )
    revocation: Literal["require", "soft"] = "require"
    fetch: Literal["off", "revocation"] = Field(
        "off", description='network downloads during verification: "off" (the default; '
        'revocation data must be embedded in the document) or "revocation" (CRLs and OCSP '
        "responses for certificates that chain to a configured anchor, from "
        "fetch_allowed_hosts only)",
    )
    fetch_allowed_hosts: tuple[str, ...] = Field(
        (), description="hosts CRLs and OCSP responses may be downloaded from: exact host "
        "name or IP, no wildcards; \"host\" admits ports 80 (http) and 443 (https), "
        "\"host:port\" that port only, e.g. [\"crl.ca.gov.vn\", \"ocsp.ca.gov.vn:8080\"]",
    )
    fetch_budget_s: float = Field(
        15.0, gt=0, le=300, description="total time one Verify call may spend downloading, "
        "from its first download; what is not fetched by then is INDETERMINATE/TRY_LATER",
    )
    fetch_max_requests: int = Field(
        8, ge=1, le=100, description="HTTP requests one Verify call may make, redirects "
        "included",
    )
    fetch_timeout_s: float = Field(
        10.0, gt=0, le=300, description="per CRL/OCSP download (within fetch_budget_s)"
    )

    @field_validator("fetch_allowed_hosts")
    @classmethod
    def _check_hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        from signer.verify.fetch import AllowedHost

        for host in hosts:
            AllowedHost.parse(host)  # ValueError says what is wrong with it
        return hosts

    @model_validator(mode="after")
    def _check(self) -> VerifySettings:
        for f in (*self.trust_anchor_files, *self.revocation_free_anchor_files):
            if not f.is_file():
                raise ValueError(f"trust anchor file {f} does not exist")
        if self.fetch == "revocation" and not self.fetch_allowed_hosts:
            raise ValueError(
                'fetch = "revocation" needs fetch_allowed_hosts: list the CRL/OCSP hosts '
                'of your anchors\' CAs (e.g. ["crl.ca.gov.vn"]), or set fetch = "off"'
            )
        return self

    def allowed_hosts(self) -> tuple[AllowedHost, ...]:
        """``fetch_allowed_hosts``, parsed (validated at load)."""
        from signer.verify.fetch import AllowedHost

        return tuple(AllowedHost.parse(h) for h in self.fetch_allowed_hosts)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KYSO_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    node_id: str = Field(default_factory=lambda: socket.gethostname())
    server: ServerSettings = Field(default_factory=ServerSettings)
    hsm: HsmSettings = Field(default_factory=HsmSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    devca: DevCaSettings = Field(default_factory=DevCaSettings)
    tsa: TsaSettings = Field(default_factory=TsaSettings)
    cades: CadesTimestampSettings = Field(default_factory=CadesTimestampSettings)
    keys: KeyPolicySettings = Field(default_factory=KeyPolicySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    verify: VerifySettings = Field(default_factory=VerifySettings)
    pdf: PdfSettings = Field(default_factory=PdfSettings)

    @model_validator(mode="after")
    def _check_tsa_budget(self) -> Settings:
        if (self.tsa.max_hsm_sessions is not None
                and self.tsa.max_hsm_sessions > self.hsm.pool_size):
            raise ValueError(
                f"tsa.max_hsm_sessions ({self.tsa.max_hsm_sessions}) is larger than "
                f"hsm.pool_size ({self.hsm.pool_size}): the TSA's share of the HSM sessions "
                "cannot exceed the pool; keep it below pool_size so signing keeps sessions"
            )
        return self

    @model_validator(mode="after")
    def _check_tls_everywhere(self) -> Settings:
        if self.tsa.enabled and self.tsa.http_listen:
            host = self.tsa.http_listen.rpartition(":")[0]
            if not is_loopback(host) and self.server.tls_cert_file is None:
                raise ValueError(
                    f"tsa.http_listen {self.tsa.http_listen!r} is off loopback and TLS is not "
                    "configured: set server.tls_cert_file and server.tls_key_file"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get("KYSO_CONFIG")
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the settings; raise ``ConfigError`` with every problem listed."""
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        os.environ["KYSO_CONFIG"] = str(path)
    env_path = os.environ.get("KYSO_CONFIG")
    if env_path and not Path(env_path).is_file():
        raise ConfigError(f"KYSO_CONFIG names {env_path}, which does not exist")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    except ValueError as exc:  # e.g. TOML syntax errors
        raise ConfigError(f"configuration is invalid: {exc}") from None


def format_validation_error(exc: ValidationError) -> str:
    lines = ["configuration is invalid:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown setting (check the spelling)"
        if len(err["loc"]) == 1 and err["loc"][0] in _SECTIONS:
            lines.append(f"  [{loc}]: {msg}")  # a check across several fields of a section
        else:
            env = "KYSO_" + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"  {loc} ({env}): {msg}")
    return "\n".join(lines)


_SECTIONS = ("server", "hsm", "store", "devca", "tsa", "cades", "keys", "audit", "verify",
             "pdf")


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
