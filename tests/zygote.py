"""``kyso`` processes for the tests, forked from one interpreter that has imported kyso
already, instead of each paying ~1.3 s of CPU (a server) or ~0.2 s (a CLI call) to start
Python and import the same modules again. On this 2-core machine those imports were a
third of the suite's CPU time.

The child of a fork runs exactly what ``.venv/bin/kyso ARGS`` runs — ``clients.cli.main``
with those arguments, in the given directory and environment, its standard output and
error on the caller's pipes — and the caller handles it like a ``subprocess.Popen``
(``poll``, ``wait``, ``send_signal``, ``returncode``). What a fork cannot reproduce stays
``exec``: a server with several workers (its supervisor spawns them), and tests that look
at the process itself (its command line, a fresh interpreter's imports) start
``.venv/bin/kyso`` as before (``start_server(..., fork=False)``). ``KYSO_TEST_FORK=0``
turns forking off for the whole run (to compare, or to rule it out).

Protocol (one Unix stream socket per test process; the zygote is its child): a request is
one JSON line, ``{"run": {"argv", "env", "cwd"}}`` with the child's stdin, stdout and
stderr as ancillary file descriptors, answered ``{"pid": N}``; ``{"poll": N}`` is
answered ``{"status": S}`` (None while it runs; a ``Popen``-style return code after).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

ENABLED = os.environ.get("KYSO_TEST_FORK", "1") != "0"


# --- the zygote (its own process) ------------------------------------------------------------


def _preload() -> None:
    """Import what `kyso serve` and the commands import, without starting anything (no
    gRPC channel or server, no database engine, no token session: none of them survive
    a fork)."""
    import click

    import clients.cli as cli
    import signer.runtime.server  # noqa: F401  (the whole server: host, services)

    def load(group: click.Group) -> None:  # every lazily loaded command module
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                load(command)

    load(cli.main)


def _child(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become ``kyso ARGV`` and exit with its status."""
    try:
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
        for fd in fds:
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False, buffering=1)
        sys.stderr = open(2, "w", closefd=False, buffering=1)
        import random

        random.seed()  # not the zygote's sequence
        sys.argv = [str(Path(sys.executable).parent / "kyso"), *request["argv"]]
        from clients.cli import main

        code: Any = 0
        try:
            main(request["argv"], prog_name="kyso")
        except SystemExit as exc:
            code = exc.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        if not isinstance(code, int) and code is not None:
            print(code, file=sys.stderr)
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # anything escaping main() is a crash, as in a real process
        import traceback

        traceback.print_exc()
        status = 1
    os._exit(status)


def serve(fd: int) -> None:
    """The zygote's loop: fork on request, report exits; ends when the caller goes."""
    _preload()
    sock = socket.socket(fileno=fd)
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def reap() -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                time.sleep(0.05)
                continue
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            with lock:
                statuses[pid] = code

    threading.Thread(target=reap, daemon=True).start()
    while True:
        msg, fds, _, _ = socket.recv_fds(sock, 1 << 16, 3)
        if not msg:
            return
        buf = msg
        while not buf.endswith(b"\n"):  # a long request (a big environment)
            more = sock.recv(1 << 16)
            if not more:
                return
            buf += more
        request = json.loads(buf)
        if "run" in request:
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                sock.close()
                _child(request["run"], fds)
            for f in fds:
                os.close(f)
            reply: dict[str, Any] = {"pid": pid}
        else:
            with lock:
                reply = {"status": statuses.get(request["poll"])}
        sock.sendall(json.dumps(reply).encode() + b"\n")


# --- the caller's side ------------------------------------------------------------------------


class _Zygote:
    """This test process's zygote, started on first use."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        root = Path(__file__).resolve().parents[1]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", f"from tests.zygote import serve; serve({theirs.fileno()})"],
            pass_fds=(theirs.fileno(),), cwd=root, stdin=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("KYSO_")},
        )
        theirs.close()
        self.sock = ours
        self.replies = ours.makefile("rb")
        self.lock = threading.Lock()
        atexit.register(self.close)

    def ask(self, request: dict[str, Any], fds: Sequence[int] = ()) -> dict[str, Any]:
        data = json.dumps(request).encode() + b"\n"
        with self.lock:
            socket.send_fds(self.sock, [data[:1 << 16]], list(fds))
            if len(data) > 1 << 16:
                self.sock.sendall(data[1 << 16:])
            line = self.replies.readline()
        if not line:
            raise RuntimeError(f"the test zygote died (exit {self.proc.poll()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        try:
            self.sock.close()
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


_ZYGOTES: list[_Zygote] = []


def _zygote() -> _Zygote:
    if not _ZYGOTES or _ZYGOTES[0].proc.poll() is not None:
        _ZYGOTES[:] = [_Zygote()]
    return _ZYGOTES[0]


class Forked:
    """A forked ``kyso`` process, handled like the ``subprocess.Popen`` it replaces."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str | os.PathLike[str],
                 stdin: int, stdout: int, stderr: int) -> None:
        self.args = ["kyso", *argv]
        self.returncode: int | None = None
        self.pid = int(_zygote().ask({"run": {"argv": argv, "env": env, "cwd": str(cwd)}},
                                     [stdin, stdout, stderr])["pid"])
        self.stdout: IO[str] | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            status = _zygote().ask({"poll": self.pid})["status"]
            if status is not None:
                self.returncode = int(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def popen(argv: list[str], env: dict[str, str], cwd: str | os.PathLike[str]) -> Forked:
    """``kyso ARGV`` with its standard output and error merged on ``.stdout`` (text), as
    ``start_server`` reads a server."""
    r, w = os.pipe()
    with open(os.devnull, "rb") as null:
        try:
            proc = Forked(argv, env, cwd, null.fileno(), w, w)
        finally:
            os.close(w)
    proc.stdout = open(r, encoding="utf-8", errors="replace")
    return proc


def run(argv: list[str], env: dict[str, str], cwd: str | os.PathLike[str], *,
        timeout: float, input_: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([kyso, *argv], capture_output=True, text=True)``, forked."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    try:
        proc = Forked(argv, env, cwd, in_r, out_w, err_w)
    finally:
        for fd in (out_w, err_w, in_r):
            os.close(fd)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}

    def drain(fd: int) -> None:
        with open(fd, "rb") as f:
            while data := f.read(1 << 16):
                chunks[fd].append(data)

    readers = [threading.Thread(target=drain, args=(fd,), daemon=True) for fd in chunks]
    for t in readers:
        t.start()
    with open(in_w, "wb") as f:
        if input_:
            f.write(input_)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    for t in readers:
        t.join(timeout)
    out = b"".join(chunks[out_r]).decode("utf-8", "replace")
    err = b"".join(chunks[err_r]).decode("utf-8", "replace")
    assert proc.returncode is not None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
