"""Machine-learning routes: the model registry, alerts from live scoring, machine health.

``GET /api/v1/ml/models`` lists the registry (``app.state.models_dir``, default
``data/models``); ``GET /api/v1/alerts`` the alerts raised by live scoring (failure risk,
remaining useful life, anomalies), newest first; ``GET /api/v1/health/{asset}`` a machine's
latest failure risk, remaining useful life and anomaly scores (written back to the
historian by :class:`andon.ml.live.LiveScorer`) with its open alerts and an overall status.
``GET /api/v1/health`` (liveness) stays in :mod:`andon.api.plant`.

``POST /api/v1/alerts/{id}/ack`` (operator and above) records who has seen an alert, in the
alert's row and in the MES audit trail. Alert openings, escalations, clearings and
acknowledgements go out on the live stream as ``alert`` events (:func:`publish_alert`)::

    event: alert
    data: {"event": "raised", "alert": {"id": "...", "asset": "...", "severity": "warning", ...}}
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, Field

from andon.api.auth import PrincipalDep
from andon.api.deps import HistorianDep
from andon.api.live import publish
from andon.errors import InvalidRequest, NotFound
from andon.mes import audit, store
from andon.ml import registry
from andon.ml.alerts import Alert, acknowledge, create_table, event_of
from andon.ml.alerts import alerts as stored_alerts
from andon.ml.live import ANOMALY_PREFIX, RISK_TAG, RUL_TAG
from andon.namespace import validate_path
from andon.signals import parse_ts

__all__ = ["publish_alert", "router"]

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
    kind: str = Field(description="failure_risk, rul or anomaly")
    tag: str
    severity: Literal["warning", "critical"]
    opened_ms: int
    updated_ms: int
    closed_ms: int | None
    open: bool
    value: float
    peak: float
    message: str
    acked_ms: int | None = Field(default=None, description="when it was acknowledged")
    acked_by: str | None = Field(default=None, description="who acknowledged it")


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
    state = request.app.state
    settings = getattr(state, "settings", None)
    default = registry.DEFAULT_ROOT if settings is None else settings.ml.models_dir
    return Path(getattr(state, "models_dir", default))


def publish_alert(app: FastAPI, alert: Alert, event: str | None = None) -> None:
    """Send ``alert`` on ``app``'s live stream as an ``alert`` event (from any thread)."""
    body = AlertOut.model_validate(alert.to_dict()).model_dump()
    publish(app, "alert", {"event": event or event_of(alert), "alert": body})


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


@router.post("/alerts/{alert_id:path}/ack")
def acknowledge_alert(
    request: Request, historian: HistorianDep, alert_id: str, principal: PrincipalDep
) -> AlertOut:
    """Acknowledge an alert (it stays open until its signal clears); audited, and sent on
    the live stream. Acknowledging twice keeps the first acknowledgement."""
    create_table(historian)
    with store.transaction(historian) as tx:
        found = stored_alerts(tx, alert_id=alert_id, limit=1)
        acked = acknowledge(tx, alert_id, principal.subject, int(time.time() * 1000))
        if not found or acked is None:
            raise NotFound(f"no alert {alert_id!r}")
        before = found[0]
        if before.acked_ms is None:
            audit.append(
                tx, principal.subject, "acknowledge", "alert", alert_id,
                before.to_dict(), acked.to_dict(),
            )  # fmt: skip
    if before.acked_ms is None:
        publish_alert(request.app, acked, "acknowledged")
    return AlertOut.model_validate(acked.to_dict())


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
