"""Quality routes: SPC charts and capability, live SPC alerts, inspection records, Pareto,
first pass yield and the ISO 22400-2 quality ratios.

Charts come from a historian tag (``GET /spc``), a machine's scrap fraction (``GET
/spc/scrap``) or posted values (``POST /spc``); each lists its limits and every rule
violation with the rule number and the point's index. Recording an inspection needs the
``operator`` role and is written to the audit trail with the caller.
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from andon.api.auth import PrincipalDep
from andon.api.deps import HistorianDep, WindowDep
from andon.errors import InvalidRequest
from andon.mes import quality, spc
from andon.mes.spc_live import alerts
from andon.signals import parse_ts

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["quality"])

ChartKind = Literal["imr", "xbar_r", "xbar_s", "p", "np", "c", "u", "ewma", "cusum"]
RuleSet = Literal["nelson", "we"]
Number = float | None


class SeriesOut(BaseModel):
    name: str
    center: float | list[Number] | None = Field(description="one number when constant")
    lcl: float | list[Number] | None
    ucl: float | list[Number] | None
    values: list[Number] | None = None


class ViolationOut(BaseModel):
    series: str
    index: int = Field(description="the point's position in the series, from 0")
    rule: int = Field(description="Nelson 1-8, or Western Electric 1-4")
    text: str
    value: float
    ts_ms: int | None


class NormalityOut(BaseModel):
    statistic: float
    p_value: float
    normal: bool
    test: str


class CapabilityOut(BaseModel):
    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    lsl: float | None
    usl: float | None
    cp: float | None
    cpu: float | None
    cpl: float | None
    cpk: float | None
    pp: float | None
    ppu: float | None
    ppl: float | None
    ppk: float | None
    ppm_within: float
    ppm_overall: float
    confidence: float
    normality: NormalityOut
    intervals: dict[str, list[float]]


class ChartOut(BaseModel):
    kind: str
    rule_set: str
    limits_from: str
    sigma: float | None
    points: int
    series: list[SeriesOut]
    violations: list[ViolationOut]
    sizes: float | list[Number] | None = None
    ts_ms: list[int] | None = None
    capability: CapabilityOut | None = None


class ChartOptions(BaseModel):
    """How to draw the chart (the options of ``andon spc``)."""

    chart: ChartKind = "imr"
    subgroup: int = Field(default=1, ge=1)
    period_ms: int | None = Field(default=None, gt=0, description="subgroups by time instead")
    baseline: int | None = Field(
        default=None, ge=2, description="limits from the first N subgroups"
    )
    rolling: int | None = Field(
        default=None, ge=2, description="limits from the N subgroups before"
    )
    rules: RuleSet = "nelson"
    only: list[int] | None = Field(default=None, description="rule numbers to apply")
    lsl: float | None = None
    usl: float | None = None
    target: float | None = Field(default=None, description="EWMA/CUSUM: in-control mean")
    sigma: float | None = Field(default=None, gt=0, description="EWMA/CUSUM: known sigma")

    def spec(self, baseline_ms: tuple[int, int] | None = None) -> spc.ChartSpec:
        limits = spc.Limits()
        if self.baseline is not None:
            limits = spc.Limits(baseline=(0, self.baseline))
        elif self.rolling is not None:
            limits = spc.Limits(rolling=self.rolling)
        return spc.ChartSpec(
            kind=self.chart,
            subgroup=self.subgroup,
            period_ms=self.period_ms,
            limits=limits,
            baseline_ms=baseline_ms,
            rule_set=self.rules,
            enabled=None if self.only is None else tuple(self.only),
            target=self.target,
            sigma=self.sigma,
        )


class ValuesIn(ChartOptions):
    values: list[Number] = Field(min_length=1, max_length=2_000_000)
    ts_ms: list[int] | None = None
    sizes: list[float] | None = Field(default=None, description="sample sizes of p, np, u charts")


def _out(chart: spc.Chart, values: np.ndarray, options: ChartOptions, points: bool) -> ChartOut:
    body = ChartOut.model_validate(spc.to_dict(chart, points=points))
    if (options.lsl is not None or options.usl is not None) and options.chart not in (
        spc.ATTRIBUTE_KINDS
    ):
        finite = values[np.isfinite(values)]
        data = spc.Subgroups.by_count(finite, options.subgroup) if options.subgroup > 1 else finite
        cap = spc.capability(data, lsl=options.lsl, usl=options.usl)
        body.capability = CapabilityOut.model_validate(cap.to_dict())
    return body


def _time(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise InvalidRequest(f"{name}: {exc}") from exc


@router.get("/spc")
def spc_of_tag(
    historian: HistorianDep,
    window: WindowDep,
    asset: Annotated[str, Query(description="the machine")],
    tag: Annotated[str, Query(description="the tag's name")],
    options: Annotated[ChartOptions, Query()],
    baseline_to: Annotated[
        str | None, Query(description="limits from the window start up to this time")
    ] = None,
    points: Annotated[bool, Query(description="include every point")] = True,
) -> ChartOut:
    """Control chart of a historian tag over the window, with capability when specs are
    given."""
    end = _time(baseline_to, "baseline_to")
    spec = options.spec(None if end is None else (window.start_ms, end))
    stamps, values = spc.tag_values(historian, asset, tag, window.start_ms, window.end_ms)
    if values.size == 0:
        raise InvalidRequest(f"{asset}/{tag} has no samples in the window")
    return _out(spc.chart(values, spec, ts_ms=stamps), values, options, points)


@router.get("/spc/scrap")
def spc_of_scrap(
    historian: HistorianDep,
    window: WindowDep,
    asset: Annotated[str, Query(description="the machine")],
    period_ms: Annotated[int, Query(gt=0, description="one point per period")] = 3_600_000,
    chart: Annotated[Literal["p", "np", "u"], Query()] = "p",
    baseline: Annotated[int | None, Query(ge=2)] = None,
    rules: Annotated[RuleSet, Query()] = "nelson",
) -> ChartOut:
    """p (np, u) chart of the machine's scrap per period, from its count totals."""
    options = ChartOptions(chart=chart, period_ms=period_ms, baseline=baseline, rules=rules)
    result = spc.scrap_chart(historian, asset, window.start_ms, window.end_ms, options.spec())
    return _out(result, np.empty(0), options, True)


