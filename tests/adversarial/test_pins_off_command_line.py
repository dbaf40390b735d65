"""Promise: HSM PINs never appear on a command line.

Attacker: any local user or process on the machine that provisions the token
(a CI runner, a shared developer VM, a monitoring agent). Command lines are
world-readable (``ps``, ``/proc/PID/cmdline``) for as long as the process
runs; with the user PIN one can log into the token and use every organization
key; with the SO PIN one can reset the user PIN. ``hsm-sim/provision.sh`` must
hand PINs to its tools through files or the environment (``/proc/PID/environ``
is readable by the same user and root only), never through argv.

Checked twice: with a PATH shim whose ``softhsm2-util`` and ``pkcs11-tool``
log their argv and then run the real tool, and, where strace works, by tracing
every ``execve`` of the script and its children (argv only: strace abbreviates
the environment). Then the token must work with both PINs, and a second run
must keep it (idempotent).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import PROVISION, hsm_unavailable_reason

TOOLS = ("softhsm2-util", "pkcs11-tool")
LABEL = "kyso-adv-pin"
USER_PIN = "user-7f3a9c41d2"
SO_PIN = "so-e8b2d06f55"

pytestmark = [
    pytest.mark.database_free,  # the PostgreSQL pass skips it
    pytest.mark.skipif(hsm_unavailable_reason() is not None,
                       reason=str(hsm_unavailable_reason())),
]


def _shim(tmp: Path) -> tuple[Path, Path]:
    """A directory of argv-logging wrappers and the log they write."""
    bin_dir, log = tmp / "shim", tmp / "argv.log"
    bin_dir.mkdir()
    for tool in TOOLS:
        real = shutil.which(tool)
        if real is None:
            continue
        w = bin_dir / tool
        w.write_text(textwrap.dedent(f"""\
            #!/bin/sh
            {{ printf '%s' {tool}; for a in "$@"; do printf ' [%s]' "$a"; done; echo; }} >>{log}
            exec {real} "$@"
            """))
        w.chmod(0o755)
    return bin_dir, log


def _env(extra: dict[str, str] | None = None, path_prefix: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KYSO_HSM") and k != "SOFTHSM2_CONF"}
    env["KYSO_HSM_TOKEN_LABEL"] = LABEL
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}:{env['PATH']}"
    env.update(extra or {})
    return env


def _provision(directory: Path, env: dict[str, str],
               wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([*(wrap or []), str(PROVISION), str(directory)], env=env,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    return r


def _token_works(directory: Path, user_pin: str, so_pin: str, *, make_key: bool) -> str:
    """Log in as user (and create or find a persistent key) and as SO, in a child
    process: PKCS#11 allows one login per process and this one may hold another."""
    code = textwrap.dedent("""\
        import sys, pkcs11
        from pkcs11 import KeyType, ObjectClass, Attribute
        from signer.keys.store import DEFAULT_MODULE
        label, user_pin, so_pin, make = sys.argv[1:5]
        tok = pkcs11.lib(DEFAULT_MODULE).get_token(token_label=label)
        with tok.open(rw=True, user_pin=user_pin) as s:
            if make == "1":
                s.generate_key(KeyType.AES, 128, label="adv-pin-probe", store=True)
            keys = list(s.get_objects({Attribute.LABEL: "adv-pin-probe",
                                       Attribute.CLASS: ObjectClass.SECRET_KEY}))
        with tok.open(rw=True, so_pin=so_pin):
            pass
        print(len(keys))
        """)
    env = _env({"SOFTHSM2_CONF": str(directory / "softhsm2.conf")})
    r = subprocess.run([sys.executable, "-c", code, LABEL, user_pin, so_pin,
                        "1" if make_key else "0"], env=env, capture_output=True, text=True,
                       timeout=60, check=False, cwd=str(PROVISION.parent.parent))
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _assert_absent(log_text: str, *pins: str) -> None:
    for pin in pins:
        leaked = [line for line in log_text.splitlines() if pin in line]
        assert not leaked, f"a PIN is on a command line: {leaked}"


def test_generated_pins_never_on_a_command_line(tmp_path: Path) -> None:
    bin_dir, log = _shim(tmp_path)
    d = tmp_path / "hsm"
    _provision(d, _env(path_prefix=bin_dir))
    user_pin = (d / "user.pin").read_text().strip()
    so_pin = (d / "so.pin").read_text().strip()
    calls = log.read_text()
    assert "--init-token" in calls  # the shim did see the initialisation
    _assert_absent(calls, user_pin, so_pin)
    assert _token_works(d, user_pin, so_pin, make_key=True) == "1"
    # idempotent: a second run keeps the token (and the key in it)
    _provision(d, _env(path_prefix=bin_dir))
    _assert_absent(log.read_text(), user_pin, so_pin)
    assert _token_works(d, user_pin, so_pin, make_key=False) == "1"


def test_pins_from_environment_never_on_a_command_line(tmp_path: Path) -> None:
    bin_dir, log = _shim(tmp_path)
    d = tmp_path / "hsm"
    r = _provision(d, _env({"KYSO_HSM_PIN": USER_PIN, "KYSO_HSM_SO_PIN": SO_PIN},
                           path_prefix=bin_dir))
    _assert_absent(log.read_text() + r.stdout + r.stderr, USER_PIN, SO_PIN)
    assert not (d / "user.pin").exists()  # PINs from the environment are not written
    assert _token_works(d, USER_PIN, SO_PIN, make_key=True) == "1"


def test_pin_files_never_on_a_command_line(tmp_path: Path) -> None:
    bin_dir, log = _shim(tmp_path)
    (tmp_path / "u").write_text(USER_PIN + "\n")
    (tmp_path / "s").write_text(SO_PIN + "\n")
    d = tmp_path / "hsm"
    r = _provision(d, _env({"KYSO_HSM_PIN_FILE": str(tmp_path / "u"),
                            "KYSO_HSM_SO_PIN_FILE": str(tmp_path / "s")}, path_prefix=bin_dir))
    _assert_absent(log.read_text() + r.stdout, USER_PIN, SO_PIN)
    assert _token_works(d, USER_PIN, SO_PIN, make_key=True) == "1"


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_no_process_of_the_script_carries_a_pin_in_argv(tmp_path: Path) -> None:
    """Every process provision.sh starts (not only the two known tools)."""
    trace = tmp_path / "execve.log"
    probe = subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o",
                            str(tmp_path / "probe"), "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode().strip()}")
    d = tmp_path / "hsm"
    _provision(d, _env({"KYSO_HSM_PIN": USER_PIN, "KYSO_HSM_SO_PIN": SO_PIN}),
               wrap=["strace", "-f", "-qq", "-e", "trace=execve", "-s", "65535", "-o",
                     str(trace)])
    text = trace.read_text()
    assert "init" in text  # the tools were traced
    _assert_absent(text, USER_PIN, SO_PIN)
    _provision(d2 := tmp_path / "hsm2", _env(),
               wrap=["strace", "-f", "-qq", "-e", "trace=execve", "-s", "65535", "-o",
                     str(trace)])
    _assert_absent(trace.read_text(), (d2 / "user.pin").read_text().strip(),
                   (d2 / "so.pin").read_text().strip())
