"""Promise: the development and CI environment is exactly the locked one, every
artifact checked against a recorded hash, and known-vulnerable pins are caught.

Attacker: whoever can publish to, or sit in front of, the package index — a
hijacked maintainer account publishing a malicious patch release of a
transitive dependency, a typo-squat pulled in by an unpinned range, a mirror
serving altered wheels. Without a lock, ``pip install -e '.[dev]'`` takes
whatever the index offers for every unpinned transitive dependency, on every
fresh CI machine. With a hash-checked lock, a changed artifact fails the
install instead of running in CI next to the HSM PINs.

Checked: every distribution installed in this venv (but the project itself and
pip/setuptools/wheel) is pinned in the lock with at least one sha256 hash at
the installed version; every pin in ``pyproject.toml`` agrees with the lock;
``make venv`` installs from the lock with ``--require-hashes`` and then the
project with ``--no-deps``, and is rebuilt when the lock changes; CI runs
pip-audit against the lock.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements-dev.lock"
UNLOCKED = {"kyso", "pip", "setuptools", "wheel"}


def _lock() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from a pip-compile style lock."""
    assert LOCK.is_file(), f"{LOCK.name} is missing: run `make lock`"
    text = re.sub(r"\\\n", " ", LOCK.read_text())
    out: dict[str, tuple[str, list[str]]] = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        spec, *opts = line.split(" --")
        req = Requirement(spec.strip())
        [pin] = list(req.specifier)
        assert pin.operator == "==", line
        hashes = [o.split("=", 1)[1] for o in opts if o.startswith("hash=")]
        out[canonicalize_name(req.name)] = (pin.version, hashes)
    return out


def test_every_installed_distribution_is_locked_with_a_hash() -> None:
    lock = _lock()
    problems = []
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        if name in UNLOCKED:
            continue
        if name not in lock:
            problems.append(f"{name} {dist.version} is installed but not in the lock")
            continue
        version, hashes = lock[name]
        if Version(version) != Version(dist.version):
            problems.append(f"{name}: installed {dist.version}, locked {version}")
        if not any(h.startswith("sha256:") for h in hashes):
            problems.append(f"{name}: no sha256 hash in the lock")
    assert not problems, "\n".join(problems)


def test_pyproject_pins_agree_with_the_lock() -> None:
    lock = _lock()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    problems = []
    for r in map(Requirement, reqs):
        name = canonicalize_name(r.name)
        if name == "kyso":
            continue
        if name not in lock:
            problems.append(f"{r} is not in the lock")
        elif not r.specifier.contains(lock[name][0], prereleases=True):
            problems.append(f"pyproject says {r}, the lock has {lock[name][0]}")
    assert not problems, "\n".join(problems)


def test_pip_audit_is_locked_and_run_by_ci() -> None:
    assert "pip-audit" in _lock()
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"pip-audit|make audit", ci), ".ci/run does not audit the lock"


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)


def test_make_venv_installs_from_the_lock_with_hashes(tmp_path: Path) -> None:
    # A venv stamp newer than everything is up to date, until the lock changes
    # (make -W: "what if this file were just modified").
    stamp = tmp_path / "venv" / ".installed"
    stamp.parent.mkdir()
    stamp.touch()
    assert _make("-q", f"VENV={stamp.parent}", str(stamp)).returncode == 0
    changed = _make("-q", "-W", LOCK.name, f"VENV={stamp.parent}", str(stamp))
    assert changed.returncode == 1, "the venv is not rebuilt when the lock changes"
    r = _make("-n", "-B", "VENV=/nonexistent-venv", "venv")
    if r.returncode != 0:
        pytest.fail(r.stderr)
    cmds = r.stdout
    assert re.search(rf"pip install .*--require-hashes.* -r {LOCK.name}", cmds), cmds
    assert re.search(r"pip install .*--no-deps.* -e \.", cmds), cmds
    assert "'.[dev]'" not in cmds and '".[dev]"' not in cmds, cmds
