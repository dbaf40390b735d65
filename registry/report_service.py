"""registry.v1 ReportService (protobuf stops here)."""

from __future__ import annotations

import grpc
from sqlalchemy.engine import Engine

from kyso.registry.v1 import reports_pb2, reports_pb2_grpc
from registry.reports import monthly_report
from signer.runtime.auth import current_principal
from signer.runtime.context import Context


class ReportServicer(reports_pb2_grpc.ReportServiceServicer):  # type: ignore[misc]
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def MonthlyReport(
        self, request: reports_pb2.MonthlyReportRequest, context: grpc.ServicerContext
    ) -> reports_pb2.MonthlyReportResponse:
        principal = current_principal.get()
        r = monthly_report(self._engine, request.month, request.agency_code,
                           principal.grants if principal is not None else ())
        return reports_pb2.MonthlyReportResponse(
            month=r.month,
            signatures=r.signatures,
            timestamps=r.timestamps,
            load_test_signatures=r.load_test_signatures,
            rows=[reports_pb2.ReportRow(agency_code=x.agency_code, agency_name=x.agency_name,
                                        document_type=x.document_type, signatures=x.signatures,
                                        timestamped=x.timestamped) for x in r.rows],
        )


SERVICE = str(reports_pb2.DESCRIPTOR.services_by_name["ReportService"].full_name)


def register(server: grpc.Server, ctx: Context) -> tuple[str, ...]:
    """Serve ReportService on ``server``; returns its full name (health, reflection)."""
    reports_pb2_grpc.add_ReportServiceServicer_to_server(ReportServicer(ctx.registry.engine),
                                                         server)
    return (SERVICE,)
