"""Promise: a bearer token never travels in clear text off loopback.

Attacker: anyone on the network path between a document system (or an
administrator's terminal) and a kyso server reached over plaintext gRPC — a
switch port mirror, a compromised router, a Wi-Fi neighbour. One captured
``authorization: Bearer kyso_…`` header lets them sign as that client until the
token is revoked. Also an attacker who controls DNS for the server's name and
answers "127.0.0.1" to the check, then a remote address to the connection.

The library (``KysoClient``) and the CLI must refuse, before any connection,
to send a token over a plaintext channel to anything that is not loopback,
unless TLS is used or the caller explicitly says ``insecure`` (then with a
warning). Loopback stays allowed in clear (the demo).

No packet leaves this machine in these tests: ``grpc.insecure_channel`` and
``grpc.secure_channel`` are replaced by recorders whose stubs fail when a call
would be sent, name resolution is faked for the test names, and the benchmark's
worker processes are never started. (A listening socket on this machine's own
non-loopback address was considered and rejected: this workplace allows test
traffic to loopback addresses only.) The refusal must therefore happen before
a channel is even created.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import grpc
import pytest
from click.testing import CliRunner

import clients.bench
from clients import KysoClient
from clients.cli import main

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

TOKEN = "kyso_" + "s3cr3t" * 8
REMOTE = "203.0.113.7"  # TEST-NET-3 (RFC 5737): never contacted, see the docstring

# name -> addresses the fake resolver answers
FAKE_DNS: dict[str, list[str]] = {
    "dms.example.test": [REMOTE],
    "loopback-only.test": ["127.0.0.1"],
    "mixed.test": ["127.0.0.1", REMOTE],
    "localhost": ["127.0.0.1", "::1"],
}


class WouldSend(AssertionError):
    """A stub was about to put a request (and its token) on the wire."""


class Network:
    """Records every channel kyso tries to open; sends nothing."""

    def __init__(self) -> None:
        self.channels: list[tuple[str, str]] = []  # (kind, target)

    def insecure_channel(self, target: str, *args: Any, **kwargs: Any) -> Any:
        self.channels.append(("insecure", target))
        return FakeChannel()

    def secure_channel(self, target: str, *args: Any, **kwargs: Any) -> Any:
        self.channels.append(("secure", target))
        return FakeChannel()

    @property
    def plaintext(self) -> list[str]:
        return [t for kind, t in self.channels if kind == "insecure"]


class FakeChannel:
    def _method(self, method: str, *args: Any, **kwargs: Any) -> Any:
        def call(*_a: Any, **_k: Any) -> Any:
            raise WouldSend(method)

        return call

    unary_unary = unary_stream = stream_unary = stream_stream = _method

    def close(self) -> None:
        pass


def _fake_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
    try:
        ipaddress_literal = socket.inet_pton(
            socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        del ipaddress_literal
        addrs = [host]
    except OSError:
        if host not in FAKE_DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        addrs = FAKE_DNS[host]
    out = []
    for a in addrs:
        if ":" in a:
            out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, int(port or 0), 0, 0)))
        else:
            out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port or 0))))
    return out


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Network:
    n = Network()
    monkeypatch.setattr(grpc, "insecure_channel", n.insecure_channel)
    monkeypatch.setattr(grpc, "secure_channel", n.secure_channel)
    monkeypatch.setattr(socket, "getaddrinfo", _fake_getaddrinfo)

    def no_bench(*_a: Any, **_k: Any) -> Any:
        raise WouldSend("kyso bench would start its load processes")

    monkeypatch.setattr(clients.bench.mp, "get_context", no_bench)
    return n


OFF_LOOPBACK = [
    f"{REMOTE}:50051",
    f"127.0.0.1:50051,{REMOTE}:50051",  # one bad endpoint among several
    "dms.example.test:50051",  # a DNS name resolving off loopback
    "mixed.test:50051",  # a name with one loopback and one remote address
    "nowhere.test:50051",  # a name that does not resolve: cannot be checked
    "0.0.0.0:50051",
    f"[::ffff:{REMOTE}]:50051",  # IPv4-mapped IPv6
    "[2001:db8::7]:50051",
]


@pytest.mark.parametrize("endpoint", OFF_LOOPBACK)
def test_library_refuses_token_in_clear_off_loopback(net: Network, endpoint: str) -> None:
    with pytest.raises(ValueError) as exc:
        KysoClient(endpoint, token=TOKEN)
    msg = str(exc.value)
    assert "root_certificates" in msg and "insecure=True" in msg, msg
    assert TOKEN not in msg
    assert net.channels == []  # refused before any channel existed


LOOPBACK = ["127.0.0.1:50051", "127.9.8.7:1", "[::1]:50051", "localhost:50051",
            "loopback-only.test:50051", "127.0.0.1:1,[::1]:2"]


@pytest.mark.parametrize("endpoint", LOOPBACK)
def test_library_allows_loopback_in_clear(net: Network, endpoint: str) -> None:
    with KysoClient(endpoint, token=TOKEN) as c:
        with pytest.raises(WouldSend):
            c.whoami()
    [target] = net.plaintext
    assert REMOTE not in target


def test_checked_name_is_the_name_connected_to(net: Network) -> None:
    """DNS rebinding: the addresses checked are the addresses used; gRPC must not
    resolve the name again after the check."""
    KysoClient("loopback-only.test:50051", token=TOKEN).close()
    [target] = net.plaintext
    assert "loopback-only.test" not in target
    assert "127.0.0.1:50051" in target


def test_library_allows_tls_and_tokenless_and_explicit_insecure(
    net: Network, caplog: pytest.LogCaptureFixture
) -> None:
    KysoClient(f"{REMOTE}:50051", token=TOKEN, root_certificates=b"-----BEGIN...").close()
    assert net.channels == [("secure", f"{REMOTE}:50051")]
    KysoClient(f"{REMOTE}:50051").close()  # no token: nothing to leak
    with caplog.at_level(logging.WARNING):
        KysoClient(f"{REMOTE}:50051", token=TOKEN, insecure=True).close()
    assert net.plaintext == [f"{REMOTE}:50051", f"{REMOTE}:50051"]
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert REMOTE in warning and "clear" in warning
    assert TOKEN not in caplog.text


def _cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(main, list(args), env=env)


@pytest.mark.parametrize("endpoint", [f"{REMOTE}:50051", "dms.example.test:50051",
                                      f"127.0.0.1:50051,{REMOTE}:50051"])
def test_cli_refuses_token_in_clear_off_loopback(net: Network, endpoint: str) -> None:
    r = _cli("--server", endpoint, "--token", TOKEN, "admin", "whoami")
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert not isinstance(r.exception, WouldSend)
    assert "--tls-ca" in r.output and "--insecure" in r.output, r.output
    assert TOKEN not in r.output
    assert net.channels == []


def test_cli_refuses_token_from_environment_too(net: Network) -> None:
    r = _cli("admin", "whoami", env={"KYSO_ENDPOINT": f"{REMOTE}:50051", "KYSO_TOKEN": TOKEN})
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert net.channels == []


def test_cli_bench_refuses_token_in_clear_off_loopback(net: Network) -> None:
    """`kyso bench` drives plaintext gRPC itself: its --endpoint list must be checked."""
    r = _cli("--token", TOKEN, "bench", "sign", "--agency", "000.00.00.H13",
             "--endpoint", f"{REMOTE}:50051", "--count", "1")
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    assert not isinstance(r.exception, WouldSend)
    assert "--insecure" in r.output


def test_cli_insecure_flag_sends_with_a_warning(net: Network) -> None:
    r = _cli("--server", f"{REMOTE}:50051", "--token", TOKEN, "--insecure", "admin", "whoami")
    assert isinstance(r.exception, WouldSend)  # it did go ahead, as asked
    assert net.plaintext == [f"{REMOTE}:50051"]
    assert "warning" in r.stderr.lower() and REMOTE in r.stderr, r.stderr
    assert TOKEN not in r.output


def test_cli_loopback_in_clear_still_works(net: Network) -> None:
    r = _cli("--server", "127.0.0.1:50051", "--token", TOKEN, "admin", "whoami")
    assert isinstance(r.exception, WouldSend)
    assert "warning" not in r.stderr.lower()
