"""Every RPC is authenticated and authorised: role boundaries, scopes, revocation, mTLS."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clients import KysoClient, KysoClientError
from kyso.common.v1 import common_pb2
from tests.servers import Server, server_env, start_server, stop_server

pytestmark = pytest.mark.e2e
H13 = "000.00.00.H13"
H49 = "000.00.00.H49"


@pytest.fixture(scope="module")
def world(server: Server) -> dict[str, str]:
    """Agencies in two provinces and one client per role, scoped to Cần Thơ (H13)."""
    with server.client() as admin:
        for code, name in [(H49, "UBND tỉnh Quảng Ninh"), ("000.00.30.H13", "Sở Tài chính"),
                           ("000.00.30.H49", "Sở Tài chính Quảng Ninh")]:
            admin.create_agency(code, name)
            admin.generate_key(code, "ec-p256")
            admin.issue_dev_certificate(code)
        tokens = {}
        for role in ("signer", "registry-admin", "key-admin", "auditor"):
            r = admin.create_client(f"{role}-h13", grants=[(role, H13, True)])
            tokens[role] = r.token
        tokens["global-key-admin"] = admin.create_client(
            "security-office", kind="person", grants=[("key-admin", "", False)]).token
    return tokens


def _as(server: Server, token: str) -> KysoClient:
    return KysoClient(server.endpoint, token=token, timeout=30)


def _denied(call: Callable[[], Any], *fragments: str) -> None:
    with pytest.raises(KysoClientError) as exc:
        call()
    assert exc.value.code == "PERMISSION_DENIED", exc.value
    for f in fragments:
        assert f in exc.value.message


def test_no_or_bad_credentials(server: Server) -> None:
    with KysoClient(server.endpoint, token="") as c, pytest.raises(KysoClientError) as exc:
        c.sign_digests(H13, [b"\0" * 32])
    assert exc.value.code == "UNAUTHENTICATED" and "bearer token" in exc.value.message
    with _as(server, "kyso_forged") as c, pytest.raises(KysoClientError) as exc:
        c.list_agencies()
    assert exc.value.code == "UNAUTHENTICATED" and "unknown or revoked" in exc.value.message
    r = server.cli("admin", "agency", "list")
    assert r.returncode == 0  # the CLI uses the demo admin's token from KYSO_TOKEN
    env_without = {k: v for k, v in server.env.items() if k != "KYSO_TOKEN"}
    r = subprocess.run([str(Path(os.sys.executable).parent / "kyso"), "--server",
                        server.endpoint, "admin", "agency", "list"], env=env_without,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 4 and "UNAUTHENTICATED" in r.stderr


@pytest.mark.parametrize(("metadata", "says"), [
    ((("authorization", "Basic ZGVtbzpkZW1v"),), "uses the Basic scheme"),
    ((("authorization", "Bearer"),), "names no bearer token"),
    ((("authorization", "Bearer two words"),), "names no bearer token"),
    ((("authorization", "kyso_no_scheme"),), "is not of the form `Bearer <token>`"),
    ((("authorization", "Bearer a"), ("authorization", "Bearer b")),
     "2 authorization headers"),
    ((), "no credentials"),
])
def test_a_malformed_authorization_header_is_named(server: Server, metadata: tuple[Any, ...],
                                                   says: str) -> None:
    """It used to be answered "no credentials", as if nothing had been sent."""
    import grpc

    from kyso.registry.v1 import registry_pb2, registry_pb2_grpc

    with grpc.insecure_channel(server.endpoint) as ch:
        stub = registry_pb2_grpc.RegistryServiceStub(ch)
        with pytest.raises(grpc.RpcError) as exc:
            stub.ListAgencies(registry_pb2.ListAgenciesRequest(), metadata=metadata, timeout=10)
    assert exc.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert says in exc.value.details(), exc.value.details()
    assert "ZGVtbzpkZW1v" not in exc.value.details() and "kyso_no_scheme" not in (
        exc.value.details())


def test_signer_boundaries(server: Server, world: dict[str, str]) -> None:
    with _as(server, world["signer"]) as c:
        assert c.sign_digests(H13, [os.urandom(32)]).signatures
        assert c.sign_digests("000.00.30.H13", [os.urandom(32)]).signatures  # subtree
        _denied(lambda: c.sign_digests(H49, [os.urandom(32)]), "signer-h13", "for agency "
                "000.00.00.H49", "signer on 000.00.00.H13 and its subtree")
        _denied(lambda: c.sign_digests("000.00.30.H49", [os.urandom(32)]))
        _denied(lambda: c.create_agency("000.00.31.H13", "x"), "registry-admin")
        _denied(lambda: c.generate_key(H13), "key-admin")
        _denied(lambda: c.list_clients())
        assert c.list_agencies()  # reading the registry is open to every role
        assert c.whoami().name == "signer-h13"


def test_registry_admin_boundaries(server: Server, world: dict[str, str]) -> None:
    with _as(server, world["registry-admin"]) as c:
        assert c.create_agency("000.00.32.H13", "Sở Xây dựng").code == "000.00.32.H13"
        _denied(lambda: c.create_agency("000.00.32.H49", "x"), "for agency 000.00.32.H49")
        _denied(lambda: c.create_agency("000.00.00.H50", "x"))  # a new province: global only
        _denied(lambda: c.sign_digests(H13, [os.urandom(32)]), "signer")
        _denied(lambda: c.generate_key("000.00.32.H13"), "key-admin")


def test_key_admin_boundaries(server: Server, world: dict[str, str]) -> None:
    with _as(server, world["key-admin"]) as c:
        key = c.generate_key("000.00.32.H13", "ec-p256")
        assert key.agency_code == "000.00.32.H13"
        assert c.issue_dev_certificate("000.00.32.H13").state == 2
        _denied(lambda: c.generate_key(H49), "for agency 000.00.00.H49")
        _denied(lambda: c.sign_digests(H13, [os.urandom(32)]), "signer")
        _denied(lambda: c.create_client("rogue"), "on all agencies")  # scoped key-admin
        assert c.signing_certificate(H13).key_id
    with _as(server, world["global-key-admin"]) as c:
        assert c.create_client("auditor-2", grants=[("auditor", "", False)]).token
        assert any(x.name == "auditor-2" for x in c.list_clients())


def test_auditor_is_read_only(server: Server, world: dict[str, str]) -> None:
    with _as(server, world["auditor"]) as c:
        assert any(a.code == H13 for a in c.list_agencies())
        assert c.signing_certificate(H13).certificate.der
        _denied(lambda: c.sign_digests(H13, [os.urandom(32)]))
        _denied(lambda: c.create_agency("000.00.33.H13", "x"))
        _denied(lambda: c.generate_key(H13))
        _denied(lambda: c.revoke_client("signer-h13"))
        _denied(lambda: c.timestamp(b"\x30\x00"))


def test_revocation_takes_effect_within_the_cache_bound(server: Server) -> None:
    with server.client() as admin:
        token = admin.create_client("short-lived", grants=[("signer", H13, False)]).token
        with _as(server, token) as c:
            assert c.sign_digests(H13, [os.urandom(32)]).signatures
            admin.revoke_client("short-lived")
            deadline = time.monotonic() + 10
            while True:
                try:
                    c.sign_digests(H13, [os.urandom(32)])
                except KysoClientError as exc:
                    assert exc.code == "UNAUTHENTICATED"
                    break
                assert time.monotonic() < deadline, "revoked token still accepted after 10 s"
                time.sleep(0.2)


def test_cli_client_management(server: Server) -> None:
    r = server.cli("admin", "client", "add", "iOffice-CT", "--grant", f"signer@{H13}/**")
    assert r.returncode == 0 and "token (shown once" in r.stdout, r.stderr
    token = r.stdout.split("store it now): ")[1].strip()
    who = server.cli("admin", "whoami", "--help")
    assert who.returncode == 0
    env = dict(server.env, KYSO_TOKEN=token)
    r = subprocess.run([str(Path(os.sys.executable).parent / "kyso"), "--server",
                        server.endpoint, "admin", "whoami"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and f"signer@{H13}/**" in r.stdout, r.stderr
    listed = server.cli("admin", "client", "list")
    assert "iOffice-CT" in listed.stdout and token not in listed.stdout


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def test_mtls_client_certificate(tmp_path: Path) -> None:
    # A throwaway PKI made by OpenSSL: server certificate for 127.0.0.1, one client certificate.
    d = tmp_path
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"), "-days", "2",
             "-subj", "/CN=test TLS CA")
    for name, ext in [("server", "subjectAltName=IP:127.0.0.1"), ("client", ""),
                      ("admin", ""), ("stranger", "")]:
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"),
                 "-subj", f"/CN={name}")
        extra = ["-extfile", str(d / f"{name}.ext")] if ext else []
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"),
                 "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
                 "-out", str(d / f"{name}.pem"), *extra)
    env = server_env(tmp_path, "kyso-e2e-mtls")
    env.update(KYSO_SERVER_TLS_CERT_FILE=str(d / "server.pem"),
               KYSO_SERVER_TLS_KEY_FILE=str(d / "server.key"),
               KYSO_SERVER_TLS_CLIENT_CA_FILE=str(d / "ca.pem"))
    srv = start_server(tmp_path, env, "--demo")
    ca = (d / "ca.pem").read_bytes()

    def tls(name: str, token: str | None = None) -> KysoClient:
        return KysoClient(srv.endpoint, root_certificates=ca, token=token,
                          client_certificate=(d / f"{name}.pem").read_bytes(),
                          client_key=(d / f"{name}.key").read_bytes())

    try:
        # The administrator's connection presents a certificate too; its token names it.
        with tls("admin", srv.token) as admin:
            assert admin.whoami().name == "demo-admin"
            admin.create_client("iOffice-mtls", no_token=True,
                                certificate=(d / "client.pem").read_bytes(),
                                grants=[("signer", H13, False)])
        with tls("client") as c:
            assert c.whoami().name == "iOffice-mtls"
            assert c.sign_digests(H13, [os.urandom(32)]).signatures
        with tls("stranger") as s, pytest.raises(KysoClientError) as exc:
            s.list_agencies()
        assert exc.value.code == "UNAUTHENTICATED" and "not registered" in exc.value.message
        with KysoClient(srv.endpoint, root_certificates=ca, token=srv.token, timeout=5) as bare, \
                pytest.raises(KysoClientError) as exc:
            bare.list_agencies()  # no client certificate: the TLS handshake fails
        assert exc.value.code == "UNAVAILABLE"
    finally:
        stop_server(srv)


def test_denials_and_admin_actions_are_audited(server: Server, world: dict[str, str]) -> None:
    import json

    with _as(server, world["signer"]) as c:
        _denied(lambda: c.sign_digests(H49, [os.urandom(32)]))
    with server.client() as admin:
        admin.grant_role("auditor-h13", "auditor", "", False)
    r = server.cli("admin", "audit", "list", "--action", "permission.denied", "--json",
                   "--limit", "1000")
    assert r.returncode == 0, r.stderr
    denied = json.loads(r.stdout)["records"]
    assert any(d["actor"] == "signer-h13" and d["target"] == H49
               and "SignDigests" in d["details"]["method"] for d in denied), denied
    r = server.cli("admin", "audit", "list", "--action", "client.grant_role", "--json")
    grants = json.loads(r.stdout)["records"]
    assert any(g["actor"] == "demo-admin" and g["details"]["name"] == "auditor-h13"
               for g in grants), grants
    v = server.cli("admin", "audit", "verify")
    assert v.returncode == 0, v.stdout + v.stderr


def test_refusals_are_typed_and_say_what_to_do(server: Server) -> None:
    """A subclass per status (``.code`` a ``Status``) and a ``diagnostics()`` text a
    person can act on (issue 14/15: the library raised one class, code a bare string)."""
    import socket

    from clients import NotFound, Status, Unauthenticated, Unavailable

    with _as(server, server.token or "") as c, pytest.raises(NotFound) as nf:
        c.sign_digests("000.00.00.H99", [b"\0" * 32])
    assert nf.value.code is Status.NOT_FOUND and nf.value.code == "NOT_FOUND"
    text = nf.value.diagnostics()
    assert f"NOT_FOUND from kyso at {server.endpoint}: " in text and "what to do:" in text
    with KysoClient(server.endpoint, token="") as c, pytest.raises(Unauthenticated) as un:
        c.list_agencies()
    assert "kyso admin client token" in un.value.diagnostics()
    with socket.socket() as held:  # a port nothing listens on, held meanwhile
        held.bind(("127.0.0.1", 0))
        away = f"127.0.0.1:{held.getsockname()[1]}"
        with KysoClient(away, token="", timeout=5) as c, pytest.raises(Unavailable) as ua:
            c.list_agencies()
    assert ua.value.unreachable and "start the server" in ua.value.diagnostics()


def test_argument_errors_are_raised_as_such(server: Server) -> None:
    with KysoClient(server.endpoint, token="") as c:
        with pytest.raises(TypeError, match=r"pass \[digest\], not the digest itself"):
            c.sign_digests(H13, b"\0" * 32)
        with pytest.raises(ValueError, match="2 digests but 1 references"):
            c.sign_digests(H13, [b"\0" * 32] * 2, references=["a"])
        with pytest.raises(ValueError, match="unknown scheme 'rsa'"):
            c.sign_digests(H13, [b"\0" * 32], scheme="rsa")


def test_a_bad_grant_creates_no_client(server: Server) -> None:
    """The client used to be committed before its grants were checked: a malformed scope
    answered INVALID_ARGUMENT and left a client whose one-time token nobody saw."""
    from clients import InvalidArgument

    with server.client() as c:
        with pytest.raises(InvalidArgument):
            c.create_client("dms-bad-scope", grants=[("signer", "000.0X.00.H13", False)])
        assert "dms-bad-scope" not in {x.name for x in c.list_clients()}


def test_a_signer_cannot_hide_its_signatures_from_the_statistics(
        server: Server, world: dict[str, str]) -> None:
    """`load_test` keeps signatures out of the official monthly rows: a document system
    with a plain signer grant must not be able to set it on its own documents. It takes
    key-admin on the agency (an operator running `kyso bench`)."""
    from clients import PermissionDenied
    from kyso.signer.v1 import signer_pb2

    def request() -> signer_pb2.SignDigestsRequest:
        return signer_pb2.SignDigestsRequest(
            agency_code=H13, load_test=True, digests=[signer_pb2.DigestToSign(
                digest=os.urandom(32), hash_algorithm=common_pb2.HASH_ALGORITHM_SHA256)])

    with _as(server, world["signer"]) as c:
        with pytest.raises(PermissionDenied, match="key-admin"):
            c._call(c._signer.SignDigests, request())
        assert c.sign_digests(H13, [os.urandom(32)]).signatures  # its own documents: fine
    with server.client() as c:  # the demo administrator: signer and key-admin
        assert c._call(c._signer.SignDigests, request()).signatures
