"""The global options and ``clients.cli.common``: which endpoint, token and TLS material
a command's client gets, the refusal of a bearer token in clear text off loopback, a
refused call's exit status, and ``--help`` of every command."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from clients.cli import main
from clients.cli.common import check_plaintext_endpoints
from clients.client import DEFAULT_ENDPOINT, KysoClientError
from kyso.registry.v1 import registry_pb2
from tests.clients.cli.fake import FakeKyso, Kyso, clean
from tests.tsa.pki import pem, pki

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

REFUSAL = "refusing to send the bearer token in clear text"
LIST = ("admin", "agency", "list")


@pytest.fixture
def agencies(fake: FakeKyso) -> FakeKyso:
    fake.on("list_agencies", [registry_pb2.Agency(code="000.00.00.H13", name="Bộ Nội vụ",
                                                  level=1)])
    return fake


def opened(fake: FakeKyso) -> tuple[str, dict[str, object]]:
    assert len(fake.opened) == 1, fake.opened
    return fake.opened[0].endpoint, fake.opened[0].kwargs


# --- endpoint ------------------------------------------------------------------------


def test_default_endpoint_timeout_and_no_credentials(kyso: Kyso, agencies: FakeKyso) -> None:
    r = kyso(*LIST)
    assert r.exit_code == 0, r.stderr
    endpoint, kw = opened(agencies)
    assert endpoint == DEFAULT_ENDPOINT == "127.0.0.1:50051"
    assert kw == {"timeout": 60.0, "token": None, "root_certificates": None,
                  "client_certificate": None, "client_key": None, "insecure": False}


def test_server_option_and_timeout(kyso: Kyso, agencies: FakeKyso) -> None:
    r = kyso("--server", "127.0.0.2:6000", "--timeout", "2.5", *LIST)
    assert r.exit_code == 0, r.stderr
    endpoint, kw = opened(agencies)
    assert (endpoint, kw["timeout"]) == ("127.0.0.2:6000", 2.5)


def test_kyso_endpoint_environment(kyso: Kyso, agencies: FakeKyso) -> None:
    r = kyso(*LIST, env={"KYSO_ENDPOINT": "127.0.0.3:7000"})
    assert r.exit_code == 0, r.stderr
    assert opened(agencies)[0] == "127.0.0.3:7000"


def test_server_option_beats_kyso_endpoint(kyso: Kyso, agencies: FakeKyso) -> None:
    r = kyso("--server", "127.0.0.2:6000", *LIST, env={"KYSO_ENDPOINT": "127.0.0.3:7000"})
    assert r.exit_code == 0, r.stderr
    assert opened(agencies)[0] == "127.0.0.2:6000"


def test_malformed_server_list_exits_2_without_a_call(kyso: Kyso, fake: FakeKyso) -> None:
    r = kyso("--server", "127.0.0.1:1,nope", *LIST)
    clean(r)
    assert r.exit_code == 2
    assert "kyso: endpoint 'nope' must be host:port" in r.stderr
    assert fake.calls == []


# --- token ---------------------------------------------------------------------------


def test_token_option(kyso: Kyso, agencies: FakeKyso) -> None:
    r = kyso("--token", "tok-opt", *LIST)
    assert r.exit_code == 0, r.stderr
    assert opened(agencies)[1]["token"] == "tok-opt"


def test_kyso_token_environment(kyso: Kyso, agencies: FakeKyso) -> None:
    r = kyso(*LIST, env={"KYSO_TOKEN": "tok-env"})
    assert r.exit_code == 0, r.stderr
    assert opened(agencies)[1]["token"] == "tok-env"


def test_token_file_is_read_and_stripped(kyso: Kyso, agencies: FakeKyso,
                                         tmp_path: Path) -> None:
    (tmp_path / "t").write_text("  tok-file\n")
    r = kyso("--token-file", "t", *LIST)
    assert r.exit_code == 0, r.stderr
    assert opened(agencies)[1]["token"] == "tok-file"


def test_kyso_token_file_environment(kyso: Kyso, agencies: FakeKyso, tmp_path: Path) -> None:
    (tmp_path / "t").write_text("tok-file-env\n")
    r = kyso(*LIST, env={"KYSO_TOKEN_FILE": str(tmp_path / "t")})
    assert r.exit_code == 0, r.stderr
    assert opened(agencies)[1]["token"] == "tok-file-env"


def test_missing_token_file_is_a_usage_error(kyso: Kyso, fake: FakeKyso) -> None:
    r = kyso("--token-file", "absent", *LIST)
    assert r.exit_code == 2
    assert "absent" in r.stderr and fake.opened == []


def test_token_file_option_beats_kyso_token_environment(
        kyso: Kyso, agencies: FakeKyso, tmp_path: Path) -> None:
    """What is on the command line wins over the environment; today KYSO_TOKEN fills
    ``token`` and ``--token-file`` is then ignored without a word."""
    (tmp_path / "t").write_text("tok-file\n")
    r = kyso("--token-file", "t", *LIST, env={"KYSO_TOKEN": "tok-env"})
    assert r.exit_code == 0, r.stderr
    assert opened(agencies)[1]["token"] == "tok-file"


def test_token_option_beats_kyso_token_file_environment(
        kyso: Kyso, agencies: FakeKyso, tmp_path: Path) -> None:
    (tmp_path / "t").write_text("tok-file\n")
    r = kyso("--token", "tok-opt", *LIST, env={"KYSO_TOKEN_FILE": str(tmp_path / "t")})
    assert r.exit_code == 0, r.stderr
    assert opened(agencies)[1]["token"] == "tok-opt"


@pytest.mark.parametrize("how", ["options", "environment"])
def test_two_different_tokens_at_one_level_are_refused(
        kyso: Kyso, fake: FakeKyso, tmp_path: Path, how: str) -> None:
    (tmp_path / "t").write_text("tok-file\n")
    if how == "options":
        r = kyso("--token", "tok-opt", "--token-file", "t", *LIST)
    else:
        r = kyso(*LIST, env={"KYSO_TOKEN": "tok-env", "KYSO_TOKEN_FILE": str(tmp_path / "t")})
    assert r.exit_code == 2
    assert "two different bearer tokens" in r.stderr
    assert "tok-" not in r.stdout + r.stderr  # the tokens themselves are not echoed
    assert fake.opened == []


def test_the_same_token_twice_is_not_a_conflict(
        kyso: Kyso, agencies: FakeKyso, tmp_path: Path) -> None:
    (tmp_path / "t").write_text("same\n")
    r = kyso("--token", "same", "--token-file", "t", *LIST)
    assert r.exit_code == 0, r.stderr
    assert opened(agencies)[1]["token"] == "same"


# --- no bearer token in clear text off loopback ---------------------------------------


@pytest.mark.parametrize("server", ["10.11.12.13:50051", "127.0.0.1:50051,10.0.0.9:50051"])
def test_token_in_clear_off_loopback_is_refused(kyso: Kyso, fake: FakeKyso,
                                                server: str) -> None:
    r = kyso("--server", server, "--token", "secret", *LIST)
    clean(r)
    assert r.exit_code == 2
    assert REFUSAL in r.stderr and "10." in r.stderr and "--insecure" in r.stderr
    assert "secret" not in r.stdout + r.stderr
    assert fake.calls == []


def test_insecure_sends_it_with_a_warning(kyso: Kyso, agencies: FakeKyso) -> None:
    r = kyso("--server", "10.11.12.13:50051", "--token", "secret", "--insecure", *LIST)
    assert r.exit_code == 0, r.stderr
    assert "warning" in r.stderr and "clear text" in r.stderr
    assert opened(agencies)[1]["insecure"] is True
    assert len(agencies.called("list_agencies")) == 1


@pytest.mark.parametrize("server", ["127.0.0.1:50051", "localhost:50051", "[::1]:50051"])
def test_token_in_clear_to_loopback_is_sent_quietly(kyso: Kyso, agencies: FakeKyso,
                                                    server: str) -> None:
    r = kyso("--server", server, "--token", "secret", *LIST)
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""


def test_no_token_goes_anywhere(kyso: Kyso, agencies: FakeKyso) -> None:
    r = kyso("--server", "10.11.12.13:50051", *LIST)
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""


def test_tls_ca_allows_a_token_off_loopback(kyso: Kyso, agencies: FakeKyso,
                                            tmp_path: Path) -> None:
    ca = pem(pki("ec-p256").ca_der)
    (tmp_path / "ca.pem").write_bytes(ca)
    r = kyso("--server", "10.11.12.13:50051", "--token", "secret", "--tls-ca", "ca.pem", *LIST)
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    assert opened(agencies)[1]["root_certificates"] == ca


def test_check_plaintext_endpoints(capsys: pytest.CaptureFixture[str]) -> None:
    """What `kyso bench`, which opens plaintext channels itself, checks them with."""
    ctx = click.Context(main, obj={"token": "secret", "insecure": False})
    with pytest.raises(SystemExit) as exc:
        check_plaintext_endpoints(ctx, ["127.0.0.1:1", "10.11.12.13:50051"])
    assert exc.value.code == 2
    assert REFUSAL in capsys.readouterr().err
    check_plaintext_endpoints(ctx, ["127.0.0.1:1", "localhost:2"])  # no exit
    ctx.obj = {"token": "secret", "insecure": True}
    check_plaintext_endpoints(ctx, ["10.11.12.13:50051"])
    assert "warning" in capsys.readouterr().err
    ctx.obj = {"token": None, "insecure": False}
    check_plaintext_endpoints(ctx, ["10.11.12.13:50051"])  # no token: nothing to protect


# --- a refused call --------------------------------------------------------------------


def test_refused_call_exits_4_with_the_code_and_message(kyso: Kyso, fake: FakeKyso) -> None:
    fake.on("list_agencies", KysoClientError("PERMISSION_DENIED",
                                             "client [ops] lacks role registry:read"))
    r = kyso(*LIST)
    clean(r)
    assert r.exit_code == 4
    assert r.stdout == ""
    # escaped: the message's brackets are not taken for rich markup
    assert "error (PERMISSION_DENIED): client [ops] lacks role registry:read" in r.stderr


# --- --help of every command ------------------------------------------------------------


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path, the lazily loaded ones included (as click lists them)."""
    found = [path]
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, (path, name)
        if isinstance(cmd, click.Group):
            found += _commands(cmd, (*path, name))
        else:
            found.append((*path, name))
    return found


