"""The MES tables speak SQL common to DuckDB and PostgreSQL: one suite, every backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from andon.historian import AssetInfo, DuckDBHistorian, Historian, WriteBatch
from andon.mes import Calendar, audit, load_calendar, oee_for_asset, save_calendar, store
from andon.mes.downtime import annotate, list_annotations
from andon.mes.genealogy import Lot, create_lot, link, trace
from andon.mes.orders import create_order, get_order, move
from andon.mes.progress import import_order_events, order_progress
from andon.mes.reasons import ReasonTree, load_reasons, save_reasons
from andon.signals import CountUpdate, Event, StateChange

T0 = 1_767_225_600_000
MIN = 60_000
M1 = "acme/p1/mach/l1/m1"


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.integration)])
def db(request: pytest.FixtureRequest) -> Iterator[Historian]:
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_historian")
        return
    historian = DuckDBHistorian(":memory:")
    yield historian
    historian.close()


def _plant(db: Historian) -> None:
    batch = WriteBatch.empty()
    batch.states += [
        StateChange(M1, T0, 10000),
        StateChange(M1, T0 + 30 * MIN, 30000),
        StateChange(M1, T0 + 40 * MIN, 10000),
    ]
    batch.counts += [CountUpdate(M1, T0, 0, 0, 0), CountUpdate(M1, T0 + 59 * MIN, 300, 295, 5)]
    batch.events += [
        Event(M1, T0, "order_start", {"order": "L1-1", "product": "p", "quantity": 300}),
        Event(M1, T0 + 50 * MIN, "order_end", {"order": "L1-1"}),
    ]
    db.write(batch)
    db.upsert_assets([AssetInfo(M1, 10.0)])


def test_tables_are_created_once_and_read_back(db: Historian) -> None:
    assert store.ensure(db)
    assert store.ensure(db)
    save_calendar(
        db,
        Calendar.from_mapping(
            {"timezone": "Europe/Berlin", "shifts": [{"name": "day", "start": "07:00", "hours": 9}]}
        ),
        "eng",
    )
    assert load_calendar(db).timezone == "Europe/Berlin"
    save_reasons(db, ReasonTree.from_nested([{"code": "m", "children": [{"code": "x"}]}]), "eng")
    assert load_reasons(db).category("x") == "m"


def test_orders_annotations_lots_and_the_audit_chain(db: Historian) -> None:
    _plant(db)
    create_order(db, "WO-1", "p", 10, M1, actor="planner", status="released")
    move(db, "WO-1", "start", actor="op", ts_ms=T0 + 45 * MIN)
    move(db, "WO-1", "complete", actor="op", ts_ms=T0 + 59 * MIN)
    assert get_order(db, "WO-1").runs[0].end_ms == T0 + 59 * MIN
    annotate(db, M1, [(T0 + 30 * MIN, T0 + 40 * MIN, "spindle", None)], actor="op")
    assert len(list_annotations(db, [M1], T0, T0 + 60 * MIN)) == 1
    create_lot(db, Lot("C-1", "steel", 5.0, "kg"), actor="op")
    create_lot(db, Lot("P-1", "p", 1.0, kind="serial"), actor="op")
    link(db, "C-1", "P-1", 1.5, actor="op")
    assert [e.parent for e in trace(db, "P-1").edges] == ["C-1"]
    report = audit.verify(db)
    assert (report.ok, report.entries) == (True, 7)


def test_oee_and_imported_orders_on_every_backend(db: Historian) -> None:
    _plant(db)
    assert import_order_events(db, T0, T0 + 60 * MIN).orders_created == 1
    progress = order_progress(db, "L1-1", now_ms=T0 + 60 * MIN)
    assert progress.by_asset == {M1: (0, 0, 0)}  # the reading at 59 min is after the run
    r = oee_for_asset(db, M1, T0, T0 + 60 * MIN, calendar=Calendar())
    assert (r.apt_s, r.downtime_s, r.produced, r.good) == (3000.0, 600.0, 300, 295)
