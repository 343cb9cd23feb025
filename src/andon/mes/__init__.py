"""Manufacturing execution: OEE after ISO 22400-2, downtime, shifts, orders, genealogy, audit.

Call sites use the namespaces: ``mes.oee_for_asset(...)``, ``mes.orders.move(...)``,
``mes.audit.verify(...)``.

>>> from andon import mes
>>> mes.OeePolicy().classify(180000)
'downtime'
"""

from __future__ import annotations

from andon.mes import (
    audit,
    corrections,
    downtime,
    genealogy,
    hourly,
    orders,
    products,
    progress,
    reasons,
)
from andon.mes.audit import AuditEntry, AuditReport
from andon.mes.calendar import Calendar, Shift, Window, load_calendar, save_calendar
from andon.mes.downtime import Annotation, DowntimeEvent, ParetoRow
from andon.mes.genealogy import Link, Lot, Trace
from andon.mes.kpis import Breakdown, Period, cells_of, oee_by, oee_for_asset
from andon.mes.live import LiveOee
from andon.mes.losses import LossBar
from andon.mes.oee import OeeResult, compute_oee, rollup
from andon.mes.orders import Order, Run
from andon.mes.policy import policy_from_settings
from andon.mes.production import count_deltas
from andon.mes.products import Product
from andon.mes.progress import ImportReport, Progress
from andon.mes.reasons import Reason, ReasonTree
from andon.mes.states import OeePolicy, StateClass

__all__ = [
    "Annotation",
    "AuditEntry",
    "AuditReport",
    "Breakdown",
    "Calendar",
    "DowntimeEvent",
    "ImportReport",
    "Link",
    "LiveOee",
    "LossBar",
    "Lot",
    "OeePolicy",
    "OeeResult",
    "Order",
    "ParetoRow",
    "Period",
    "Product",
    "Progress",
    "Reason",
    "ReasonTree",
    "Run",
    "Shift",
    "StateClass",
    "Trace",
    "Window",
    "audit",
    "cells_of",
    "compute_oee",
    "corrections",
    "count_deltas",
    "downtime",
    "genealogy",
    "hourly",
    "load_calendar",
    "oee_by",
    "oee_for_asset",
    "orders",
    "policy_from_settings",
    "products",
    "progress",
    "reasons",
    "rollup",
    "save_calendar",
]
