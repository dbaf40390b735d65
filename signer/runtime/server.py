"""The kyso server host: one process serving signer.v1 and registry.v1 (and,
later, tsa.v1) over gRPC, with standard health checking and reflection.

Start-up validates everything before serving (settings, HSM login, database
schema, the development CA); it refuses to run half-configured. SIGTERM and
SIGINT stop accepting new calls and drain in-flight ones for
``server.shutdown_grace_s`` seconds.
"""

from __future__ import annotations

import logging
import signal
import threading
from concurrent import futures
from types import FrameType

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from kyso.registry.v1 import registry_pb2, registry_pb2_grpc
from kyso.signer.v1 import signer_pb2, signer_pb2_grpc
from registry.admin import RegistryAdmin
from registry.devca import DevCa
from registry.service import RegistryServicer
from registry.store import RegistryStore
from signer.config import Settings
from signer.core import SignerCore
from signer.keys.store import HsmConfig, Pkcs11KeyStore
from signer.runtime.interceptors import ErrorMappingInterceptor
from signer.service import SignerServicer

log = logging.getLogger(__name__)

SERVICES = (
    signer_pb2.DESCRIPTOR.services_by_name["SignerService"].full_name,
    registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name,
)
HEALTH_INTERVAL_S = 2.0


class Node:
    """One kyso server process. ``start()`` then ``wait()``; ``stop()`` drains."""

    def __init__(self, settings: Settings, *, demo: bool = False) -> None:
        self.settings = settings
        self.demo = demo
        self.port = 0
        self.keystore: Pkcs11KeyStore | None = None
        self.registry: RegistryStore | None = None
        self._server: grpc.Server | None = None
        self._health = health.HealthServicer()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None

    def start(self) -> None:
        s = self.settings
        self.registry = RegistryStore(s.store.url)
        self.registry.migrate()
        self.keystore = Pkcs11KeyStore(
            HsmConfig(
                module=s.hsm.module,
                token_label=s.hsm.token_label,
                pin=s.hsm.read_pin(),
                pool_size=s.hsm.pool_size,
                recovery_timeout_s=s.hsm.recovery_timeout_s,
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
        admin = RegistryAdmin(self.keystore, self.registry, devca)
        if self.demo:
            key = admin.ensure_demo()
            log.info("demo agency %s signs with key %s", key.agency_code, key.key_id.hex())
        core = SignerCore(self.keystore, self.registry, max_batch=s.server.max_batch)

        limit = s.server.max_message_bytes
        server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=s.server.threads, thread_name_prefix="kyso-rpc"
            ),
            interceptors=[ErrorMappingInterceptor()],
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                # LIMITS.md trap 5: never silently share a port with a stale server.
                ("grpc.so_reuseport", 0),
            ],
        )
        signer_pb2_grpc.add_SignerServiceServicer_to_server(SignerServicer(core), server)
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(admin), server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (*SERVICES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        if s.server.tls_cert_file and s.server.tls_key_file:
            creds = grpc.ssl_server_credentials(
                [(s.server.tls_key_file.read_bytes(), s.server.tls_cert_file.read_bytes())]
            )
            self.port = server.add_secure_port(s.server.listen, creds)
        else:
            self.port = server.add_insecure_port(s.server.listen)
        if self.port == 0:
            raise OSError(f"cannot listen on {s.server.listen}: the address is in use or invalid")
        self._server = server
        self._update_health()
        server.start()
        self._monitor = threading.Thread(target=self._watch, name="kyso-health", daemon=True)
        self._monitor.start()

    def _update_health(self) -> None:
        assert self.keystore is not None and self.registry is not None
        ok = self.keystore.healthy and self.registry.ping()
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ok
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *SERVICES):
            self._health.set(name, status)

    def _watch(self) -> None:
        while not self._stopping.wait(HEALTH_INTERVAL_S):
            try:
                self._update_health()
            except Exception:  # health must never kill the process
                log.exception("health check failed")

    def stop(self, grace: float | None = None) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        grace = self.settings.server.shutdown_grace_s if grace is None else grace
        if self._server is not None:
            self._health.enter_graceful_shutdown()
            self._server.stop(grace).wait()
        if self.keystore is not None:
            self.keystore.close()
        if self.registry is not None:
            self.registry.close()

    def wait(self) -> None:
        self._stopping.wait()


def serve(settings: Settings, *, demo: bool = False, ready: threading.Event | None = None) -> Node:
    """Run a node in the foreground until SIGTERM or SIGINT."""
    node = Node(settings, demo=demo)
    done = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: draining for up to %.0fs", signal.Signals(signum).name,
                 settings.server.shutdown_grace_s)
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    node.start()
    host = settings.server.listen.rpartition(":")[0]
    print(f"kyso: serving gRPC on {host}:{node.port} (node {settings.node_id})", flush=True)
    if ready is not None:
        ready.set()
    done.wait()
    node.stop()
    print("kyso: stopped", flush=True)
    return node
