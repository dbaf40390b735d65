"""Generated protobuf code is reproducible and up to date (`make proto`)."""

from __future__ import annotations

import filecmp
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it

ROOT = Path(__file__).resolve().parent.parent


def _load_generator():  # scripts/ is not a package
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generated_code_matches_proto_sources(tmp_path: Path) -> None:
    fresh = {p.relative_to(tmp_path) for p in _load_generator().generate(tmp_path)}
    committed = {p.relative_to(ROOT) for p in (ROOT / "kyso").rglob("*.py*")
                 if "__pycache__" not in p.parts}
    assert fresh == committed, "generated files differ from kyso/: run `make proto`"
    stale = [str(p) for p in sorted(fresh)
             if not filecmp.cmp(tmp_path / p, ROOT / p, shallow=False)]
    assert not stale, f"stale generated code, run `make proto`: {stale}"


def test_protobuf_packages_are_versioned() -> None:
    from kyso.common.v1 import common_pb2
    from kyso.registry.v1 import registry_pb2
    from kyso.signer.v1 import signer_pb2
    from kyso.tsa.v1 import tsa_pb2

    assert signer_pb2.DESCRIPTOR.package == "kyso.signer.v1"
    assert tsa_pb2.DESCRIPTOR.package == "kyso.tsa.v1"
    assert registry_pb2.DESCRIPTOR.package == "kyso.registry.v1"
    assert common_pb2.DESCRIPTOR.package == "kyso.common.v1"
