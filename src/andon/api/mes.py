"""MES routes: KPIs per period, orders, products, shifts, reasons, downtime, trace, audit.

Every write is recorded with its caller (the API key, user or ``local`` principal) in the
hash-chained audit log, in the same transaction as the change. Plant set-up (products,
cycle times, shifts, reasons) needs the ``engineer`` role; operations need ``operator``.
Illegal moves (an order started twice, an overlapping annotation) answer 400 with
``{"error": {"type", "message"}}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from andon import mes
from andon.api.auth import PrincipalDep, requires
from andon.api.credentials import Role
from andon.api.deps import HistorianDep, WindowDep
from andon.api.production import PolicyDep
from andon.errors import InvalidRequest
from andon.mes import audit, corrections, downtime, genealogy, orders, products, progress, reasons
from andon.signals import parse_ts

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["mes"])

ENGINEER = [requires(Role.ENGINEER)]
JsonObject = dict[str, Any]


def _ts(value: int | str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise InvalidRequest(f"{name}: {exc}") from exc


# -- KPIs --------------------------------------------------------------------------------


class LossBarOut(BaseModel):
    loss: str
    group: str = Field(description="planned, no_data, availability, performance, quality, value")
    seconds: float | None


class OeeOut(BaseModel):
    """ISO 22400-2 elements (seconds, parts) and ratios; null where undefined."""

    asset: str
    start_ms: int
    end_ms: int
    pot_s: float
    planned_downtime_s: float
    no_data_s: float
    pbt_s: float
    apt_s: float
    downtime_s: float
    stops: int
    produced: int
    good: int
    scrap: int
    ideal_cycle_time_s: float | None
    ideal_time_s: float | None
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    time_by_state: dict[str, float]
    machines: int
    micro_stops: int
    micro_stop_s: float
    micro_stops_in_apt: bool
    breakdown_s: float
    setup_s: float
    failures: int
    ideal_good_s: float | None
    scrap_ratio: float | None
    teep: float | None
    mtbf_s: float | None
    mttr_s: float | None
    waterfall: list[LossBarOut]


class PeriodOut(OeeOut):
    label: str


class KpisOut(BaseModel):
    asset: str
    by: str | None
    total: OeeOut = Field(description="the whole range: the exact roll-up of the periods")
    periods: list[PeriodOut]


@router.get("/kpis")
def kpis(
    historian: HistorianDep,
    window: WindowDep,
    policy: PolicyDep,
    asset: Annotated[str, Query(description="a machine, or a line/area/site to roll up")],
    by: Annotated[
        Literal["shift", "hour", "day", "week"] | None,
        Query(description="one result per period of the plant calendar"),
    ] = None,
    ideal_cycle_time_s: Annotated[
        float | None, Query(gt=0, description="overrides every configured ideal cycle time")
    ] = None,
) -> KpisOut:
    """OEE, availability, performance, quality, TEEP, scrap ratio, MTBF, MTTR, the loss
    waterfall, per period when ``by`` is given (ISO 22400-2)."""
    if by is None:
        total = mes.oee_for_asset(
            historian,
            asset,
            window.start_ms,
            window.end_ms,
            ideal_cycle_time_s=ideal_cycle_time_s,
            policy=policy,
        )
        return KpisOut(
            asset=asset, by=None, total=OeeOut.model_validate(total.to_dict()), periods=[]
        )
    result = mes.oee_by(
        historian,
        asset,
        window.start_ms,
        window.end_ms,
        by,
        ideal_cycle_time_s=ideal_cycle_time_s,
        policy=policy,
    )
    return KpisOut(
        asset=asset,
        by=by,
        total=OeeOut.model_validate(result.total.to_dict()),
        periods=[PeriodOut.model_validate(p.to_dict()) for p in result.periods],
    )


# -- orders -------------------------------------------------------------------------------


class OrderIn(BaseModel):
    id: str
    product: str
    quantity: int = Field(gt=0)
    asset: str = Field(description="the cell or line the order runs on")
    planned_start: int | str | None = None
    planned_end: int | str | None = None
    release: bool = Field(default=False, description="create it released")


class MoveIn(BaseModel):
    ts: int | str | None = Field(default=None, description="when; default now")


class OrderOut(BaseModel):
    id: str
    product: str
    quantity: int
    asset: str
    status: str
    planned_start: int | None
    planned_end: int | None
    created: int
    actual_start: int | None
    closed: int | None
    runs: list[JsonObject]
    progress: JsonObject | None = None


def _order_out(order: mes.Order, detail: JsonObject | None = None) -> OrderOut:
    return OrderOut.model_validate({**order.to_dict(), "progress": detail})


@router.get("/orders")
def list_orders(
    historian: HistorianDep,
    status: Annotated[str | None, Query(description="only orders in this status")] = None,
    asset: Annotated[str | None, Query(description="only orders at or below this asset")] = None,
) -> list[OrderOut]:
    """The order book, newest first."""
    return [_order_out(o) for o in orders.list_orders(historian, status=status, asset=asset)]


@router.post("/orders", status_code=201)
def create_order(historian: HistorianDep, body: OrderIn, principal: PrincipalDep) -> OrderOut:
    """Create a work order (status ``created``, or ``released``)."""
    made = orders.create_order(
        historian,
        body.id,
        body.product,
        body.quantity,
        body.asset,
        actor=principal.subject,
        planned_start_ms=_ts(body.planned_start, "planned_start"),
        planned_end_ms=_ts(body.planned_end, "planned_end"),
        status="released" if body.release else "created",
    )
    return _order_out(made)


@router.get("/orders/{order_id}")
def get_order(historian: HistorianDep, order_id: str) -> OrderOut:
    """One order with its runs and its progress from the machine counts."""
    found = orders.get_order(historian, order_id)
    return _order_out(found, progress.order_progress(historian, found).to_dict())


@router.post("/orders/{order_id}/{action}")
def move_order(
    historian: HistorianDep,
    order_id: str,
    action: Literal["release", "start", "pause", "resume", "complete", "cancel"],
    principal: PrincipalDep,
    body: MoveIn | None = None,
) -> OrderOut:
    """Move an order through its state machine; an illegal move answers 400."""
    at = None if body is None else _ts(body.ts, "ts")
    return _order_out(orders.move(historian, order_id, action, actor=principal.subject, ts_ms=at))


@router.post("/orders/import")
def import_orders(
    historian: HistorianDep, window: WindowDep, principal: PrincipalDep
) -> JsonObject:
    """Create orders and runs from the machines' ``order_start``/``order_end`` events."""
    report = progress.import_order_events(
        historian, window.start_ms, window.end_ms, actor=principal.subject
    )
    return report.to_dict()


