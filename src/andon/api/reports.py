"""Shift reports over the API: ``GET /api/v1/reports/shift?asset=&shift=&format=``.

The same report as ``andon report``: HTML (self-contained, shown in the browser), PDF (printed
by WeasyPrint) or JSON (the figures behind it). PDFs take about a second to print, so the
route is a plain ``def``: FastAPI runs it in its thread pool, never on the event loop.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from andon.api.deps import HistorianDep, data_now
from andon.api.mes import OeeOut
from andon.web.report import build_report
from andon.web.report_render import render_html, render_pdf

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

# The HTML report runs no script and loads nothing: only its own inline styles.
_REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class StopOut(BaseModel):
    asset: str
    start: int = Field(alias="from")
    end: int | None = Field(alias="to")
    seconds: float
    state: str
    reasons: str
    micro: bool


class ParetoOut(BaseModel):
    reason: str
    stops: int
    seconds: float


class ShiftReportOut(BaseModel):
    asset: str
    shift: str = Field(description="YYYY-MM-DD/NAME as the plant calendar names it")
    start: int = Field(alias="from")
    end: int = Field(alias="to")
    timezone: str
    total: OeeOut
    machines: list[OeeOut]
    top_stops: list[StopOut]
    pareto: list[ParetoOut]
    stops: int
    micro_stops: int
    generated: int
    notes: list[str]


def _filename(asset: str, shift: str, suffix: str) -> str:
    safe = f"{asset.rsplit('/', 1)[-1]}-{shift.replace('/', '-')}"
    return f"shift-report-{safe}.{suffix}"


@router.get(
    "/shift",
    response_model=ShiftReportOut,
    responses={
        200: {
            "description": "the report as HTML, PDF or JSON (``format``)",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
def shift_report(
    historian: HistorianDep,
    asset: Annotated[str, Query(description="a machine, or a line/area to roll up")],
    shift: Annotated[
        str,
        Query(
            pattern=r"^\d{4}-\d{2}-\d{2}/[^/]+$",
            description="YYYY-MM-DD/NAME: the shift of the plant calendar starting that day",
        ),
    ],
    format: Annotated[Literal["html", "pdf", "json"], Query()] = "html",
) -> Response:
    """KPIs, losses, longest stops, downtime Pareto and scrap of one shift."""
    # The data clock when it runs ahead (an accelerated simulator), else the wall clock.
    now = max(int(time.time() * 1000), data_now(historian))
    report = build_report(historian, asset, shift, now)
    if format == "json":
        body = ShiftReportOut.model_validate(report.to_dict())
        return JSONResponse(body.model_dump(mode="json", by_alias=True))
    if format == "pdf":
        disposition = f'attachment; filename="{_filename(asset, report.shift, "pdf")}"'
        return Response(
            render_pdf(report),
            media_type="application/pdf",
            headers={"Content-Disposition": disposition},
        )
    return Response(
        render_html(report),
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": _REPORT_POLICY},
    )
