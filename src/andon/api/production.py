"""Routes about production performance: OEE per ISO 22400-2."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from andon import mes
from andon.api.deps import HistorianDep, WindowDep

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["production"])


@router.get("/oee")
def oee(
    historian: HistorianDep,
    window: WindowDep,
    asset: Annotated[str, Query(description="a machine, or a line/area/site to roll up")],
    ideal_cycle_time_s: Annotated[
        float | None, Query(gt=0, description="overrides the asset's ideal cycle time")
    ] = None,
) -> dict[str, Any]:
    """Availability, performance, quality and OEE with the time and quantity elements."""
    result = mes.oee_for_asset(
        historian, asset, window.start_ms, window.end_ms, ideal_cycle_time_s=ideal_cycle_time_s
    )
    return result.to_dict()
