"""Root-cause route: which factors explain a KPI of an asset over a time range.

``GET /api/v1/rootcause?kpi=scrap_ratio&asset=...&from=...&to=...`` reads the hourly KPIs of
every machine under ``asset`` from the MES (:func:`kpi_periods`), joins them with the hourly
means of the published tags, the product and the shift
(:func:`andon.ml.rootcause.factor_table`) and ranks the factors by held-out importance
(:func:`andon.ml.rootcause.explain_table`). Ranking takes seconds to a minute on weeks of
data; the route is synchronous, so it runs in a worker thread and the server keeps answering.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from andon import mes
from andon.api.deps import HistorianDep, WindowDep
from andon.errors import InvalidRequest, NotFound
from andon.historian import Historian
from andon.ml import rootcause

__all__ = ["analyse", "kpi_periods", "router"]

router = APIRouter(prefix="/api/v1", tags=["ml"])

HOUR_MS = 3_600_000
MIN_HOURS = 12
MAX_DAYS = 92  # a quarter: ranking a year of machine-hours would hold a worker for long


def _shift_names(calendar: mes.Calendar, lo: int, hi: int) -> list[tuple[int, int, str]]:
    windows = calendar.windows("shift", lo, hi)
    return [(w.start_ms, w.end_ms, w.label.rsplit("/", 1)[-1]) for w in windows]


def _shift_of(shifts: list[tuple[int, int, str]], start: int, end: int) -> str | None:
    middle = (start + end) // 2
    return next((name for a, b, name in shifts if a <= middle < b), None)


def kpi_periods(historian: Historian, asset: str, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Hourly KPIs of each machine at or below ``asset``, with the shift of each hour.

    Columns ``asset, start_ms, end_ms, produced, good, scrap, oee, shift``; machines that
    produced nothing in the range are left out (an ambient station, an idle cell).
    """
    if end_ms - start_ms < MIN_HOURS * HOUR_MS:
        raise InvalidRequest(f"a root-cause analysis needs at least {MIN_HOURS} hours of data")
    calendar = mes.load_calendar(historian)
    shifts = _shift_names(calendar, start_ms, end_ms) if calendar.shifts else []
    rows: list[dict[str, Any]] = []
    for cell in mes.cells_of(historian.assets(), asset):
        periods = mes.oee_by(historian, cell.path, start_ms, end_ms, "hour", calendar=calendar)
        if periods.total.produced == 0:
            continue
        for period in periods.periods:
            r = period.result
            rows.append(
                {
                    "asset": cell.path,
                    "start_ms": r.start_ms,
                    "end_ms": r.end_ms,
                    "produced": r.produced,
                    "good": r.good,
                    "scrap": r.scrap,
                    "oee": r.oee,
                    "shift": _shift_of(shifts, r.start_ms, r.end_ms),
                }
            )
    return pd.DataFrame(rows)


def analyse(
    historian: Historian,
    kpi: str,
    start_ms: int,
    end_ms: int,
    asset: str | None = None,
    options: rootcause.RankOptions | None = None,
    drop: Sequence[str] = (),
) -> tuple[pd.DataFrame, rootcause.Ranking]:
    """The factor table of ``asset`` (default: the whole plant) over whole hours of
    ``[start_ms, end_ms)``, and the ranking of its factors for ``kpi`` (but ``drop``)."""
    if kpi not in rootcause.KPIS:
        raise InvalidRequest(f"unknown KPI {kpi!r}; known: {', '.join(rootcause.KPIS)}")
    assets = historian.assets()
    if not assets:
        raise NotFound("the historian holds no assets")
    root = asset or assets[0].path.split("/", 1)[0]
    lo = -(-start_ms // HOUR_MS) * HOUR_MS
    hi = end_ms // HOUR_MS * HOUR_MS
    periods = kpi_periods(historian, root, lo, hi)
    if periods.empty:
        raise InvalidRequest(f"nothing was produced under {root!r} in the range")
    table = rootcause.factor_table(historian, periods, HOUR_MS)
    unknown = sorted(set(drop) - set(rootcause.factor_columns(table, kpi)))
    if unknown:
        raise InvalidRequest(f"drop: no factor {unknown} in the table")
    return table, rootcause.explain_table(table.drop(columns=list(drop)), kpi, options)


class FactorOut(BaseModel):
    rank: int
    name: str
    kind: str = Field(description="numeric or categorical")
    importance: float = Field(description="mean held-out R² drop when the factor is permuted")
    ci_low: float
    ci_high: float
    fold_importances: list[float]
    significant: bool = Field(description="the interval clears the shuffled-noise controls")
    direction: str = Field(description="increasing, decreasing, mixed or categorical")
    effect: float = Field(description="KPI change from low to high values (partial dependence)")
    raises_at: str = Field(description="which values raise the KPI")
    r2_share: float = Field(description="Shapley share of a linear fit's R²")
    dependence: list[tuple[str, float]]


class RootCauseOut(BaseModel):
    kpi: str
    asset: str | None
    start_ms: int
    end_ms: int
    rows: int
    folds: int
    r2: float = Field(description="held-out R² of the model on time-blocked folds")
    baseline_r2: float = Field(description="held-out R² of the training mean")
    linear_r2: float
    noise_level: float = Field(description="importance of the strongest noise control")
    factors: list[FactorOut]


Kpi = Annotated[str, Query(description=f"one of {', '.join(rootcause.KPIS)}")]


@router.get("/rootcause")
def explain(
    historian: HistorianDep,
    window: WindowDep,
    kpi: Kpi = "scrap_ratio",
    asset: Annotated[str | None, Query(description="a machine, line or area; default all")] = None,
    drop: Annotated[list[str] | None, Query(description="factors to leave out")] = None,
) -> RootCauseOut:
    """Rank the factors of a KPI (hourly, per machine) by how much they explain it."""
    if window.end_ms - window.start_ms > MAX_DAYS * 24 * HOUR_MS:
        raise InvalidRequest(f"root cause ranks at most {MAX_DAYS} days at once")
    _, ranking = analyse(historian, kpi, window.start_ms, window.end_ms, asset, drop=drop or ())
    return RootCauseOut.model_validate(
        {
            **ranking.to_dict(),
            "kpi": kpi,
            "asset": asset,
            "start_ms": window.start_ms,
            "end_ms": window.end_ms,
        }
    )
