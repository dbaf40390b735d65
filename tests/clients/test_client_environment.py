"""``KysoClient`` reads what it is not given from the same environment as the ``kyso``
command (issue 15 item 7: it used to ignore KYSO_TOKEN and KYSO_ENDPOINT, so its own
docstring example failed with UNAUTHENTICATED); an argument always wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients.client import DEFAULT_ENDPOINT, KysoClient

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("KYSO_ENDPOINT", "KYSO_TOKEN", "KYSO_TOKEN_FILE", "KYSO_TLS_CA",
                 "KYSO_TLS_CERT", "KYSO_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _bearer(c: KysoClient) -> str | None:
    return dict(c._metadata).get("authorization")


def test_endpoint_and_token_from_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("KYSO_ENDPOINT", "127.0.0.1:50999")
    env.setenv("KYSO_TOKEN", "kyso_env")
    with KysoClient() as c:
        assert c.endpoint == "127.0.0.1:50999" and _bearer(c) == "Bearer kyso_env"


def test_nothing_set_is_the_default_endpoint_without_credentials(env: pytest.MonkeyPatch
                                                                 ) -> None:
    with KysoClient() as c:
        assert c.endpoint == DEFAULT_ENDPOINT and _bearer(c) is None


def test_arguments_beat_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("KYSO_ENDPOINT", "127.0.0.1:50999")
    env.setenv("KYSO_TOKEN", "kyso_env")
    with KysoClient("127.0.0.1:50001", token="kyso_arg") as c:
        assert c.endpoint == "127.0.0.1:50001" and _bearer(c) == "Bearer kyso_arg"
    with KysoClient(token="") as c:  # explicitly anonymous
        assert _bearer(c) is None


def test_token_file_from_the_environment(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "t").write_text("kyso_file\n")
    env.setenv("KYSO_TOKEN_FILE", str(tmp_path / "t"))
    with KysoClient() as c:
        assert _bearer(c) == "Bearer kyso_file"
    env.setenv("KYSO_TOKEN", "kyso_file")  # the same token twice is no conflict
    with KysoClient() as c:
        assert _bearer(c) == "Bearer kyso_file"
    env.setenv("KYSO_TOKEN", "kyso_other")
    with pytest.raises(ValueError, match="two different bearer tokens"):
        KysoClient()
    env.setenv("KYSO_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match=r"KYSO_TOKEN_FILE names .*absent, which cannot be "
                                         r"read"):
        KysoClient()


def test_a_token_from_the_environment_is_still_never_sent_in_clear_off_loopback(
        env: pytest.MonkeyPatch) -> None:
    env.setenv("KYSO_ENDPOINT", "10.1.2.3:50051")
    env.setenv("KYSO_TOKEN", "kyso_env")
    with pytest.raises(ValueError, match="clear text"):
        KysoClient()


def test_tls_files_from_the_environment(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.tsa.pki import pem, pki

    ca = tmp_path / "ca.pem"
    ca.write_bytes(pem(pki("ec-p256").ca_der))
    env.setenv("KYSO_ENDPOINT", "10.1.2.3:50051")
    env.setenv("KYSO_TOKEN", "kyso_env")
    env.setenv("KYSO_TLS_CA", str(ca))
    with KysoClient() as c:  # TLS: the token may leave loopback
        assert _bearer(c) == "Bearer kyso_env"
    env.setenv("KYSO_TLS_CA", str(tmp_path / "absent.pem"))
    with pytest.raises(ValueError, match="KYSO_TLS_CA names"):
        KysoClient()
