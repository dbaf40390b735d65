"""Real ``kyso serve`` processes for tests: each on port 0 with its own SoftHSM token (a
separate token directory, so it never competes with the test process's own login), its
own database (a copy of one demo deployment bootstrapped once per test process) and the
CLI. Servers and CLI calls are forked from a pre-imported interpreter (tests/zygote.py)
unless a test needs a fresh ``.venv/bin/kyso`` process. Fixtures built on it are in
tests/e2e/conftest.py and tests/adversarial/conftest.py."""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from clients import KysoClient
from tests import zygote
from tests.helpers import copy_database, fresh_database_url, provision

KYSO = str(Path(sys.executable).parent / "kyso")
READY = re.compile(r"kyso: serving gRPC on (\S+):(\d+)")
HTTP = re.compile(r"kyso: serving RFC 3161 on (\S+)")


@dataclass
class Server:
    proc: subprocess.Popen[str] | zygote.Forked
    endpoint: str
    env: dict[str, str]
    workdir: Path
    output: list[str] = field(default_factory=list)
    tsa_url: str = ""
    token: str | None = None

    def cli(
        self, *args: str, check: bool = False, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if self.token and "KYSO_TOKEN" not in env:
            env["KYSO_TOKEN"] = self.token
        argv = ["--server", self.endpoint, *args]
        if zygote.ENABLED:
            r = zygote.run(argv, env, self.workdir, timeout=timeout)
            if check and r.returncode:
                raise subprocess.CalledProcessError(r.returncode, [KYSO, *argv], r.stdout,
                                                    r.stderr)
            return r
        return subprocess.run(
            [KYSO, *argv], capture_output=True, text=True, env=env, cwd=self.workdir,
            timeout=timeout, check=check,
        )

    def log(self) -> str:
        return "".join(self.output)

    def client(self, timeout: float = 60.0) -> KysoClient:
        """A client with this server's credentials (use it rather than KysoClient directly)."""
        return KysoClient(self.endpoint, timeout=timeout, token=self.token)


def server_env(workdir: Path, label: str, *, fresh: bool = False) -> dict[str, str]:
    """The environment of a server working in ``workdir``.

    By default it is a copy of one demo deployment bootstrapped once per test process
    (token, database and demo admin token: the development CA, TSA, audit and demo
    agency keys already made), so that a server starts without generating keys; every
    test gets its own copy. ``fresh`` provisions a new token labelled ``label`` and an
    empty database instead, for tests of the first start or with a database of their
    own (the token's audit witnesses belong to its database: a copied token with
    another database is, rightly, a damaged audit log)."""
    if fresh:
        return _fresh_env(workdir, label)
    return _template().copy_to(workdir)


def _fresh_env(workdir: Path, label: str) -> dict[str, str]:
    hsm = provision(workdir / "hsm", label)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KYSO_")}
    env.update(
        SOFTHSM2_CONF=hsm.softhsm2_conf,
        KYSO_HSM_TOKEN_LABEL=hsm.token_label,
        KYSO_HSM_PIN_FILE=str(hsm.dir / "user.pin"),
        KYSO_STORE_URL=fresh_database_url(workdir),
        KYSO_SERVER_LISTEN="127.0.0.1:0",
        KYSO_TSA_HTTP_LISTEN="127.0.0.1:0",
        # This VM's kernel reports its clock unsynchronised; tests that need the
        # guard turn it back on (tests/e2e/test_tsa.py).
        KYSO_TSA_CLOCK_CHECK="off",
        KYSO_NODE_ID="e2e",
        # One process unless a test asks for more (the default is one per core).
        KYSO_SERVER_WORKERS="1",
    )
    return env


@dataclass
class _Template:
    """A demo deployment to copy: its directory and environment (server stopped)."""

    root: Path
    env: dict[str, str]

    def copy_to(self, workdir: Path) -> dict[str, str]:
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.root / "hsm", workdir / "hsm")
        conf = workdir / "hsm" / "softhsm2.conf"
        conf.write_text(conf.read_text().replace(str(self.root / "hsm"), str(workdir / "hsm")))
        shutil.copytree(self.root / "var", workdir / "var")
        env = dict(self.env, SOFTHSM2_CONF=str(conf),
                   KYSO_HSM_PIN_FILE=str(workdir / "hsm" / "user.pin"))
        url = self.env["KYSO_STORE_URL"]
        if url.startswith("sqlite"):
            for suffix in ("", "-wal", "-shm"):
                f = self.root / f"kyso.db{suffix}"
                if f.exists():
                    shutil.copy2(f, workdir / f"kyso.db{suffix}")
            env["KYSO_STORE_URL"] = f"sqlite:///{workdir / 'kyso.db'}"
        else:
            env["KYSO_STORE_URL"] = copy_database(url)
        return env


_TEMPLATES: list[_Template] = []


def _template() -> _Template:
    """The demo deployment of this test process, made on first use."""
    if not _TEMPLATES:
        root = Path(tempfile.mkdtemp(prefix="kyso-e2e-template-"))
        atexit.register(shutil.rmtree, root, True)
        env = _fresh_env(root, "kyso-e2e")
        srv = start_server(root, env, "--demo")
        if stop_server(srv) != 0:
            raise RuntimeError("the template server did not stop cleanly:\n" + srv.log())
        _TEMPLATES.append(_Template(root, env))
    return _TEMPLATES[0]


def start_server(workdir: Path, env: dict[str, str], *args: str,
                 timeout: float = 90, fork: bool = True) -> Server:
    """``kyso serve ARGS``, ready (listening) when this returns. Forked from the test
    zygote unless ``fork=False``, forking is off, or the server runs several workers
    (its supervisor spawns them: a fresh process is what is tested)."""
    workers = env.get("KYSO_SERVER_WORKERS", "1")
    proc: subprocess.Popen[str] | zygote.Forked
    if fork and zygote.ENABLED and workers == "1" and "--workers" not in args:
        proc = zygote.popen(["serve", *args], env, workdir)
    else:
        proc = subprocess.Popen(
            [KYSO, "serve", *args], env=env, cwd=workdir, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
    output: list[str] = []
    ready = threading.Event()
    found: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            m = READY.search(line)
            if m and not found:
                found.append(f"{m.group(1)}:{m.group(2)}")
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(0.1):
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("server did not start:\n" + "".join(output))
    if not found:
        proc.wait(5)
        raise RuntimeError(f"server exited {proc.returncode}:\n" + "".join(output))
    urls = [m.group(1) for line in output if (m := HTTP.search(line))]
    token_file = workdir / "var" / "demo-admin.token"
    token = token_file.read_text().strip() if "--demo" in args and token_file.is_file() else None
    return Server(proc, found[0], env, workdir, output, urls[0] if urls else "", token)


def stop_server(server: Server, timeout: float = 30) -> int:
    """SIGTERM and wait; a server that does not stop in ``timeout`` first writes every
    thread's stack to its log (SIGUSR1), which the test's failure then shows, and is
    killed."""
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            server.proc.send_signal(signal.SIGUSR1)
            time.sleep(2)
            server.proc.kill()
            server.proc.wait()
    return server.proc.returncode
