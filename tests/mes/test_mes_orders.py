"""Work orders: the state machine, one order per asset, progress from counts, imported events."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from andon.errors import InvalidRequest, NotFound
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.mes import audit
from andon.mes.orders import MOVES, STATUSES, create_order, get_order, list_orders, move
from andon.mes.progress import import_order_events, order_progress
from andon.signals import CountUpdate, Event, StateChange

LINE = "acme/p1/mach/l1"
M1, M2 = f"{LINE}/m1", f"{LINE}/m2"
T0 = 1_767_225_600_000


@pytest.fixture
def db() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    h.upsert_assets([AssetInfo(M1, 10.0), AssetInfo(M2, 10.0)])
    yield h
    h.close()


def _in_status(db: DuckDBHistorian, status: str, ident: str = "WO-1", asset: str = M1) -> None:
    """Bring a new order to ``status`` by legal moves."""
    create_order(db, ident, "bracket", 100, asset, actor="planner")
    path = {
        "created": [],
        "released": ["release"],
        "running": ["release", "start"],
        "paused": ["release", "start", "pause"],
        "completed": ["release", "start", "complete"],
        "cancelled": ["cancel"],
    }[status]
    for i, action in enumerate(path):
        move(db, ident, action, actor="op", ts_ms=T0 + i)


@pytest.fixture(scope="module")
def book() -> Iterator[DuckDBHistorian]:
    """One order book for the whole state table: each case uses its own order."""
    h = DuckDBHistorian(":memory:")
    yield h
    h.close()


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", sorted(MOVES))
def test_the_state_machine_allows_exactly_its_moves(
    book: DuckDBHistorian, status: str, action: str
) -> None:
    ident = f"{status}-{action}"
    _in_status(book, status, ident, f"{LINE}/{ident}")
    allowed, target = MOVES[action]
    if status in allowed:
        assert move(book, ident, action, actor="op", ts_ms=T0 + 100).status == target
    else:
        with pytest.raises(InvalidRequest, match=f"is {status}: cannot {action}"):
            move(book, ident, action, actor="op", ts_ms=T0 + 100)
        assert get_order(book, ident).status == status


def test_one_asset_never_runs_two_orders(db: DuckDBHistorian) -> None:
    _in_status(db, "running")
    create_order(db, "WO-2", "bracket", 5, LINE, actor="planner", status="released")
    with pytest.raises(InvalidRequest, match="already runs order WO-1"):
        move(db, "WO-2", "start", actor="op", ts_ms=T0 + 50)
    create_order(db, "WO-3", "bracket", 5, M2, actor="planner", status="released")
    assert move(db, "WO-3", "start", actor="op", ts_ms=T0 + 50).status == "running"
    move(db, "WO-1", "complete", actor="op", ts_ms=T0 + 60)
    move(db, "WO-3", "complete", actor="op", ts_ms=T0 + 60)
    assert move(db, "WO-2", "start", actor="op", ts_ms=T0 + 70).status == "running"


def test_moves_cannot_go_back_in_time_and_orders_are_validated(db: DuckDBHistorian) -> None:
    _in_status(db, "running")
    with pytest.raises(InvalidRequest, match="before its last move"):
        move(db, "WO-1", "pause", actor="op", ts_ms=T0 - 5)
    with pytest.raises(InvalidRequest, match="exists already"):
        create_order(db, "WO-1", "x", 1, M1, actor="p")
    for bad in ({"quantity": 0}, {"asset": "Not A Path"}, {"ident": "a/b"}):
        args = {"ident": "WO-9", "quantity": 1, "asset": M1} | bad
        with pytest.raises(InvalidRequest):
            create_order(
                db,
                str(args["ident"]),
                "x",
                int(str(args["quantity"])),
                str(args["asset"]),
                actor="p",
            )
    with pytest.raises(NotFound):
        move(db, "WO-404", "start", actor="op")
    with pytest.raises(InvalidRequest, match="unknown action"):
        move(db, "WO-1", "explode", actor="op")


def test_every_move_is_audited_with_before_and_after(db: DuckDBHistorian) -> None:
    _in_status(db, "paused")
    entries = audit.entries(db, entity="order", key="WO-1")
    assert [e.action for e in entries] == ["create", "release", "start", "pause"]
    assert (entries[-1].before["status"], entries[-1].after["status"]) == ("running", "paused")
    assert entries[-1].actor == "op"
    assert audit.verify(db).ok


def _counts(db: DuckDBHistorian, rows: list[tuple[str, int, int, int]]) -> None:
    batch = WriteBatch.empty()
    batch.counts += [CountUpdate(a, T0 + s * 1000, t, t - b, b) for a, s, t, b in rows]
    db.write(batch)


def test_progress_counts_the_parts_made_during_the_runs(db: DuckDBHistorian) -> None:
    _counts(
        db,
        [
            (M1, 0, 1000, 10),
            (M1, 100, 1050, 12),
            (M1, 200, 1100, 12),
            (M1, 300, 1200, 15),
            (M1, 400, 1300, 20),
        ],
    )
    create_order(db, "WO-1", "bracket", 250, M1, actor="p", status="released")
    move(db, "WO-1", "start", actor="op", ts_ms=T0 + 50_000)
    move(db, "WO-1", "pause", actor="op", ts_ms=T0 + 150_000)  # 50 parts, 2 scrap
    move(db, "WO-1", "resume", actor="op", ts_ms=T0 + 250_000)  # the pause made 50 too
    p = order_progress(db, "WO-1", now_ms=T0 + 350_000)  # 100 more, 3 scrap
    assert (p.produced, p.good, p.scrap, p.remaining) == (150, 145, 5, 105)
    assert (p.output_asset, p.runtime_s, p.percent) == (M1, 200.0, 58.0)
    assert list_orders(db, status="running")[0].id == "WO-1"


def _events(db: DuckDBHistorian, rows: list[tuple[str, int, str, str]]) -> None:
    batch = WriteBatch.empty()
    batch.events += [
        Event(a, T0 + s * 1000, kind, {"order": o, "product": "panel", "quantity": 100})
        for a, s, kind, o in rows
    ]
    batch.states += [StateChange(M1, T0, 10000)]
    db.write(batch)


def test_orders_are_imported_from_machine_events_once(db: DuckDBHistorian) -> None:
    _events(
        db,
        [
            (M1, 0, "order_start", "L1-001"),
            (M2, 30, "order_start", "L1-001"),
            (M1, 600, "order_end", "L1-001"),
            (M1, 600, "order_start", "L1-002"),
            (M2, 640, "order_end", "L1-001"),
            (M2, 640, "order_start", "L1-002"),
        ],
    )
    _counts(
        db, [(M1, 0, 0, 0), (M1, 599, 60, 1), (M2, 30, 0, 0), (M2, 639, 58, 0), (M2, 700, 65, 0)]
    )
    report = import_order_events(db, T0, T0 + 3_600_000)
    assert report.to_dict() == {
        "events": 6,
        "orders_created": 2,
        "runs_opened": 4,
        "runs_closed": 2,
    }
    again = import_order_events(db, T0, T0 + 3_600_000)
    assert (again.orders_created, again.runs_opened, again.runs_closed) == (0, 0, 0)
    first, second = get_order(db, "L1-001"), get_order(db, "L1-002")
    assert (first.status, first.asset, first.closed_ms) == ("completed", LINE, T0 + 640_000)
    assert [(r.asset, r.start_ms, r.end_ms) for r in first.runs] == [
        (M1, T0, T0 + 600_000),
        (M2, T0 + 30_000, T0 + 640_000),
    ]
    assert second.status == "running"
    progress = order_progress(db, first)
    assert progress.by_asset == {M1: (60, 59, 1), M2: (58, 58, 0)}
    assert (progress.output_asset, progress.good) == (M2, 58)  # the downstream cell


def test_imported_event_payloads_may_be_json_text(db: DuckDBHistorian) -> None:
    db.sql(
        "INSERT INTO events VALUES (?, make_timestamp_ms(?), ?, ?)",
        [M1, T0, "order_start", orjson.dumps({"order": "X-1", "quantity": 3}).decode()],
    )
    assert import_order_events(db, T0, T0 + 1).orders_created == 1
    assert get_order(db, "X-1").product == "unknown"
