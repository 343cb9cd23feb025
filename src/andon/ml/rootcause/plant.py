"""The factor table of a plant: KPIs per machine and window joined with what was published.

The caller brings the KPI periods (one row per cell and window: ``asset``, ``start_ms``,
``end_ms``, ``produced``, ``good``, ``scrap``, optionally ``oee`` and ``shift``), as the MES
computes them. This module adds, from the historian alone, what could explain them:

- the window's mean of each of the cell's own tags (``torque_nm``, ``oil_temp_c``, ...;
  pooled by tag name across cells, missing where a cell has no such tag);
- the window's mean of every tag of assets that make no parts (an ambient station, a
  utility meter), named ``<asset>.<tag>`` (``station1.humidity_pct``);
- the product running on the cell (the latest ``order_start`` event), the shift, the cell.

KPIs: ``scrap_ratio`` (scrap / produced), ``oee`` and ``energy_per_part`` (the cell's mean
``power_kw`` times the window's hours, per part produced), each weighted for the ranking by
what stands behind it (parts produced; OEE rows weigh one each).

Tag means cover the whole window, stops included: for OEE, tags that only say whether the
machine runs (``power_kw``, speeds) explain it as a consequence, not a cause; leave them out
(``drop``) to see what lies behind the stops.

>>> periods = pd.DataFrame({"asset": ["a/p/l/m1"], "start_ms": [0], "end_ms": [3_600_000],
...                         "produced": [200], "good": [190], "scrap": [10]})
>>> kpi_columns(periods)["scrap_ratio"].tolist()
[0.05]
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from andon.errors import InvalidRequest
from andon.historian import DuckDBHistorian, Historian

__all__ = ["KPIS", "factor_table", "kpi_columns", "plant_assets"]

_logger = logging.getLogger(__name__)

KPIS: dict[str, str] = {
    "scrap_ratio": "scrap / produced per cell and window",
    "oee": "OEE per cell and window",
    "energy_per_part": "kWh per part: mean power_kw x hours / produced",
}
_PERIOD_COLUMNS = ("asset", "start_ms", "end_ms", "produced", "good", "scrap")
_POWER = "power_kw"


def kpi_columns(periods: pd.DataFrame) -> pd.DataFrame:
    """``periods`` with ``scrap_ratio`` (missing where nothing was produced)."""
    missing = [c for c in _PERIOD_COLUMNS if c not in periods.columns]
    if missing:
        raise InvalidRequest(f"KPI periods lack the columns {missing}")
    out = periods.copy()
    produced = out["produced"].astype(float)
    out["scrap_ratio"] = (out["scrap"] / produced).where(produced > 0)
    return out


def plant_assets(historian: Historian, cells: list[str], at_ms: int) -> list[str]:
    """Assets with tags that make no parts (ambient stations, meters): plant-wide factors."""
    tagged = sorted({t.asset for t in historian.tags()} - set(cells))
    return [a for a in tagged if not historian.count_totals(a, at_ms, at_ms + 1)]


def _means(historian: Historian, tag_id: int, lo: int, hi: int, every_ms: int) -> pd.Series:
    buckets = historian.aggregate(tag_id, lo, hi, every_ms)
    return pd.Series({b.ts_ms: b.avg for b in buckets}, dtype=float)


def _cell_tags(
    historian: Historian, frame: pd.DataFrame, lo: int, hi: int, every_ms: int
) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for tag in historian.tags():
        rows = frame["asset"] == tag.asset
        if not rows.any():
            continue
        means = _means(historian, tag.id, lo, hi, every_ms)
        values = frame.loc[rows, "_bucket"].map(means)
        columns.setdefault(tag.name, pd.Series(np.nan, index=frame.index, dtype=float))
        columns[tag.name].loc[rows] = values.to_numpy(float)
    return pd.DataFrame(columns, index=frame.index)


def _plant_tags(
    historian: Historian, assets: list[str], frame: pd.DataFrame, lo: int, hi: int, every_ms: int
) -> pd.DataFrame:
    columns = {}
    for tag in historian.tags():
        if tag.asset in assets:
            means = _means(historian, tag.id, lo, hi, every_ms)
            name = f"{tag.asset.rsplit('/', 1)[-1]}.{tag.name}"
            columns[name] = frame["_bucket"].map(means).astype(float)
    return pd.DataFrame(columns, index=frame.index)


def _order_starts(historian: Historian, hi: int) -> pd.DataFrame:
    # DuckDB keeps naive UTC TIMESTAMPs; other backends (TIMESTAMPTZ) take aware instants.
    naive = isinstance(historian, DuckDBHistorian)
    until = datetime.fromtimestamp(hi / 1000, UTC).replace(tzinfo=None if naive else UTC)
    rows = historian.sql(
        "SELECT asset, ts, data FROM events WHERE kind = 'order_start' AND ts < ? ORDER BY ts",
        [until],
    )
    out = []
    for asset, ts, data in rows:
        payload: Any = data if isinstance(data, dict) else orjson.loads(data or "{}")
        stamp = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
        product = payload.get("product") if isinstance(payload, dict) else None
        if product:
            out.append((str(asset), int(stamp.timestamp() * 1000), str(product)))
    return pd.DataFrame(out, columns=["asset", "ts_ms", "product"])


def _products(historian: Historian, frame: pd.DataFrame, hi: int) -> pd.Series:
    """The product that ran on each row's cell at the middle of its window."""
    starts = _order_starts(historian, hi)
    middle = (frame["start_ms"] + frame["end_ms"]) // 2
    product = pd.Series(None, index=frame.index, dtype=object)
    for asset, events in starts.groupby("asset"):
        rows = frame["asset"] == asset
        at = np.searchsorted(events["ts_ms"].to_numpy(), middle[rows].to_numpy(), side="right")
        names = np.concatenate([[None], events["product"].to_numpy(object)])
        product.loc[rows] = names[at]
    return product


def factor_table(historian: Historian, periods: pd.DataFrame, every_ms: int) -> pd.DataFrame:
    """One row per cell and window: KPIs, ``produced``, then every candidate factor.

    Each window is matched to the tag means of the ``every_ms`` bucket (counted from the
    epoch: whole UTC hours for hourly KPIs) it starts in.
    """
    frame = kpi_columns(periods).reset_index(drop=True)
    if frame.empty:
        raise InvalidRequest("no KPI periods: nothing was produced in the range")
    lo = int(frame["start_ms"].min()) // every_ms * every_ms
    hi = int(frame["end_ms"].max())
    frame["_bucket"] = frame["start_ms"] // every_ms * every_ms
    cells = sorted(frame["asset"].unique())
    tags = _cell_tags(historian, frame, lo, hi, every_ms)
    plant = _plant_tags(historian, plant_assets(historian, cells, hi), frame, lo, hi, every_ms)
    hours = (frame["end_ms"] - frame["start_ms"]) / 3_600_000
    if _POWER in tags:
        energy = tags[_POWER] * hours / frame["produced"].astype(float)
        frame["energy_per_part"] = energy.where(frame["produced"] > 0)
    frame["product"] = _products(historian, frame, hi)
    frame["cell"] = frame["asset"].str.rsplit("/", n=1).str[-1]
    out = pd.concat([frame.drop(columns=["_bucket"]), tags, plant], axis=1)
    _logger.debug("factor table: %d rows, %d columns", len(out), out.shape[1])
    return out