# -- products ------------------------------------------------------------------------------


class ProductModel(BaseModel):
    id: str
    name: str
    unit: str = "pcs"
    bom: list[JsonObject] = Field(default=[], description="[{product, quantity}]")
    routing: list[JsonObject] = Field(
        default=[], description="[{step, operation, work_centre, standard_time_s}]"
    )


class CycleTimeModel(BaseModel):
    asset: str
    product: str
    ideal_cycle_time_s: float = Field(gt=0)


@router.get("/products")
def list_products(historian: HistorianDep) -> list[ProductModel]:
    """Products with their bills of materials and routings."""
    return [ProductModel.model_validate(p.to_dict()) for p in products.products(historian)]


@router.put("/products/{product_id}", dependencies=ENGINEER)
def put_product(
    historian: HistorianDep, product_id: str, body: ProductModel, principal: PrincipalDep
) -> ProductModel:
    """Create or replace a product."""
    if body.id != product_id:
        raise InvalidRequest("the body's id differs from the path's")
    saved = products.save_product(
        historian, mes.Product.from_mapping(body.model_dump()), actor=principal.subject
    )
    return ProductModel.model_validate(saved.to_dict())


@router.get("/products/{product_id}")
def get_product(historian: HistorianDep, product_id: str) -> ProductModel:
    return ProductModel.model_validate(products.get_product(historian, product_id).to_dict())


@router.get("/cycle-times")
def list_cycle_times(historian: HistorianDep) -> list[CycleTimeModel]:
    """Ideal cycle times per asset and product."""
    table = products.cycle_times(historian)
    return [
        CycleTimeModel(asset=a, product=p, ideal_cycle_time_s=s)
        for (a, p), s in sorted(table.items())
    ]


@router.put("/cycle-times", dependencies=ENGINEER)
def put_cycle_time(
    historian: HistorianDep, body: CycleTimeModel, principal: PrincipalDep
) -> CycleTimeModel:
    products.set_cycle_time(
        historian, body.asset, body.product, body.ideal_cycle_time_s, actor=principal.subject
    )
    return body


