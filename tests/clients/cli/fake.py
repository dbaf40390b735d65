"""A stand-in for the kyso server in the CLI's unit tests.

``FakeKyso.install`` keeps ``KysoClient.__init__`` (so the global options really go
through it, and its refusal of a bearer token in clear text is the real one) but
records its arguments, and replaces every public call of the client with one that
records its arguments and answers what the test said with ``on``: a value, an
exception to raise, or a function of the call's arguments. A call the test did not
expect fails it. No channel is ever used, so no server is needed.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest
from click.testing import CliRunner, Result

from clients.cli import main
from clients.client import KysoClient
from signer.formats.tsp import ParsedRequest, make_request, parse_request
from tests.tsa.pki import NOW, POLICY, pki

NOT_CALLS = {"close"}


@dataclass
class Call:
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass
class Opened:
    endpoint: str
    kwargs: dict[str, Any]


@dataclass
class FakeKyso:
    opened: list[Opened] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    replies: dict[str, Any] = field(default_factory=dict)

    def on(self, name: str, reply: Any) -> None:
        """Answer the client method ``name`` with ``reply``: a value, an exception
        (raised), or a callable (called with the method's arguments)."""
        assert callable(getattr(KysoClient, name, None)), f"KysoClient has no {name}"
        self.replies[name] = reply

    def called(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    def only(self, name: str) -> Call:
        calls = self.called(name)
        assert len(calls) == 1, f"{name} called {len(calls)} times: {self.calls}"
        return calls[0]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_init = KysoClient.__init__
        fake = self

        def init(client: KysoClient, endpoint: str = "127.0.0.1:50051",
                 **kwargs: Any) -> None:
            fake.opened.append(Opened(endpoint, dict(kwargs)))
            real_init(client, endpoint, **kwargs)

        monkeypatch.setattr(KysoClient, "__init__", init)
        for name, _ in inspect.getmembers(KysoClient, inspect.isfunction):
            if name.startswith("_") or name in NOT_CALLS:
                continue
            monkeypatch.setattr(KysoClient, name, self._method(name))

    def _method(self, name: str) -> Any:
        def method(client: KysoClient, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(Call(name, args, kwargs))
            if name not in self.replies:
                raise AssertionError(f"unexpected call {name}{args}{kwargs}")
            reply = self.replies[name]
            if isinstance(reply, BaseException):
                raise reply
            if callable(reply):
                return reply(*args, **kwargs)
            return reply

        return method


class Kyso:
    """``kyso ARGS`` run in this process by click's runner: stdout and stderr apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return self.runner.invoke(main, list(args), env=env, catch_exceptions=True)


def clean(result: Result) -> None:
    """The command ended by itself (an exit status), not by an exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{result.exception!r}\n{result.stderr}")
    assert "Traceback" not in result.stderr


# --- a time-stamp authority for `kyso timestamp` and `kyso verify --content` --------------

GEN_TIME = NOW.replace(microsecond=0)  # the test certificates are valid around now
SERIAL = 0xC0FFEE


class SoftTsa:
    """Answers ``KysoClient.timestamp(request_der)``; keeps each parsed request."""

    def __init__(self, tamper: Any = None) -> None:
        self.requests: list[ParsedRequest] = []
        self.tamper = tamper  # ParsedRequest -> ParsedRequest: answer another request

    def __call__(self, request_der: bytes, **_: Any) -> bytes:
        req = parse_request(request_der, POLICY)
        self.requests.append(req)
        if self.tamper:
            req = self.tamper(req)
        return pki("ec-p256").builder().build(req, serial=SERIAL, gen_time=GEN_TIME)


def token_for(data: bytes) -> bytes:
    der, _ = make_request(hashlib.sha256(data).digest())
    return SoftTsa()(der)
