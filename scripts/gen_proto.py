#!/usr/bin/env python3
"""Regenerate the Python code for proto/ into the ``kyso`` package (``make proto``).

    python scripts/gen_proto.py [OUT_DIR]

OUT_DIR defaults to the repository root, so ``proto/kyso/signer/v1/signer.proto``
becomes ``kyso/signer/v1/signer_pb2.py`` (+ ``_pb2_grpc.py`` and ``.pyi``), importable
as ``kyso.signer.v1``. The generated files are never edited by hand;
``tests/test_generated.py`` regenerates into a temporary directory and fails on drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
HEADER = "# Generated from proto/ by scripts/gen_proto.py. Do not edit.\n"


def generate(out: Path) -> list[Path]:
    sources = sorted(p.relative_to(PROTO).as_posix() for p in PROTO.rglob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    written = sorted((out / "kyso").rglob("*.py*"))
    # Every directory on the way becomes a package.
    for d in sorted({p.parent for p in written} | {out / "kyso"}):
        while d != out:
            init = d / "__init__.py"
            if not init.exists():
                init.write_text(HEADER)
            d = d.parent
    return sorted((out / "kyso").rglob("*.py*"))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    for path in generate(target):
        print(path.relative_to(target))
