"""Every RPC of every kyso service is in the authorisation policy (deny by default
would otherwise refuse it, silently for the developer who added it)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import kyso
from signer.runtime.auth import rule_for

pytestmark = pytest.mark.database_free  # the PostgreSQL pass skips it


def _methods() -> list[str]:
    names = []
    for mod in pkgutil.walk_packages(kyso.__path__, "kyso."):
        if not mod.name.endswith("_pb2"):
            continue
        module = importlib.import_module(mod.name)
        for service in module.DESCRIPTOR.services_by_name.values():
            names += [f"/{service.full_name}/{m.name}" for m in service.methods]
    return names


def test_every_rpc_has_a_rule() -> None:
    methods = _methods()
    assert "/kyso.signer.v1.SignerService/SignDigests" in methods
    missing = [m for m in methods if rule_for(m) is None]
    assert not missing, f"add these to signer.runtime.auth.POLICY: {missing}"


def test_only_health_and_reflection_are_public() -> None:
    public = [m for m in _methods() if (r := rule_for(m)) is not None and r.public]
    assert public == []
    assert rule_for("/grpc.health.v1.Health/Check").public  # type: ignore[union-attr]


def test_scope_extractors_fit_their_request_messages() -> None:
    """Each rule's agency extractor reads fields its method's request really has."""
    from google.protobuf.message_factory import GetMessageClass

    checked = 0
    for mod in pkgutil.walk_packages(kyso.__path__, "kyso."):
        if not mod.name.endswith("_pb2"):
            continue
        module = importlib.import_module(mod.name)
        for service in module.DESCRIPTOR.services_by_name.values():
            for m in service.methods:
                rule = rule_for(f"/{service.full_name}/{m.name}")
                assert rule is not None
                request = GetMessageClass(m.input_type)()
                for field in m.input_type.fields:  # one element in every repeated message
                    if field.is_repeated and field.message_type and \
                            not field.message_type.GetOptions().map_entry:
                        getattr(request, field.name).add()
                if rule.scope is not None:
                    rule.scope(request)
                    checked += 1
                if rule.scopes is not None:
                    rule.scopes(request)
                    checked += 1
    assert checked > 10


# --- the audit log's action names (issue 15 item 9: two styles) ----------------------------


def test_every_audit_action_name_has_one_style() -> None:
    """``key.generate`` and ``key.MarkCompromised`` used to sit side by side in one log."""
    import re

    from signer.runtime.auth import audit_action, audit_actions

    names = audit_actions()
    assert len(names) > 20
    for name in names:
        assert re.fullmatch(r"[a-z]+(\.[a-z]+(_[a-z]+)*)?", name), name
    assert audit_action("/kyso.registry.v1.KeyService/MarkCompromised") == "key.mark_compromised"
    assert audit_action("/kyso.registry.v1.KeyService/RotateKey") == "key.rotate"
    assert audit_action("/kyso.registry.v1.AgencyService/MergeAgencies") == "agency.merge"
    # Records written before carry the old name: a filter on the new one finds them too.
    assert names["key.mark_compromised"] == ("key.mark_compromised", "key.MarkCompromised")
