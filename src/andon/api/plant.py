"""Routes about the plant as a whole: health, the asset tree, tags, the live overview."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from andon import __version__, mes
from andon.api.deps import HistorianDep, NowDep
from andon.api.production import PolicyDep
from andon.historian import AssetInfo
from andon.mes import spc_live
from andon.ml.alerts import alerts as ml_alerts
from andon.ml.live import ANOMALY_PREFIX, RISK_TAG, RUL_TAG
from andon.namespace import LEVELS, cells
from andon.signals import STATE_NAMES, StateChange, state_category

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["plant"])
MAX_TAGS_PAGE = 50_000
MAX_ALERTS = 10_000


class Health(BaseModel):
    status: str
    version: str
    now: int
    latest_ts: int | None
    ingest: dict[str, int] | None = None


class AssetNode(BaseModel):
    path: str
    name: str
    level: str
    ideal_cycle_time_s: float | None = None
    display_name: str | None = None
    children: list[AssetNode] = []


class Tag(BaseModel):
    id: int
    asset: str
    name: str
    unit: str | None
    kind: str


class MachineStatus(BaseModel):
    asset: str
    line: str
    name: str
    state: str | None
    code: int | None
    since: int | None
    oee: dict[str, Any]
    alerts: int = Field(default=0, description="SPC rule violations since oee_from")
    last_alert: str | None = Field(default=None, description="the newest alert's message")


class Reading(BaseModel):
    tag: str
    tag_id: int
    unit: str | None
    value: float
    ts: int


class StationStatus(BaseModel):
    asset: str
    line: str
    name: str
    readings: list[Reading] = Field(description="the latest value of each tag, by tag name")


class Overview(BaseModel):
    now: int
    window_s: int
    oee_from: int = Field(
        description="start of the OEE window (the shift's start, or now - window_s)"
    )
    shift: str | None = Field(default=None, description="label of the current shift, if used")
    machines: list[MachineStatus]
    stations: list[StationStatus] = Field(
        default=[],
        description="work units that only measure (no states, counts or cycle time), such as "
        "a plant's ambient station: their latest readings, not machine tiles",
    )


@router.get("/health")
def health(historian: HistorianDep, request: Request) -> Health:
    """Liveness, the version, the newest data timestamp and ingestion counters."""
    stats = getattr(request.app.state, "ingest_stats", None)
    counters = (
        None if stats is None else {k: v for k, v in vars(stats).items() if isinstance(v, int)}
    )
    return Health(
        status="ok",
        version=__version__,
        now=int(time.time() * 1000),
        latest_ts=historian.latest_ts(),
        ingest=counters,
    )


@router.get("/assets")
def assets(historian: HistorianDep) -> list[AssetNode]:
    """The ISA-95 asset tree, from configured assets and every asset that sent data."""
    return _tree(historian.assets())


@router.get("/tags")
def tags(
    historian: HistorianDep,
    response: Response,
    asset: Annotated[str | None, Query(description="only tags at or below this asset")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TAGS_PAGE, description="tags per page")] = 5000,
    offset: Annotated[int, Query(ge=0, description="tags to skip")] = 0,
) -> list[Tag]:
    """Tags known to the historian, by asset and name, a page at a time.

    When more tags follow, the ``X-Next-Offset`` header gives the offset of the next page.
    """
    found = historian.tags(asset)
    if offset + limit < len(found):
        response.headers["X-Next-Offset"] = str(offset + limit)
    return [
        Tag(id=t.id, asset=t.asset, name=t.name, unit=t.unit, kind=t.kind)
        for t in found[offset : offset + limit]
    ]


@router.get("/overview")
def overview(
    historian: HistorianDep,
    request: Request,
    now: NowDep,
    policy: PolicyDep,
    window_s: Annotated[int, Query(ge=60, le=7 * 86_400, description="OEE window")] = 3600,
    shift: Annotated[
        bool,
        Query(description="OEE since the current shift began (plant calendar), else window_s"),
    ] = False,
) -> Overview:
    """Every machine's current state and its OEE over the last ``window_s`` (one request).

    A work unit is a machine when it has a state or part count by now, or the MES knows its
    ideal cycle time; the others only measure (an ambient station) and come as ``stations``
    with their latest readings.

    Computed once per data clock value and shared: fifty wall screens asking after the same
    tick cost one computation.
    """
    state = request.app.state
    memo: _Memo = state.__dict__.setdefault("overview_memo", _Memo())
    # Writes (an operator's annotation) change OEE without new data: they are in the key.
    key = (now, window_s, shift, getattr(state, "writes", 0))
    return memo.get(key, lambda: _overview(historian, now, window_s, shift, policy))


class _Memo:
    """The last few overviews by (data clock, options); concurrent askers wait for one."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._values: dict[tuple[int, int, bool, int], Overview] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, bool, int], compute: Callable[[], Overview]) -> Overview:
        with self._lock:
            found = self._values.get(key)
            if found is None:
                found = compute()
                if len(self._values) >= self._size:
                    self._values.pop(next(iter(self._values)))
                self._values[key] = found
            return found


