"""The composition root: the one module that imports every part of kyso and wires a node
(one server process) together. ``Node.start()`` builds the key store, the database, the
audit log, the signing core, the verifier and the TSA once, hands them to each gRPC
service's ``register(server, ctx)`` (``signer.runtime.context``), and serves; a new RPC
service is one line in ``SERVICES``.

Start-up validates everything before serving (settings, HSM login, database schema, the
development CA, the PDF font, the TSA key); it refuses to run half-configured. ``stop()``
stops accepting new calls and drains in-flight ones for ``server.shutdown_grace_s``
seconds. The process around it (signals, workers, metrics) is ``signer.runtime.server``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent import futures
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

import registry.agency_service
import registry.audit_service
import registry.client_service
import registry.key_service
import registry.report_service
import registry.service
import signer.pdf_service
import signer.service
import signer.verify_service
import tsa.service
from registry.admin import RegistryAdmin
from registry.audit import AuditLog, AuditNotary, current_actor, fingerprint
from registry.auth import AuthStore, Principal
from registry.db.store import KeyPurpose, RegistryStore
from registry.devca import DevCa
from registry.keys import KeyPolicy
from signer.config import Settings
from signer.core import SignerCore
from signer.errors import ConfigError, NotUsable
from signer.idempotency import Replies
from signer.keys.store import HsmConfig, Pkcs11KeyStore
from signer.keys.types import KeyAlgorithm, KeyUse
from signer.runtime.auth import AuthInterceptor, audit_action, audit_actions
from signer.runtime.context import Context
from signer.runtime.demo import DEMO_TOKEN_FILE, bootstrap_demo
from signer.runtime.interceptors import ErrorMappingInterceptor
from signer.runtime.observe import HEALTH
from signer.timestamps import HttpTimestamper, InternalTimestamper, Timestamper
from signer.verify.engine import Verifier
from tsa.clock import ClockCheck, ClockGuard
from tsa.core import TsaCore
from tsa.http import HttpLimits, TsaHttpServer, lower_priority
from tsa.keys import TsaKeys
from tsa.serials import SerialAllocator
from tsa.token import TsaPolicy

log = logging.getLogger(__name__)

#: Every gRPC service a node serves: ``register(server, ctx)`` adds one (or, for the TSA,
#: none when it is disabled) and returns the full names it added.
SERVICES: tuple[Callable[[grpc.Server, Context], tuple[str, ...]], ...] = (
    signer.service.register,
    signer.pdf_service.register,
    signer.verify_service.register,
    registry.service.register,
    registry.client_service.register,
    registry.report_service.register,
    registry.key_service.register,
    registry.audit_service.register,
    registry.agency_service.register,
    tsa.service.register,
)
TSA_SERVICE = tsa.service.SERVICE
HEALTH_INTERVAL_S = 2.0
PRUNE_INTERVAL_S = 3600.0


class Node:
    """One kyso server process. ``start()`` then ``wait()``; ``stop()`` drains."""

    def __init__(
        self, settings: Settings, *, demo: bool = False,
        demo_token_file: Path = DEMO_TOKEN_FILE,
        reuse_port: bool = False,
        bootstrap_only: bool = False,
    ) -> None:
        self.settings = settings
        self.demo = demo
        # Several worker processes share the listening ports (SO_REUSEPORT).
        self.reuse_port = reuse_port
        # Set up the database, keys and demo data, then return without serving.
        self.bootstrap_only = bootstrap_only
        self.demo_token_file = demo_token_file
        self.auth: AuthStore
        self.port = 0
        self.keystore: Pkcs11KeyStore | None = None
        self.registry: RegistryStore | None = None
        self._server: grpc.Server | None = None
        self.tsa: TsaCore | None = None
        self.tsa_http: TsaHttpServer | None = None
        self.http_port = 0
        self._tsa_guard: ClockGuard | None = None
        self.audit: AuditLog | None = None
        self._services: tuple[str, ...] = ()
        self._http_pool: futures.ThreadPoolExecutor | None = None
        self._health = health.HealthServicer()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        self._replies: Replies | None = None
        self._core: SignerCore | None = None
        self.pdf_font = ""

    def start(self) -> None:
        s = self.settings
        self.pdf_font = check_pdf_font(s)  # refuse to start with a font that cannot write
        self.registry = RegistryStore(s.store.url)
        self.registry.migrate()
        self.keystore = Pkcs11KeyStore(
            HsmConfig(
                module=s.hsm.module,
                token_label=s.hsm.token_label,
                pin=s.hsm.read_pin(),
                pool_size=s.hsm.pool_size,
                recovery_timeout_s=s.hsm.recovery_timeout_s,
                # Timestamping (anonymous over HTTP) never holds more than its share of
                # the sessions: agencies' signing keeps the rest (issue 12.6).
                session_budgets={KeyUse.TSA: s.tsa.hsm_sessions(s.hsm.pool_size)},
            )
        )
        self.keystore.open()
        devca = None
        if s.devca.enabled:
            devca = DevCa(
                self.keystore,
                self.registry,
                common_name=s.devca.common_name,
                validity_days=s.devca.validity_days,
            )
            devca.ensure()
        admin = RegistryAdmin(
            self.keystore, self.registry, devca, policy=KeyPolicy.from_settings(s.keys)
        )
        self.auth = AuthStore(self.registry.engine)
        notary = AuditNotary(self.keystore, self.registry, s.audit.pinned())
        log.info("audit checkpoints are signed with key %s (sha256:%s)",
                 notary.key.key_id.hex(), fingerprint(notary.key.public_key_der).hex())
        self.audit = AuditLog(self.registry.engine, s.node_id, notary,
                              checkpoint_every=s.audit.checkpoint_every,
                              checkpoint_interval_s=s.audit.checkpoint_interval_s)
        admin.audit = self.audit
        current_actor.set("system")  # what this start-up thread does, the system does
        if self.demo:
            self.demo_token_file = bootstrap_demo(admin, self.auth, self.demo_token_file)
        # Signature and token records travel with their audit records (one writer,
        # one transaction per group). The benchmark-only mode records nothing.
        journal: AuditLog | None = self.audit
        if s.server.unsafe_skip_records:
            log.warning("server.unsafe_skip_records is ON: signatures and timestamps are "
                        "NOT recorded nor audited. This mode only measures what durability "
                        "costs; never use it in service")
            journal = None
        if s.tsa.enabled:
            self.tsa = self._start_tsa(devca, journal)
        timestamper: Timestamper | None = None
        if s.cades.source == "url":
            timestamper = HttpTimestamper(s.cades)
        elif self.tsa is not None:
            timestamper = InternalTimestamper(self.tsa.issue_token, s.cades.on_failure)
        core = self._core = SignerCore(
            self.keystore,
            self.registry,
            max_batch=s.server.max_batch,
            timestamper=timestamper,
            timestamp_concurrency=s.cades.max_concurrency,
            audit=journal,
            node_id=s.node_id,
            hsm_parallelism=s.hsm.pool_size,
        )
        if self.bootstrap_only:
            return

        limit = s.server.max_message_bytes
        server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=s.server.threads, thread_name_prefix="kyso-rpc"
            ),
            # Outermost first: errors raised by the auth check are mapped too.
            interceptors=[
                ErrorMappingInterceptor(s.node_id),
                AuthInterceptor(
                    self.auth, on_denied=self._denied, admin_action=self._admin_action
                ),
            ],
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # docs/limits.md trap 5: never silently share a port with a stale server.
                ("grpc.so_reuseport", 1 if self.reuse_port else 0),
            ],
        )
        ctx = Context(
            settings=s, keystore=self.keystore, registry=self.registry, auth=self.auth,
            admin=admin, devca=devca, audit=self.audit, core=core,
            replies=Replies(self.registry.engine),
            verifier=Verifier.from_settings(
                s.verify, devca.certificate() if devca is not None else None,
                self.registry.engine),
            tsa=self.tsa, pdf_timestamp=self._pdf_timestamp(timestamper),
            pdf_font=self.pdf_font, audit_actions=audit_actions(),
        )
        self._replies = ctx.replies
        for register in SERVICES:
            self._services += register(server, ctx)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (*self._services, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        if s.server.tls_cert_file and s.server.tls_key_file:
            client_ca = s.server.tls_client_ca_file
            # With a client CA every connection must present a certificate it issued
            # (gRPC Python cannot make one optional). Who the caller is then comes from
            # its bearer token if it sends one, otherwise from its certificate.
            creds = grpc.ssl_server_credentials(
                [(s.server.tls_key_file.read_bytes(), s.server.tls_cert_file.read_bytes())],
                root_certificates=client_ca.read_bytes() if client_ca else None,
                require_client_auth=client_ca is not None,
            )
            self.port = server.add_secure_port(s.server.listen, creds)
        else:
            self.port = server.add_insecure_port(s.server.listen)
        if self.port == 0:
            raise OSError(f"cannot listen on {s.server.listen}: the address is in use or invalid")
        self._server = server
        self._update_health()
        server.start()
        if self.tsa is not None and s.tsa.http_listen:
            # Its own small pool, not the gRPC handlers', at a lower CPU priority (12.6).
            self._http_pool = futures.ThreadPoolExecutor(
                max_workers=s.tsa.http_threads, thread_name_prefix="kyso-http",
                initializer=lower_priority, initargs=(s.tsa.http_nice,),
            )
            ssl_ctx = None
            if s.server.tls_cert_file and s.server.tls_key_file:
                import ssl

                ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                ssl_ctx.load_cert_chain(s.server.tls_cert_file, s.server.tls_key_file)
            self.tsa_http = TsaHttpServer(
                self.tsa,
                s.tsa.http_listen,
                limits=HttpLimits(
                    max_request_bytes=s.tsa.max_request_bytes,
                    max_connections=s.tsa.http_max_connections,
                    read_timeout_s=s.tsa.http_read_timeout_s,
                    keepalive_timeout_s=s.tsa.http_keepalive_timeout_s,
                    threads=s.tsa.http_threads,
                    max_queue=s.tsa.http_max_queue,
                    nice=s.tsa.http_nice,
                ),
                executor=self._http_pool,
                ssl_context=ssl_ctx,
                reuse_port=self.reuse_port,
                shutdown_grace_s=s.server.shutdown_grace_s,
            )
            self.tsa_http.start()
            self.http_port = self.tsa_http.port
        self._monitor = threading.Thread(target=self._watch, name="kyso-health", daemon=True)
        self._monitor.start()

    def _pdf_timestamp(self, timestamper: Timestamper | None
                       ) -> Callable[[bytes], bytes] | None:
        """PAdES B-T/B-LT timestamps: through the configured external TSA's client (the
        ``[cades]`` retries, timeouts and concurrency bound, as for CAdES), else this
        node's TSA."""
        if isinstance(timestamper, HttpTimestamper):
            return timestamper.query
        return self.tsa.respond if self.tsa is not None else None

    def _denied(self, principal: Principal | None, method: str, target: str, why: str) -> None:
        """A refused call (the audit log records it when there is one)."""
        if self.audit is not None:
            self.audit.append(principal.name if principal else "anonymous", "permission.denied",
                         target, {"method": method, "reason": why})

    def _admin_action(
        self, principal: Principal, method: str, target: str, details: dict[str, Any]
    ) -> AbstractContextManager[Any]:
        """The scope of an administrative RPC: its changes commit with its audit record,
        which is on the chain before the reply leaves."""
        if self.audit is None:
            return nullcontext()
        return self.audit.action(principal.name, audit_action(method), target, details)

    def _start_tsa(self, devca: DevCa | None, journal: AuditLog | None) -> TsaCore:
        """Check the TSA key and certificate (RFC 3161 §2.3) and refuse to start on any fault."""
        assert self.keystore is not None and self.registry is not None
        t = self.settings.tsa
        key = self.registry.active_key(KeyPurpose.TSA)
        if key is None and devca is not None:
            key = devca.ensure_tsa(KeyAlgorithm.parse(t.key_algorithm))
        if key is None or key.certificate is None:
            raise ConfigError(
                "the TSA is enabled but has no active key with a certificate: enable the "
                "development CA (devca.enabled = true) or set tsa.enabled = false"
            )
        policy = TsaPolicy(
            default_policy=t.policy,
            accepted_policies=frozenset({t.policy, *t.accepted_policies}),
            accuracy_ms=t.accuracy_ms,
            include_chain=t.include_chain,
        )
        keys = TsaKeys(self.keystore, self.registry, policy)
        try:
            keys.current()[1].check_validity(datetime.now(UTC))
        except NotUsable as exc:
            raise ConfigError(f"the TSA cannot start: {exc.message}") from exc
        guard = ClockGuard(ClockCheck(t.clock_check), t.max_clock_error_ms)
        if guard.mode is ClockCheck.OFF:
            log.warning("TSA clock check is off: tokens carry this machine's time unchecked")
        elif not (status := guard.status()).synchronised:
            log.warning("the TSA will answer timeNotAvailable until the clock is fixed: %s",
                        status.reason)
        self._tsa_guard = guard
        log.info("TSA key %s, policy %s", key.key_id.hex(), t.policy)
        return TsaCore(
            keys=keys.current,
            policy=policy,
            serials=SerialAllocator(self.registry.engine, block=t.serial_block),
            clock_guard=guard,
            node_id=self.settings.node_id,
            audit=journal,
        )

    def _update_health(self) -> None:
        assert self.keystore is not None and self.registry is not None
        ok = (self.keystore.healthy and self.registry.ping()
              and (self.audit is None or self.audit.healthy))
        serving = health_pb2.HealthCheckResponse.SERVING
        not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
        for name in ("", *self._services):
            self._health.set(name, serving if ok else not_serving)
            HEALTH.labels(name or "overall").set(1 if ok else 0)
        if self._tsa_guard is not None:
            tsa_ok = ok and self._tsa_guard.status().synchronised and (
                self.tsa is None or self.tsa.usable() is None)
            self._health.set(TSA_SERVICE, serving if tsa_ok else not_serving)
            HEALTH.labels(TSA_SERVICE).set(1 if tsa_ok else 0)
            if self.tsa_http is not None:
                self.tsa_http.set_serving(tsa_ok)

    def _watch(self) -> None:
        next_prune = 0.0
        while not self._stopping.wait(HEALTH_INTERVAL_S):
            try:
                self._update_health()
            except Exception:  # health must never kill the process
                log.exception("health check failed")
            if time.monotonic() >= next_prune and self._replies is not None:
                next_prune = time.monotonic() + PRUNE_INTERVAL_S
                days = self.settings.server.idempotency_retention_days
                try:
                    n = self._replies.prune(datetime.now(UTC) - timedelta(days=days))
                    if n:
                        log.info("pruned %d idempotent replies older than %g days", n, days)
                except Exception:  # retried at the next interval
                    log.exception("pruning idempotent replies failed")

    def stop(self, grace: float | None = None) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        grace = self.settings.server.shutdown_grace_s if grace is None else grace
        if self._server is not None:
            self._health.enter_graceful_shutdown()
        if self.tsa_http is not None:
            self.tsa_http.stop()
        if self._server is not None:
            self._server.stop(grace).wait()
        if self._http_pool is not None:
            self._http_pool.shutdown(wait=True)
        if self._core is not None:
            self._core.close()
        if self.audit is not None:  # drains and checkpoints; needs the HSM
            self.audit.close()
        if self.keystore is not None:
            self.keystore.close()
        if self.registry is not None:
            self.registry.close()

    def wait(self) -> None:
        self._stopping.wait()


def check_pdf_font(settings: Settings) -> str:
    """The attachment/copy blocks' font (``[pdf] font``, else Liberation Serif 2.x), checked
    to have every character the blocks may use, and rescaled once for pyHanko
    (signer/formats/pdf/font.py); ConfigError, naming the missing letters, otherwise."""
    from signer.formats.pdf.font import FontUnusable, check_font, find_font, pdf_font_bytes

    setting = "pdf.font (KYSO_PDF_FONT)"
    try:
        path = find_font(settings.pdf.font)
        check_font(path, setting)
        pdf_font_bytes(path)
    except FontUnusable as exc:
        raise ConfigError(f"PDF appearances: {exc.message}") from exc
    return path


