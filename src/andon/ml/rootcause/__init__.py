"""Root cause: which factors (process tags, ambient conditions, shift, product) explain a KPI.

A gradient-boosted model with held-out permutation importance on time-blocked folds ranks
the factors against shuffled-noise controls; partial dependence gives each factor's
direction; a Shapley R² decomposition of a linear fit gives a second view of its share.
``factor_table`` builds the table of a plant from its historian and the MES's KPI periods;
``RootCauseTask`` is the ``rootcause`` task of ``andon ml train``.
"""

from __future__ import annotations

from andon.ml.rootcause.decomposition import shapley_r2
from andon.ml.rootcause.explain import explain_table, factor_columns
from andon.ml.rootcause.folds import time_blocks
from andon.ml.rootcause.plant import KPIS, factor_table, kpi_columns
from andon.ml.rootcause.ranking import Factor, Ranking, RankOptions, rank_factors

__all__ = [
    "KPIS",
    "Factor",
    "RankOptions",
    "Ranking",
    "explain_table",
    "factor_columns",
    "factor_table",
    "kpi_columns",
    "rank_factors",
    "shapley_r2",
    "time_blocks",
]
