"""registry.v1 AgencyService: the agency-code registry over gRPC.

Converts messages to domain calls on ``registry.agencies.lifecycle.AgencyRegistry`` and
back; the registry never sees ``_pb2`` types. Dates travel as ``YYYY-MM-DD``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import grpc

from kyso.registry.v1 import agencies_pb2, agencies_pb2_grpc
from registry.agencies.lifecycle import (
    AgencyEvent,
    AgencyRegistry,
    AgencyState,
    ImportPlan,
)
from registry.agencies.names import parse_date
from signer.errors import InvalidRequest
from signer.runtime.context import Context

SERVICE = str(agencies_pb2.DESCRIPTOR.services_by_name["AgencyService"].full_name)


def _iso(d: date | None) -> str:
    return d.isoformat() if d else ""


def _effective(text: str) -> date:
    if not text:
        raise InvalidRequest("effective date missing: give it as YYYY-MM-DD")
    return parse_date(text, "effective date")


def _reissue(items: Iterable[agencies_pb2.Reissue]) -> dict[str, str]:
    return {r.old_code: r.new_code for r in items}


def state_pb(a: AgencyState) -> agencies_pb2.AgencyState:
    return agencies_pb2.AgencyState(
        code=a.code, name=a.name, format=a.format, level=a.level,
        parent_code=a.parent_code or "", status=a.status, valid_from=_iso(a.valid_from),
        valid_to=_iso(a.valid_to), successor_code=a.successor_code or "",
    )


def event_pb(e: AgencyEvent) -> agencies_pb2.AgencyEvent:
    return agencies_pb2.AgencyEvent(
        code=e.code, kind=e.kind, effective=_iso(e.effective), old_name=e.old_name or "",
        new_name=e.new_name or "", old_parent=e.old_parent or "",
        new_parent=e.new_parent or "", related_codes=list(e.related_codes), note=e.note,
        recorded_unix=int(e.recorded_at.timestamp()),
    )


def plan_pb(p: ImportPlan) -> agencies_pb2.ImportAgenciesResponse:
    return agencies_pb2.ImportAgenciesResponse(
        create=[state_pb(a) for a in p.create],
        rename=[agencies_pb2.RenamePlan(code=r.code, old_name=r.old_name, new_name=r.new_name)
                for r in p.rename],
        unchanged=list(p.unchanged),
        problems=[agencies_pb2.ImportProblem(line=x.line, field=x.field, reason=x.reason)
                  for x in p.problems],
        applied=p.applied,
    )


def _list(items: Iterable[AgencyState]) -> agencies_pb2.AgencyList:
    return agencies_pb2.AgencyList(agencies=[state_pb(a) for a in items])


class AgencyServicer(agencies_pb2_grpc.AgencyServiceServicer):  # type: ignore[misc, unused-ignore]
    def __init__(self, registry: AgencyRegistry) -> None:
        self._reg = registry

    def RenameAgency(
        self, request: agencies_pb2.RenameAgencyRequest, context: grpc.ServicerContext
    ) -> agencies_pb2.AgencyState:
        return state_pb(self._reg.rename(request.code, request.name,
                                         effective=_effective(request.effective),
                                         note=request.note))

    def MoveAgency(
        self, request: agencies_pb2.MoveAgencyRequest, context: grpc.ServicerContext
    ) -> agencies_pb2.AgencyState:
        return state_pb(self._reg.move(request.code, request.new_code,
                                       effective=_effective(request.effective),
                                       name=request.name or None, note=request.note))

    def MergeAgencies(
        self, request: agencies_pb2.MergeAgenciesRequest, context: grpc.ServicerContext
    ) -> agencies_pb2.AgencyState:
        return state_pb(self._reg.merge(
            list(request.codes), request.into, effective=_effective(request.effective),
            name=request.name or None, reissue=_reissue(request.reissue), note=request.note))

    def SplitAgency(
        self, request: agencies_pb2.SplitAgencyRequest, context: grpc.ServicerContext
    ) -> agencies_pb2.AgencyList:
        return _list(self._reg.split(
            request.code, [(p.code, p.name) for p in request.parts],
            effective=_effective(request.effective), reissue=_reissue(request.reissue),
            note=request.note))

    def CloseAgency(
        self, request: agencies_pb2.CloseAgencyRequest, context: grpc.ServicerContext
    ) -> agencies_pb2.AgencyState:
        return state_pb(self._reg.close(
            request.code, effective=_effective(request.effective),
            successor=request.successor_code or None, reissue=_reissue(request.reissue),
            note=request.note))

    def GetAgencyHistory(
        self, request: agencies_pb2.GetAgencyHistoryRequest, context: grpc.ServicerContext
    ) -> agencies_pb2.AgencyHistory:
        on = parse_date(request.on, "date") if request.on else None
        h = self._reg.history(request.code, on=on)
        return agencies_pb2.AgencyHistory(
            agency=state_pb(h.agency), on=_iso(h.on), name_on_date=h.name_on_date or "",
            in_force_on_date=h.in_force_on_date, successors=list(h.successors),
            events=[event_pb(e) for e in h.events],
        )

    def ListChildren(
        self, request: agencies_pb2.ListAgencyTreeRequest, context: grpc.ServicerContext
    ) -> agencies_pb2.AgencyList:
        return _list(self._reg.children(request.code, include_closed=request.include_closed))

    def ListSubtree(
        self, request: agencies_pb2.ListAgencyTreeRequest, context: grpc.ServicerContext
    ) -> agencies_pb2.AgencyList:
        return _list(self._reg.subtree(request.code, include_closed=request.include_closed))

    def ImportAgencies(
        self, request: agencies_pb2.ImportAgenciesRequest, context: grpc.ServicerContext
    ) -> agencies_pb2.ImportAgenciesResponse:
        return plan_pb(self._reg.import_list(request.content, request.format or "csv",
                                             dry_run=request.dry_run))

    def ExportAgencies(
        self, request: agencies_pb2.ExportAgenciesRequest, context: grpc.ServicerContext
    ) -> agencies_pb2.ExportAgenciesResponse:
        fmt = request.format or "csv"
        return agencies_pb2.ExportAgenciesResponse(
            content=self._reg.export_list(fmt, include_closed=request.include_closed),
            format=fmt,
        )


def register(server: grpc.Server, ctx: Context) -> tuple[str, ...]:
    """Serve AgencyService on ``server``; returns its full name (health, reflection)."""
    add: Any = agencies_pb2_grpc.add_AgencyServiceServicer_to_server  # generated: untyped
    add(AgencyServicer(AgencyRegistry(ctx.registry.engine)), server)
    return (SERVICE,)
