"""``[verify] fetch*`` settings: validated at load with messages naming the setting, and the
allow-list / allowance rules they turn into (``signer.verify.fetch``)."""

from __future__ import annotations

import json

import pytest

from signer.config import VerifySettings, load_settings
from signer.errors import ConfigError
from signer.verify.fetch import AllowedHost, FetchAllowance, FetchPolicy, FetchRefused

# The PostgreSQL pass skips these; no KYSO_* variable of the caller reaches them.
pytestmark = [pytest.mark.database_free, pytest.mark.usefixtures("clean_kyso_env")]


def test_fetching_is_off_by_default() -> None:
    v = load_settings().verify
    assert v.fetch == "off" and v.fetch_allowed_hosts == ()
    assert v.fetch_budget_s > 0 and v.fetch_max_requests >= 1 and v.fetch_timeout_s > 0


def test_env_turns_fetching_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSO_VERIFY_FETCH", "revocation")
    monkeypatch.setenv("KYSO_VERIFY_FETCH_ALLOWED_HOSTS",
                       json.dumps(["crl.ca.gov.vn", "ocsp.ca.gov.vn:8080"]))
    monkeypatch.setenv("KYSO_VERIFY_FETCH_BUDGET_S", "7.5")
    monkeypatch.setenv("KYSO_VERIFY_FETCH_MAX_REQUESTS", "4")
    v = load_settings().verify
    assert v.fetch == "revocation" and v.fetch_budget_s == 7.5 and v.fetch_max_requests == 4
    assert v.allowed_hosts() == (AllowedHost("crl.ca.gov.vn"),
                                 AllowedHost("ocsp.ca.gov.vn", 8080))


def test_fetching_on_needs_an_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSO_VERIFY_FETCH", "revocation")
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert "[verify]" in str(e.value) and "fetch_allowed_hosts" in str(e.value)


def test_unknown_fetch_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSO_VERIFY_FETCH", "on")
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert "KYSO_VERIFY_FETCH" in str(e.value) and "revocation" in str(e.value)


@pytest.mark.parametrize(("entry", "says"), [
    ("http://crl.ca.gov.vn/", "not a URL"),
    ("crl.ca.gov.vn/crl", "not a URL"),
    ("user@crl.ca.gov.vn", "not a URL"),
    ("*.ca.gov.vn", "wildcards are not supported"),
    ("*", "wildcards are not supported"),
    ("", "empty"),
    ("crl.ca.gov.vn:0", "from 1 to 65535"),
    ("crl.ca.gov.vn:65536", "from 1 to 65535"),
    ("crl.ca.gov.vn:http", "from 1 to 65535"),
    ("crl_ca.gov.vn", "not a valid host name"),
    ("-crl.ca.gov.vn", "not a valid host name"),
    ("crl..gov.vn", "not a valid host name"),
    ("chữký.gov.vn", "xn--"),
    ("[not-v6]:80", "not an IPv6 address"),
    ("2001:db8::1::2", "neither host:port nor an IPv6 address"),
])
def test_bad_allow_list_entries_are_refused_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, entry: str, says: str,
) -> None:
    monkeypatch.setenv("KYSO_VERIFY_FETCH_ALLOWED_HOSTS", json.dumps([entry]))
    with pytest.raises(ConfigError) as e:
        load_settings()
    text = str(e.value)
    assert "KYSO_VERIFY_FETCH_ALLOWED_HOSTS" in text and says in text, text


@pytest.mark.parametrize(("field", "value"), [
    ("fetch_budget_s", 0), ("fetch_budget_s", 301), ("fetch_max_requests", 0),
    ("fetch_max_requests", 101), ("fetch_timeout_s", 0),
])
def test_bounds(monkeypatch: pytest.MonkeyPatch, field: str, value: float) -> None:
    monkeypatch.setenv(f"KYSO_VERIFY_{field.upper()}", str(value))
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert f"KYSO_VERIFY_{field.upper()}" in str(e.value)


def test_every_fetch_setting_is_documented() -> None:
    for name, f in VerifySettings.model_fields.items():
        if name.startswith("fetch"):
            assert f.description, name


# --- what an entry admits -----------------------------------------------------------------


def test_host_without_port_admits_default_ports_only() -> None:
    a = AllowedHost.parse("CRL.ca.gov.vn.")  # case and a trailing dot do not matter
    assert a == AllowedHost("crl.ca.gov.vn")
    assert a.admits("http", "crl.ca.gov.vn", 80) and a.admits("https", "crl.ca.gov.vn.", 443)
    assert not a.admits("http", "crl.ca.gov.vn", 8080)
    assert not a.admits("http", "crl.ca.gov.vn", 443)
    assert not a.admits("http", "x.crl.ca.gov.vn", 80)  # no subdomains
    assert not a.admits("http", "ca.gov.vn", 80)


def test_host_with_port_admits_that_port_only() -> None:
    a = AllowedHost.parse("127.0.0.1:8081")
    assert a.admits("http", "127.0.0.1", 8081) and not a.admits("http", "127.0.0.1", 80)
    assert not a.admits("http", "localhost", 8081)  # no resolution, no aliases
    v6 = AllowedHost.parse("[2001:DB8::1]:8080")
    assert v6 == AllowedHost("2001:db8::1", 8080) and str(v6) == "[2001:db8::1]:8080"
    assert v6.admits("http", "2001:db8:0::1", 8080)


def test_policy_admits_http_and_https_only() -> None:
    p = FetchPolicy(enabled=True, allowed_hosts=(AllowedHost("crl.ca.gov.vn", 21),))
    assert p.allows_host("http", "crl.ca.gov.vn", 21)
    assert not p.allows_host("ftp", "crl.ca.gov.vn", 21)


# --- the per-call allowance -----------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_allowance_counts_requests_up_to_the_cap() -> None:
    p = FetchPolicy(enabled=True, allowed_hosts=(AllowedHost("crl.ca.gov.vn"),),
                    max_requests=2)
    a = FetchAllowance(p)
    a.admit("http", "crl.ca.gov.vn", 80)
    a.admit("http", "crl.ca.gov.vn", 80)
    with pytest.raises(FetchRefused, match="fetch_max_requests"):
        a.admit("http", "crl.ca.gov.vn", 80)
    assert a.requests == 2


def test_allowance_refuses_other_hosts_before_counting() -> None:
    p = FetchPolicy(enabled=True, allowed_hosts=(AllowedHost("crl.ca.gov.vn"),))
    a = FetchAllowance(p)
    with pytest.raises(FetchRefused, match="fetch_allowed_hosts"):
        a.admit("http", "169.254.169.254", 80)
    assert a.requests == 0
    with pytest.raises(FetchRefused, match='fetch = "off"'):
        FetchAllowance(FetchPolicy()).admit("http", "crl.ca.gov.vn", 80)


def test_allowance_budget_starts_at_the_first_download() -> None:
    clock = FakeClock()
    p = FetchPolicy(enabled=True, allowed_hosts=(AllowedHost("crl.ca.gov.vn"),),
                    budget_s=5.0, max_requests=10)
    a = FetchAllowance(p, clock=clock)
    clock.now += 60  # time before the first download does not count
    assert a.remaining_s() == 5.0
    a.admit("http", "crl.ca.gov.vn", 80)
    clock.now += 4
    a.admit("http", "crl.ca.gov.vn", 80)
    clock.now += 1.5
    assert a.remaining_s() < 0
    with pytest.raises(FetchRefused, match="fetch_budget_s"):
        a.admit("http", "crl.ca.gov.vn", 80)
    assert a.reasons_since(0) == [a.budget_reason()]
