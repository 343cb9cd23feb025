"""Explaining a plant KPI: from a factor table to a ranking of its candidate causes.

:func:`explain_table` picks the factors of a factor table (:mod:`andon.ml.rootcause.plant`):
every column but the KPIs, the quantities they are made of and the window bounds; for
``energy_per_part`` also the power and energy tags it is computed from. Rows are weighted by
the parts behind the KPI and held out by time.

>>> table = pd.DataFrame({
...     "asset": "a/p/l/m1", "start_ms": np.arange(60) * 3_600_000,
...     "end_ms": np.arange(1, 61) * 3_600_000, "produced": 100, "good": 95, "scrap": 5,
...     "scrap_ratio": 0.05, "oee": 0.8, "power_kw": 3.0, "humidity_pct": np.arange(60.0)})
>>> factor_columns(table, "energy_per_part")
['humidity_pct']
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from andon.errors import InvalidRequest
from andon.ml.rootcause.plant import KPIS
from andon.ml.rootcause.ranking import Ranking, RankOptions, rank_factors
from andon.ml.tables import require_columns

__all__ = ["explain_table", "factor_columns"]

_NOT_FACTORS = {"asset", "start_ms", "end_ms", "produced", "good", "scrap", *KPIS}
_INGREDIENTS = {"energy_per_part": ("power_kw", "energy_kwh")}
_WEIGHTED = {"scrap_ratio", "energy_per_part"}


def factor_columns(table: pd.DataFrame, kpi: str) -> list[str]:
    """The candidate factors of ``kpi`` among ``table``'s columns."""
    leaks = set(_INGREDIENTS.get(kpi, ()))
    return [
        str(c)
        for c in table.columns
        if c not in _NOT_FACTORS and c != kpi and not any(str(c).endswith(s) for s in leaks)
    ]


def explain_table(table: pd.DataFrame, kpi: str, options: RankOptions | None = None) -> Ranking:
    """Rank the factors of a plant factor table by how much they explain ``kpi``."""
    if kpi not in KPIS:
        raise InvalidRequest(f"unknown KPI {kpi!r}; known: {', '.join(KPIS)}")
    require_columns(table, [kpi, "start_ms"], "--kpi")
    rows = table[table[kpi].notna() & np.isfinite(table[kpi].astype(float))]
    if kpi in _WEIGHTED:
        rows = rows[rows["produced"] > 0]
    if rows.empty:
        raise InvalidRequest(f"no window has a value of {kpi}")
    weight = rows["produced"].to_numpy(float) if kpi in _WEIGHTED else None
    return rank_factors(
        rows[factor_columns(rows, kpi)],
        rows[kpi].to_numpy(float),
        rows["start_ms"].to_numpy(),
        options,
        weight,
    )