# -- shifts and reasons -------------------------------------------------------------------


class CalendarModel(BaseModel):
    timezone: str = "UTC"
    shifts: list[JsonObject] = Field(
        default=[],
        description="[{name, start 'HH:MM', hours, breaks: [{start, minutes}], weekdays}]",
    )
    holidays: list[str] = Field(default=[], description="YYYY-MM-DD")


@router.get("/shifts")
def get_shifts(historian: HistorianDep) -> CalendarModel:
    """The plant calendar: time zone, shift patterns with breaks, holidays."""
    return CalendarModel.model_validate(mes.load_calendar(historian).to_mapping())


@router.put("/shifts", dependencies=ENGINEER)
def put_shifts(
    historian: HistorianDep, body: CalendarModel, principal: PrincipalDep
) -> CalendarModel:
    """Replace the plant calendar."""
    calendar = mes.Calendar.from_mapping(body.model_dump())
    return CalendarModel.model_validate(
        mes.save_calendar(historian, calendar, principal.subject).to_mapping()
    )


@router.get("/shifts/windows")
def shift_windows(
    historian: HistorianDep,
    window: WindowDep,
    by: Literal["shift", "hour", "day", "week"] = "shift",
) -> list[JsonObject]:
    """The calendar's periods in the range (local time, DST-aware)."""
    calendar = mes.load_calendar(historian)
    return [
        {
            "label": w.label,
            "from": w.start_ms,
            "to": w.end_ms,
            "breaks": [list(b) for b in w.breaks],
        }
        for w in calendar.windows(by, window.start_ms, window.end_ms)
    ]


@router.get("/reasons")
def get_reasons(historian: HistorianDep) -> list[JsonObject]:
    """The two-level downtime reason tree."""
    return reasons.load_reasons(historian).nested()


@router.put("/reasons", dependencies=ENGINEER)
def put_reasons(
    historian: HistorianDep, body: list[JsonObject], principal: PrincipalDep
) -> list[JsonObject]:
    """Replace the reason tree (categories with ``children``)."""
    tree = reasons.ReasonTree.from_nested(body)
    return reasons.save_reasons(historian, tree, principal.subject).nested()


# -- downtime -------------------------------------------------------------------------------


class DowntimeOut(BaseModel):
    asset: str
    start: int = Field(serialization_alias="from")
    end: int = Field(serialization_alias="to")
    events: list[JsonObject]
    pareto: list[JsonObject]
    events_total: int = Field(
        default=0, description="stops in the window (events may hold fewer, see limit)"
    )


class Piece(BaseModel):
    start: int | str = Field(alias="from")
    end: int | str = Field(alias="to")
    reason: str
    note: str | None = None


class AnnotationIn(BaseModel):
    asset: str
    pieces: list[Piece] = Field(min_length=1, description="one reason, or several to split")


class ScrapIn(BaseModel):
    asset: str
    ts: int | str
    quantity: int = Field(gt=0)
    reason: str | None = None


@router.get("/downtime")
def get_downtime(
    historian: HistorianDep,
    window: WindowDep,
    policy: PolicyDep,
    asset: Annotated[str, Query(description="a machine, or a line/area to list all its stops")],
    micro: Annotated[bool, Query(description="include micro-stops")] = True,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=100_000,
            description="keep only the newest this many stops, overall and of each reason: "
            "enough for a page's table and its drill-down by reason in one request (a week of "
            "a line is thousands of micro-stops); the Pareto always counts every stop",
        ),
    ] = None,
) -> DowntimeOut:
    """Stops with their reasons (machine or operator) and the reason Pareto."""
    events: list[mes.DowntimeEvent] = []
    for cell in mes.cells_of(historian.assets(), asset):
        events += downtime.stops(
            historian, cell.path, window.start_ms, window.end_ms, micro=micro, policy=policy
        )
    events.sort(key=lambda e: (e.start_ms, e.asset))
    shown = events if limit is None else _newest(events, limit)
    return DowntimeOut(
        asset=asset,
        start=window.start_ms,
        end=window.end_ms,
        events=[e.to_dict() for e in shown],
        pareto=[row.to_dict() for row in downtime.pareto(events)],
        events_total=len(events),
    )


