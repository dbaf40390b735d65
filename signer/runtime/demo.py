"""The quick-start demo (``kyso serve --demo``): agency 000.00.00.H13 with an active key
(``RegistryAdmin.ensure_demo``) and an administrator holding every role, whose token is
written to a file. Kept apart from the wiring: a production node never runs it."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from registry.admin import RegistryAdmin
from registry.auth import AuthStore, Role
from signer.errors import NotFound

log = logging.getLogger(__name__)

DEMO_TOKEN_FILE = Path("var/demo-admin.token")


def bootstrap_demo(admin: RegistryAdmin, auth: AuthStore, token_file: Path) -> Path:
    """The demo agency, its key, and the demo administrator; returns the token file."""
    key = admin.ensure_demo()
    log.info("demo agency %s signs with key %s", key.agency_code, key.key_id.hex())
    return ensure_demo_admin(auth, token_file)


def ensure_demo_admin(auth: AuthStore, token_file: Path) -> Path:
    """The demo's administrator: every role on every agency. Its token is written to
    ``token_file`` (mode 0600) when created, and replaced if that file was lost."""
    try:
        auth.get("demo-admin")
        exists = True
    except NotFound:
        exists = False
    if exists and token_file.is_file():
        return token_file
    if exists:
        token = auth.new_token("demo-admin")
    else:
        _, new = auth.create_client("demo-admin", kind="person")
        assert new is not None
        token = new
        for role in Role:
            auth.grant("demo-admin", role)
    token_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = token_file.with_name(token_file.name + ".tmp")
    tmp.touch(mode=0o600)
    tmp.write_text(token + "\n")
    os.replace(tmp, token_file)
    return token_file
