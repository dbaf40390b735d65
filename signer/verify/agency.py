"""Which registry agency a signer certificate belongs to, and its name on the signing date.

Government CA certificates carry no agency code (docs/domain.md), so the registry's
keys and certificates tables are the mapping: the exact certificate first, then
the key (DER SubjectPublicKeyInfo) — a re-issued certificate for the same key
still resolves. Names come from the agency history: the name the code carried
on the signing date (Vietnam time) and today's successors. The keys table also says
whether the key was marked compromised, and when.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry.agencies.lifecycle import AgencyRegistry
from registry.db.models import AgencyRow, CertificateRow, KeyRow
from registry.db.store import KeyState, translate_sql_errors
from signer.errors import KysoError
from signer.verify.report import AgencyMatch, KeyCompromise

VIETNAM = timezone(timedelta(hours=7), "ICT")


class AgencyResolver:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._agencies = AgencyRegistry(engine)

    def compromise(self, spki_der: bytes) -> KeyCompromise | None:
        """When this registry marked the key (any purpose: an agency's seal key, the TSA's)
        compromised, if it did."""
        with translate_sql_errors("reading a signer key's state"), Session(self._engine) as s:
            row = s.execute(
                select(KeyRow.key_id, KeyRow.compromised_at)
                .where(KeyRow.public_key_der == spki_der,
                       KeyRow.state == KeyState.COMPROMISED.value)
                .limit(1)
            ).first()
        if row is None or row.compromised_at is None:
            return None
        at = row.compromised_at
        return KeyCompromise(row.key_id, at if at.tzinfo else at.replace(tzinfo=UTC))

    def resolve(
        self, cert_der: bytes, spki_der: bytes, signed_at: datetime | None
    ) -> AgencyMatch | None:
        with translate_sql_errors("finding a signer's agency"), Session(self._engine) as s:
            code = s.scalar(
                select(AgencyRow.code)
                .join(KeyRow, KeyRow.agency_id == AgencyRow.id)
                .join(CertificateRow, CertificateRow.key_pk == KeyRow.id)
                .where(CertificateRow.der == cert_der)
                .limit(1)
            )
            matched_by = "certificate"
            if code is None:
                code = s.scalar(
                    select(AgencyRow.code)
                    .join(KeyRow, KeyRow.agency_id == AgencyRow.id)
                    .where(KeyRow.public_key_der == spki_der)
                    .limit(1)
                )
                matched_by = "public-key"
        if code is None:
            return None
        day = (signed_at or datetime.now(VIETNAM)).astimezone(VIETNAM).date()
        try:
            history = self._agencies.history(code, on=day)
            names = []
            for succ in history.successors:
                names.append(self._agencies.get(succ).name if succ != code
                             else history.agency.name)
        except KysoError:
            return AgencyMatch(code, "", day.isoformat(), "", "", (), (), matched_by)
        return AgencyMatch(
            code=code,
            name_on_signing_date=history.name_on_date or "",
            signing_date=day.isoformat(),
            current_name=history.agency.name,
            status=history.agency.status,
            successors=history.successors,
            successor_names=tuple(names),
            matched_by=matched_by,
        )