def _newest(events: list[mes.DowntimeEvent], limit: int) -> list[mes.DowntimeEvent]:
    """The newest ``limit`` events and the newest ``limit`` of each reason, in time order."""
    kept: set[int] = set()
    taken: dict[str, int] = {}
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        wanted = len(events) - i <= limit
        for reason in event.by_reason:
            if taken.get(reason, 0) < limit:
                taken[reason] = taken.get(reason, 0) + 1
                wanted = True
        if wanted:
            kept.add(i)
    return [events[i] for i in sorted(kept)]


@router.get("/downtime/annotations")
def get_annotations(historian: HistorianDep, window: WindowDep, asset: str) -> list[JsonObject]:
    cells = [c.path for c in mes.cells_of(historian.assets(), asset)]
    found = downtime.list_annotations(historian, cells, window.start_ms, window.end_ms)
    return [a.to_dict() for a in found]


@router.post("/downtime/annotations", status_code=201)
def post_annotations(
    historian: HistorianDep, body: AnnotationIn, principal: PrincipalDep, policy: PolicyDep
) -> list[JsonObject]:
    """Give a stop a reason, or split it into several; overlaps answer 400."""
    pieces = [
        (_ts(p.start, "from") or 0, _ts(p.end, "to") or 0, p.reason, p.note) for p in body.pieces
    ]
    made = downtime.annotate(historian, body.asset, pieces, actor=principal.subject, policy=policy)
    return [a.to_dict() for a in made]


@router.delete("/downtime/annotations/{annotation_id}")
def delete_annotation(
    historian: HistorianDep, annotation_id: int, principal: PrincipalDep
) -> JsonObject:
    return downtime.delete_annotation(historian, annotation_id, actor=principal.subject).to_dict()


@router.post("/scrap", status_code=201)
def post_scrap(historian: HistorianDep, body: ScrapIn, principal: PrincipalDep) -> JsonObject:
    """A late scrap correction: parts found bad after the machine counted them good."""
    at = _ts(body.ts, "ts")
    assert at is not None  # ts is required
    made = corrections.record_scrap(
        historian, body.asset, at, body.quantity, reason=body.reason, actor=principal.subject
    )
    return made.to_dict()


# -- genealogy --------------------------------------------------------------------------------


class LotModel(BaseModel):
    id: str
    product: str
    quantity: float = Field(gt=0)
    unit: str = "pcs"
    kind: Literal["material", "produced", "serial"] = "material"
    order: str | None = None


class LinkIn(BaseModel):
    parent: str = Field(description="the lot consumed")
    child: str = Field(description="the lot produced from it")
    quantity: float = Field(gt=0)
    order: str | None = None


@router.post("/lots", status_code=201)
def post_lot(historian: HistorianDep, body: LotModel, principal: PrincipalDep) -> JsonObject:
    lot = mes.Lot(body.id, body.product, body.quantity, body.unit, body.kind, body.order)
    return genealogy.create_lot(historian, lot, actor=principal.subject).to_dict()


@router.post("/lots/links", status_code=201)
def post_link(historian: HistorianDep, body: LinkIn, principal: PrincipalDep) -> JsonObject:
    """Record that a quantity of one lot went into another."""
    made = genealogy.link(
        historian, body.parent, body.child, body.quantity, actor=principal.subject, order=body.order
    )
    return made.to_dict()


@router.get("/trace/{lot}")
def trace(
    historian: HistorianDep,
    lot: str,
    direction: Literal["backward", "forward", "both"] = "both",
) -> JsonObject:
    """The genealogy graph of a lot: what it is made of, where it went."""
    return genealogy.trace(historian, lot, direction).to_dict()


# -- audit ------------------------------------------------------------------------------------


@router.get("/audit")
def get_audit(
    historian: HistorianDep,
    entity: str | None = None,
    key: str | None = None,
    after: Annotated[int, Query(ge=0, description="entries after this sequence number")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[JsonObject]:
    """Audit entries in order: who changed what, when, before and after."""
    found = audit.entries(historian, entity=entity, key=key, after_seq=after, limit=limit)
    return [e.to_dict() for e in found]


@router.get("/audit/verify")
def verify_audit(
    historian: HistorianDep,
    expect_head: Annotated[str | None, Query(description="a head hash noted earlier")] = None,
) -> JsonObject:
    """Walk the hash chain; name the first entry that was changed, removed or reordered."""
    return audit.verify(historian, expect_head=expect_head).to_dict()