COMMANDS = _commands(main)


def test_the_tree_is_walked() -> None:
    assert len(COMMANDS) > 40
    for path in [("sign", "cms"), ("sign", "pdf"), ("timestamp", "verify"), ("verify",),
                 ("admin", "agency", "add"), ("admin", "key", "list"), ("serve",)]:
        assert path in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "kyso")
def test_help_exits_0(kyso: Kyso, fake: FakeKyso, path: tuple[str, ...]) -> None:
    r = kyso(*path, "--help")
    clean(r)
    assert r.exit_code == 0, r.stderr
    assert "Usage:" in r.stdout
    assert fake.opened == [] and fake.calls == []


# Commands whose output is a file (or a process), not a result to print.
NO_JSON = {("serve",), ("admin", "agency", "export"), ("admin", "ca", "export")}


def test_every_command_that_acts_can_answer_in_json() -> None:
    """--json was missing on sign, timestamp, key, cert and client commands (issue 15
    item 9): a script had to parse English sentences."""
    missing = []
    for path in COMMANDS:
        cmd = main
        for name in path:
            cmd = cmd.get_command(click.Context(cmd), name)  # type: ignore[attr-defined, assignment]
        if isinstance(cmd, click.Group) or path in NO_JSON:
            continue
        if not any("--json" in p.opts for p in cmd.params if isinstance(p, click.Option)):
            missing.append(" ".join(path))
    assert missing == [], f"no --json: {missing}"
