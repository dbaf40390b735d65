"""The subject of an agency's seal certificate, one rule for every path that names it:
``kyso admin cert csr`` (a request for the Government CA) and ``kyso admin cert issue``
(the development CA).

Government CA certificates look like ``CN=<agency>, O=<parent body>, L=<province>, C=VN``,
sometimes with ``UID=MST:<tax code>``, and carry no agency code (docs/domain.md): the
registry maps agency, key and certificate. So: CN = the agency's name, O = its parent's
name when the parent is registered, C = VN, then the caller's overrides.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

from registry.db.store import RegistryStore
from signer.errors import InvalidRequest, NotFound
from signer.formats.x509 import build_name


def seal_subject(registry: RegistryStore, agency_code: str,
                 overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The subject attributes (short names: CN, O, C, L, ST, UID …) of ``agency_code``'s
    seal certificate; ``overrides`` add or replace attributes (an empty value removes
    one). InvalidRequest names a bad attribute or value."""
    agency = registry.get_agency(agency_code)
    subject: dict[str, str] = {"CN": agency.name, "C": "VN"}
    if agency.parent_code:
        try:
            subject["O"] = registry.get_agency(agency.parent_code).name
        except NotFound:
            pass
    for key, value in (overrides or {}).items():
        k = key.strip().upper()
        if not k:
            raise InvalidRequest("a subject attribute has an empty name")
        if value.strip():
            subject[k] = unicodedata.normalize("NFC", value.strip())
        else:
            subject.pop(k, None)
    build_name(subject)  # validates names and values, with a message naming the bad one
    return subject
