"""``-o`` onto what a person may name (issue 15 item 8): ``kyso sign cms FILE -o
/dev/null`` run as root used to replace the machine's /dev/null with a regular file, and
``-o link`` replaced the link. Tested with a character device made by ``mknod`` in a
temporary directory (a second /dev/null: major 1, minor 3), a FIFO and symbolic links —
never the real /dev/null."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from clients.client import write_output

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

DATA = b"\x30\x82 a signature"


def _null_device(tmp_path: Path) -> Path:
    """A second /dev/null (character device 1:3) in ``tmp_path``, made with mknod."""
    null = tmp_path / "null"
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD)")
    return null


def test_a_character_device_is_written_through_not_replaced(tmp_path: Path) -> None:
    null = _null_device(tmp_path)
    write_output(null, DATA)
    assert stat.S_ISCHR(null.stat().st_mode)
    assert null.stat().st_rdev == os.makedev(1, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["null"]  # no temporary file left


def test_a_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, DATA)
    reader.join(10)
    assert got == [DATA] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_symbolic_link_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    target = tmp_path / "real.p7s"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "link.p7s"
    link.symlink_to(target)
    write_output(link, DATA)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == DATA
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the file keeps its permissions
    dangling = tmp_path / "to-new.p7s"
    dangling.symlink_to(tmp_path / "new.p7s")
    write_output(dangling, DATA)
    assert dangling.is_symlink() and (tmp_path / "new.p7s").read_bytes() == DATA


def test_a_link_to_a_device_writes_through_the_device(tmp_path: Path) -> None:
    null = _null_device(tmp_path)
    link = tmp_path / "out"
    link.symlink_to(null)
    write_output(link, DATA)
    assert link.is_symlink() and stat.S_ISCHR(null.stat().st_mode)


def test_a_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_output(tmp_path / "new.p7s", DATA)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.p7s").stat().st_mode) == 0o644
    assert (tmp_path / "new.p7s").read_bytes() == DATA


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        write_output(tmp_path, DATA)


def test_dash_is_standard_output(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    write_output(Path("-"), DATA)
    assert capfdbinary.readouterr().out == DATA

