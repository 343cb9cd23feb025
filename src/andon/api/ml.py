"""Machine-learning routes: the model registry, alerts from live scoring, machine health.

``GET /api/v1/ml/models`` lists the registry (``app.state.models_dir``, default
``data/models``); ``GET /api/v1/alerts`` the alerts raised by live scoring (failure risk,
remaining useful life, anomalies), newest first; ``GET /api/v1/health/{asset}`` a machine's
latest failure risk, remaining useful life and anomaly scores (written back to the
historian by :class:`andon.ml.live.LiveScorer`) with its open alerts and an overall status.
``GET /api/v1/health`` (liveness) stays in :mod:`andon.api.plant`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from andon.api.deps import HistorianDep
from andon.errors import InvalidRequest, NotFound
from andon.ml import registry
from andon.ml.alerts import alerts as stored_alerts
from andon.ml.live import ANOMALY_PREFIX, RISK_TAG, RUL_TAG
from andon.namespace import validate_path
from andon.signals import parse_ts

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["ml"])


class ModelOut(BaseModel):
    name: str
    version: int
    task: str
    created_ms: int
    path: str
    params: dict[str, Any]
    options: dict[str, Any]
    metrics: dict[str, Any] = Field(description="held-out metrics, model and baseline")
    data: dict[str, Any] = Field(description="rows, columns and SHA-256 of the training data")
    split: dict[str, Any]
    features: list[str]
    andon_version: str


class AlertOut(BaseModel):
    id: str
    asset: str
    kind: str = Field(description="failure_risk or anomaly")
    tag: str
    severity: Literal["warning", "critical"]
    opened_ms: int
    updated_ms: int
    closed_ms: int | None
    open: bool
    value: float
    peak: float
    message: str


class Reading(BaseModel):
    value: float
    ts_ms: int


class HealthOut(BaseModel):
    asset: str
    status: Literal["ok", "warning", "critical", "unknown"]
    failure_risk: Reading | None
    rul: Reading | None = Field(description="remaining useful life, in the model's time unit")
    anomaly: dict[str, Reading] = Field(description="latest anomaly score per tag")
    open_alerts: list[AlertOut]


def _models_dir(request: Request) -> Path:
    return Path(getattr(request.app.state, "models_dir", registry.DEFAULT_ROOT))


@router.get("/ml/models")
def models(request: Request) -> list[ModelOut]:
    """Every model in the registry (newest version of each) with its card."""
    return [
        ModelOut.model_validate(card.to_dict())
        for card in registry.list_models(_models_dir(request))
    ]


@router.get("/ml/models/{name}")
def model(request: Request, name: str) -> ModelOut:
    """One model's newest card."""
    for card in registry.list_models(_models_dir(request)):
        if card.name == name:
            return ModelOut.model_validate(card.to_dict())
    raise NotFound(f"no model named {name!r}")


@router.get("/alerts")
def alerts(
    historian: HistorianDep,
    asset: Annotated[str | None, Query(description="this asset and those below it")] = None,
    open_only: Annotated[bool, Query(alias="open", description="only open alerts")] = False,
    since: Annotated[
        str | None, Query(description="updated at or after (epoch ms or ISO-8601)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[AlertOut]:
    """Alerts from live scoring, newest first."""
    found = stored_alerts(
        historian, asset=asset, open_only=open_only, since_ms=_time(since), limit=limit
    )
    return [AlertOut.model_validate(a.to_dict()) for a in found]


@router.get("/health/{asset:path}")
def health(historian: HistorianDep, asset: str) -> HealthOut:
    """A machine's latest failure risk and anomaly scores, its open alerts and status."""
    validate_path(asset)
    prefix = f"{asset}/"
    readings = {
        key[len(prefix) :]: Reading(value=value, ts_ms=ts)
        for key, (ts, value) in historian.latest(asset).items()
        if key.startswith(prefix) and "/" not in key[len(prefix) :]
    }
    if not readings and not any(a.path == asset for a in historian.assets()):
        raise NotFound(f"no asset {asset!r}")
    open_alerts = [
        AlertOut.model_validate(a.to_dict())
        for a in stored_alerts(historian, asset=asset, open_only=True, limit=1000)
        if a.asset == asset
    ]
    anomaly = {
        tag[len(ANOMALY_PREFIX) :]: reading
        for tag, reading in readings.items()
        if tag.startswith(ANOMALY_PREFIX)
    }
    risk = readings.get(RISK_TAG)
    return HealthOut(
        asset=asset,
        status=_status(
            open_alerts, scored=bool(set(readings) & {RISK_TAG, RUL_TAG}) or bool(anomaly)
        ),
        failure_risk=risk,
        rul=readings.get(RUL_TAG),
        anomaly=anomaly,
        open_alerts=open_alerts,
    )


def _status(
    open_alerts: list[AlertOut], *, scored: bool
) -> Literal["ok", "warning", "critical", "unknown"]:
    severities = {a.severity for a in open_alerts}
    if "critical" in severities:
        return "critical"
    if "warning" in severities:
        return "warning"
    return "ok" if scored else "unknown"


def _time(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise InvalidRequest(f"since: {exc}") from exc
