"""Print the part of the hashed lock that one install of kyso needs: the distributions
that the wheel's own metadata requires for the given extras (none: the bare client),
followed transitively through the metadata of the locked development environment that
runs this script. scripts/check_extras.sh installs exactly that, with --require-hashes,
so an install with an extra gets nothing the extra does not declare.

    .venv/bin/python scripts/lock_subset.py WHEEL LOCK [EXTRA ...] > subset.txt
"""

from __future__ import annotations

import email
import re
import sys
import zipfile
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "kyso"


def _requires(lines: list[str], extras: set[str]) -> list[Requirement]:
    """The requirements among `lines` (Requires-Dist) that apply with `extras`."""
    out = []
    for line in lines:
        req = Requirement(line)
        if req.marker is None or any(
            req.marker.evaluate({"extra": e}) for e in (extras or {""})
        ):
            out.append(req)
    return out


def closure(wheel: str, extras: set[str]) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        own = email.message_from_bytes(zf.read(meta_name)).get_all("Requires-Dist") or []
    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    todo = [(PROJECT, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        if name == PROJECT:
            lines = own
        else:
            names.add(name)
            try:
                lines = metadata.requires(name) or []
            except metadata.PackageNotFoundError:
                sys.exit(f"lock_subset: {name} is required but not in the locked environment")
        for req in _requires(lines, set(wanted)):
            todo.append((canonicalize_name(req.name), frozenset(req.extras)))
    return names


def subset(lock: str, names: set[str]) -> str:
    """The lock's entries (pin, hashes and comments) for `names`."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in open(lock, encoding="utf-8"):
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==", line)
        if m:
            current = blocks[canonicalize_name(m.group(1))] = [line]
        elif current is not None and line[:1].isspace():
            current.append(line)
        else:
            current = None
    missing = sorted(names - blocks.keys())
    if missing:
        sys.exit(f"lock_subset: not in {lock}: {', '.join(missing)}")
    return "".join("".join(blocks[n]) for n in sorted(names))


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    wheel, lock, *extras = sys.argv[1:]
    sys.stdout.write(subset(lock, closure(wheel, set(extras))))


if __name__ == "__main__":
    main()