@router.post("/spc")
def spc_of_values(body: ValuesIn) -> ChartOut:
    """Control chart (and capability) of posted values: measurements, or counts with sizes."""
    values = np.array([np.nan if v is None else v for v in body.values], dtype=np.float64)
    stamps = None if body.ts_ms is None else np.asarray(body.ts_ms, dtype=np.int64)
    sizes = None if body.sizes is None else np.asarray(body.sizes, dtype=np.float64)
    result = spc.chart(values, body.spec(), ts_ms=stamps, sizes=sizes)
    return _out(result, values, body, True)


class AlertOut(BaseModel):
    asset: str
    tag: str
    ts_ms: int
    series: str
    rule_set: str
    rule: int
    value: float
    center: float
    lcl: float
    ucl: float
    message: str


@router.get("/spc/alerts")
def spc_alerts(
    historian: HistorianDep,
    asset: Annotated[str | None, Query()] = None,
    tag: Annotated[str | None, Query()] = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AlertOut]:
    """Rule violations raised by live SPC on the ingest stream, newest first."""
    found = alerts(
        historian,
        asset=asset,
        tag=tag,
        start_ms=_time(start, "from"),
        end_ms=_time(end, "to"),
        limit=limit,
    )
    return [AlertOut.model_validate(a.to_dict()) for a in found]


# -- inspections ---------------------------------------------------------------------------


class InspectionIn(BaseModel):
    id: str = Field(min_length=1, description="natural key: the same id replaces the record")
    ts_ms: int | str = Field(description="epoch ms or ISO-8601")
    inspected: int = Field(ge=0)
    good: int = Field(ge=0, description="passed (at first pass, or after rework)")
    rework: int = Field(default=0, ge=0)
    scrap: int = Field(default=0, ge=0)
    lot: str | None = None
    order: str | None = None
    asset: str | None = None
    product: str | None = None
    first_pass: bool = Field(default=True, description="false for the re-inspection after rework")
    defects: dict[str, int] = Field(default_factory=dict, description="defect type -> count")
    measurements: dict[str, list[float]] = Field(default_factory=dict)


class InspectionOut(BaseModel):
    id: str
    ts_ms: int
    inspected: int
    good: int
    rework: int
    scrap: int
    lot: str | None
    order: str | None
    asset: str | None
    product: str | None
    first_pass: bool
    defects: dict[str, int]
    measurements: dict[str, list[float]]


class RecordedOut(BaseModel):
    inspection: InspectionOut
    replaced: bool = Field(description="an earlier record with this id was replaced")


class SummaryOut(BaseModel):
    inspected_first: int
    good_first: int
    produced: int
    good: int
    scrap: int
    rework: int
    first_pass_yield: float | None
    quality_ratio: float | None
    scrap_ratio: float | None
    rework_ratio: float | None


class ParetoOut(BaseModel):
    defect: str
    count: int
    share: float
    cumulative: float


def _filter(
    lot: Annotated[str | None, Query()] = None,
    order: Annotated[str | None, Query()] = None,
    asset: Annotated[str | None, Query(description="this asset and everything below")] = None,
    product: Annotated[str | None, Query()] = None,
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> quality.QualityFilter:
    return quality.QualityFilter(lot, order, asset, product, _time(start, "from"), _time(end, "to"))


FilterDep = Annotated[quality.QualityFilter, Depends(_filter)]


@router.post("/quality/inspections", status_code=201)
def record_inspection(
    historian: HistorianDep, body: InspectionIn, principal: PrincipalDep
) -> RecordedOut:
    """Record (or replace) an inspection of a lot/order: counts, defects, measurements."""
    fields = body.model_dump()
    fields["ts_ms"] = _time(str(body.ts_ms), "ts_ms")
    inspection = quality.Inspection(**fields)
    replaced = quality.record_inspection(historian, inspection, actor=principal.subject)
    return RecordedOut(
        inspection=InspectionOut.model_validate(inspection.to_dict()), replaced=replaced
    )


@router.get("/quality/inspections")
def list_inspections(
    historian: HistorianDep,
    where: FilterDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[InspectionOut]:
    """Inspections, newest first (defects included, measurements not)."""
    return [
        InspectionOut.model_validate(i.to_dict())
        for i in quality.inspections(historian, where, limit)
    ]


@router.get("/quality/summary")
def quality_summary(
    historian: HistorianDep,
    where: FilterDep,
) -> SummaryOut:
    """First pass yield, quality, scrap and rework ratios (ISO 22400-2); null when nothing
    was inspected."""
    return SummaryOut.model_validate(quality.quality_summary(historian, where).to_dict())


@router.get("/quality/pareto")
def defect_pareto(
    historian: HistorianDep,
    where: FilterDep,
) -> list[ParetoOut]:
    """Defect types by count, largest first, with their share and cumulative share."""
    rows = quality.defect_pareto(historian, where)
    return [ParetoOut.model_validate(r, from_attributes=True) for r in rows]
