from __future__ import annotations

from pathlib import Path

import pytest

from signer.config import load_settings
from signer.errors import ConfigError

# The PostgreSQL pass skips these; no KYSO_* variable of the caller reaches them.
pytestmark = [pytest.mark.database_free, pytest.mark.usefixtures("clean_kyso_env")]


def test_defaults_are_loopback_and_sqlite() -> None:
    s = load_settings()
    assert s.server.listen == "127.0.0.1:50051"
    assert s.store.url.startswith("sqlite:///")


def test_one_worker_per_core_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    assert load_settings().server.workers == 3
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # unknown: one
    assert load_settings().server.workers == 1
    monkeypatch.setenv("KYSO_SERVER_WORKERS", "5")  # explicit wins
    assert load_settings().server.workers == 5


def test_toml_and_env_with_env_winning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "kyso.toml"
    f.write_text('node_id = "n1"\n[server]\nlisten = "127.0.0.1:6000"\nmax_batch = 10\n'
                 '[hsm]\ntoken_label = "t"\n')
    monkeypatch.setenv("KYSO_SERVER_MAX_BATCH", "20")
    monkeypatch.setenv("KYSO_HSM_PIN_FILE", str(tmp_path / "pin"))
    s = load_settings(f)
    assert (s.node_id, s.server.listen, s.server.max_batch) == ("n1", "127.0.0.1:6000", 20)
    assert s.hsm.token_label == "t"
    assert s.hsm.pin_file == tmp_path / "pin"


def test_every_problem_is_listed_with_its_env_name(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "kyso.toml"
    f.write_text("[server]\nthreadz = 3\n[hsm]\npool_size = 0\n")
    monkeypatch.setenv("KYSO_STORE_URL", "mysql://x")
    with pytest.raises(ConfigError) as exc:
        load_settings(f)
    msg = exc.value.message
    assert "server.threadz (KYSO_SERVER_THREADZ): unknown setting" in msg
    assert "hsm.pool_size (KYSO_HSM_POOL_SIZE)" in msg
    assert "store" in msg and "postgresql" in msg


def test_refuses_to_listen_off_loopback_without_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSO_SERVER_LISTEN", "0.0.0.0:50051")
    with pytest.raises(ConfigError, match="off loopback and TLS is not configured"):
        load_settings()


def test_missing_config_file_and_pin(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
    s = load_settings()
    with pytest.raises(ConfigError, match="no HSM PIN configured"):
        s.hsm.read_pin()


def test_pin_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSO_HSM_PIN", "s3cret-pin")
    s = load_settings()
    assert "s3cret-pin" not in repr(s) and "s3cret-pin" not in str(s)
    assert s.hsm.read_pin() == "s3cret-pin"


def test_readme_configuration_example_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    f = tmp_path / "kyso.toml"
    f.write_text(example)
    s = load_settings(f)
    assert s.tsa.policy == "0.4.0.2023.1.1" and s.verify.trust_dev_ca


def test_deployment_guide_configuration_is_valid(tmp_path: Path) -> None:
    """docs/deployment.md's production example loads (its files replaced by stand-ins)."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "deployment.md").read_text()
    example = guide.split("```toml\n", 1)[1].split("```", 1)[0]
    for name in ("server.pem", "server.key", "db-ca.pem", "libvendorpkcs11.so",
                 "RootCA-G2.pem"):
        (tmp_path / name).write_text("stand-in\n")
    f = tmp_path / "kyso.toml"
    f.write_text(example.replace("/etc/kyso/tls/", f"{tmp_path}/")
                 .replace("/etc/kyso/RootCA-G2.pem", f"{tmp_path}/RootCA-G2.pem")
                 .replace("/opt/vendor/lib/", f"{tmp_path}/"))
    s = load_settings(f)
    assert s.store.url.startswith("postgresql+psycopg://") and s.server.log_format == "json"
    assert s.server.metrics_listen == "0.0.0.0:9464" and not s.devca.enabled


def test_tsa_http_limits_and_hsm_share(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12.6: the anonymous HTTP TSA is bounded by default, and its share of the HSM
    sessions stays below the pool unless set otherwise."""
    s = load_settings()
    t = s.tsa
    assert (t.http_max_connections, t.http_read_timeout_s, t.http_keepalive_timeout_s,
            t.http_threads, t.http_max_queue, t.http_nice) == (256, 10.0, 5.0, 1, 64, 10)
    assert s.hsm.pool_size == 4 and t.hsm_sessions(s.hsm.pool_size) == 2
    assert t.hsm_sessions(1) == 1
    monkeypatch.setenv("KYSO_TSA_MAX_HSM_SESSIONS", "3")
    monkeypatch.setenv("KYSO_TSA_HTTP_MAX_QUEUE", "0")
    s = load_settings()
    assert s.tsa.hsm_sessions(s.hsm.pool_size) == 3 and s.tsa.http_max_queue == 0
    monkeypatch.setenv("KYSO_TSA_MAX_HSM_SESSIONS", "5")
    monkeypatch.setenv("KYSO_TSA_HTTP_READ_TIMEOUT_S", "0")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    msg = exc.value.message
    assert "tsa.http_read_timeout_s (KYSO_TSA_HTTP_READ_TIMEOUT_S)" in msg
    monkeypatch.setenv("KYSO_TSA_HTTP_READ_TIMEOUT_S", "1")
    with pytest.raises(ConfigError, match=r"tsa.max_hsm_sessions \(5\) is larger than "
                                          r"hsm.pool_size \(4\)"):
        load_settings()
