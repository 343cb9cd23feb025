"""Routes about the plant as a whole: health, the asset tree, tags, the live overview."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from andon import __version__, mes
from andon.api.deps import HistorianDep, data_now
from andon.historian import AssetInfo
from andon.namespace import LEVELS, cells
from andon.signals import STATE_NAMES

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["plant"])


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


class Overview(BaseModel):
    now: int
    window_s: int
    machines: list[MachineStatus]


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
    asset: Annotated[str | None, Query(description="only tags at or below this asset")] = None,
) -> list[Tag]:
    """Tags known to the historian."""
    return [
        Tag(id=t.id, asset=t.asset, name=t.name, unit=t.unit, kind=t.kind)
        for t in historian.tags(asset)
    ]


@router.get("/overview")
def overview(
    historian: HistorianDep,
    window_s: Annotated[int, Query(ge=60, le=7 * 86_400, description="OEE window")] = 3600,
) -> Overview:
    """Every machine's current state and its OEE over the last ``window_s`` (one request)."""
    now = data_now(historian)
    paths = [a.path for a in historian.assets()]
    machines = [_machine_status(historian, path, now, window_s) for path in cells(paths)]
    return Overview(now=now, window_s=window_s, machines=machines)


def _machine_status(historian: HistorianDep, path: str, now: int, window_s: int) -> MachineStatus:
    current = historian.state_timeline(path, now, now + 1)
    state = current[-1] if current else None
    result = mes.oee_for_asset(historian, path, now - window_s * 1000, now)
    line, _, name = path.rpartition("/")
    return MachineStatus(
        asset=path,
        line=line,
        name=name,
        state=None if state is None else STATE_NAMES.get(state.code // 10000 * 10000),
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
