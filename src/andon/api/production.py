"""Routes about production performance: OEE per ISO 22400-2."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from andon import mes
from andon.api.deps import HistorianDep, WindowDep
from andon.config import Settings

__all__ = ["PolicyDep", "oee_policy", "router"]

router = APIRouter(prefix="/api/v1", tags=["production"])


def oee_policy(request: Request) -> mes.OeePolicy:
    """The app's OEE policy: ``settings.oee`` (``create_app`` builds it once, at start)."""
    policy: mes.OeePolicy | None = getattr(request.app.state, "oee_policy", None)
    if policy is None:
        settings: Settings = request.app.state.settings
        policy = request.app.state.oee_policy = mes.policy_from_settings(settings.oee)
    return policy


PolicyDep = Annotated[mes.OeePolicy, Depends(oee_policy)]


@router.get("/oee")
def oee(
    historian: HistorianDep,
    window: WindowDep,
    policy: PolicyDep,
    asset: Annotated[str, Query(description="a machine, or a line/area/site to roll up")],
    ideal_cycle_time_s: Annotated[
        float | None, Query(gt=0, description="overrides the asset's ideal cycle time")
    ] = None,
) -> dict[str, Any]:
    """Availability, performance, quality and OEE with the time and quantity elements."""
    result = mes.oee_for_asset(
        historian,
        asset,
        window.start_ms,
        window.end_ms,
        ideal_cycle_time_s=ideal_cycle_time_s,
        policy=policy,
    )
    return result.to_dict()
