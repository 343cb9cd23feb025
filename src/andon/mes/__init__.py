"""Manufacturing execution: OEE after ISO 22400-2 from state timelines and count totals.

>>> from andon import mes
>>> mes.OeePolicy().classify(180000)
'downtime'
"""

from __future__ import annotations

from andon.mes.oee import OeeResult, compute_oee, oee_for_asset, rollup
from andon.mes.production import count_deltas
from andon.mes.states import OeePolicy, StateClass

__all__ = [
    "OeePolicy",
    "OeeResult",
    "StateClass",
    "compute_oee",
    "count_deltas",
    "oee_for_asset",
    "rollup",
]