def _overview(
    historian: HistorianDep, now: int, window_s: int, shift: bool, policy: mes.OeePolicy
) -> Overview:
    start, label = now - window_s * 1000, None
    calendar = mes.load_calendar(historian)
    current = calendar.shifts_between(now - 1, now) if shift else []
    if current:
        start, label = current[-1].start_ms, current[-1].label
    infos = {a.path: a for a in historian.assets()}
    machines: list[MachineStatus] = []
    measuring: list[str] = []
    for path in cells(list(infos)):
        in_force = historian.state_timeline(path, now, now + 1)
        if in_force or _is_equipment(historian, infos[path], now):
            status = _machine_status(historian, path, in_force, (start, now), calendar, policy)
            machines.append(status)
        else:
            measuring.append(path)
    _attach_alerts(historian, machines, start, now)
    return Overview(
        now=now,
        window_s=window_s,
        oee_from=start,
        shift=label,
        machines=machines,
        stations=_stations(historian, measuring),
    )


def _is_equipment(historian: HistorianDep, info: AssetInfo, now: int) -> bool:
    """A work unit without a state so far is still a machine when the MES gives it an ideal
    cycle time (configured, waiting for data) or it has reported part counts."""
    return info.ideal_cycle_time_s is not None or bool(
        historian.count_totals(info.path, now, now + 1)
    )


def _stations(historian: HistorianDep, paths: list[str]) -> list[StationStatus]:
    """The latest reading of each measuring-only work unit in ``paths``, tag by tag.

    The scores live scoring writes back as tags of the asset (``ml_anomaly_<tag>``) are not
    readings (the tag explorer still has them).
    """
    if not paths:
        return []
    latest = historian.latest()
    stations = []
    for path in paths:
        readings = []
        for tag in historian.tags(path):
            found = latest.get(f"{tag.asset}/{tag.name}")
            if tag.asset == path and found is not None and not _is_score(tag.name):
                ts, value = found
                readings.append(
                    Reading(tag=tag.name, tag_id=tag.id, unit=tag.unit, value=value, ts=ts)
                )
        line, _, name = path.rpartition("/")
        stations.append(StationStatus(asset=path, line=line, name=name, readings=readings))
    return stations


def _is_score(tag: str) -> bool:
    return tag.startswith(ANOMALY_PREFIX) or tag in (RISK_TAG, RUL_TAG)


def _attach_alerts(
    historian: HistorianDep, machines: list[MachineStatus], start: int, now: int
) -> None:
    """Count each machine's alerts: live SPC alerts in the OEE window and the open alerts of
    live scoring (failure risk, remaining life, anomalies); the newest one's message shown."""
    by_asset: dict[str, list[tuple[int, str]]] = {}
    for spc in spc_live.alerts(historian, start_ms=start, end_ms=now, limit=MAX_ALERTS):
        by_asset.setdefault(spc.asset, []).append((spc.ts_ms, spc.message))
    for scored in ml_alerts(historian, open_only=True, limit=MAX_ALERTS):
        by_asset.setdefault(scored.asset, []).append((scored.updated_ms, scored.message))
    for machine in machines:
        messages = sorted(by_asset.get(machine.asset, []), reverse=True)
        machine.alerts = len(messages)
        machine.last_alert = messages[0][1] if messages else None


def _machine_status(
    historian: HistorianDep,
    path: str,
    current: list[StateChange],
    window: tuple[int, int],
    calendar: mes.Calendar,
    policy: mes.OeePolicy,
) -> MachineStatus:
    """``current`` is the asset's state timeline at ``now`` (the state in force, if any)."""
    start, now = window
    state = current[-1] if current else None
    result = mes.oee_for_asset(historian, path, start, now, calendar=calendar, policy=policy)
    line, _, name = path.rpartition("/")
    return MachineStatus(
        asset=path,
        line=line,
        name=name,
        state=None if state is None else STATE_NAMES.get(state_category(state.code)),
        code=None if state is None else state.code,
        since=None if state is None else state.ts_ms,
        oee=result.to_dict(),
    )


def _tree(infos: list[AssetInfo]) -> list[AssetNode]:
    by_path = {info.path: info for info in infos}
    nodes: dict[str, AssetNode] = {}
    roots: list[AssetNode] = []
    for path in sorted({p for info in infos for p in _with_ancestors(info.path)}):
        parent, _, name = path.rpartition("/")
        depth = path.count("/")
        info = by_path.get(path)
        node = nodes[path] = AssetNode(
            path=path,
            name=name,
            level=LEVELS[depth] if depth < len(LEVELS) else "cell",
            ideal_cycle_time_s=info.ideal_cycle_time_s if info else None,
            display_name=info.display_name if info else None,
            children=[],
        )
        (nodes[parent].children if parent else roots).append(node)
    return roots


def _with_ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]
