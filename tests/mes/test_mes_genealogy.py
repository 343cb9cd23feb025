"""Genealogy: lots, links, forward and backward traces, cycles and over-consumption refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from andon.errors import InvalidRequest, NotFound
from andon.historian import DuckDBHistorian
from andon.mes.genealogy import Lot, create_lot, get_lot, link, trace


@pytest.fixture
def db() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    for ident, kind, qty in [
        ("COIL-1", "material", 1000.0),
        ("COIL-2", "material", 1000.0),
        ("PAINT-9", "material", 50.0),
        ("P-1", "produced", 200.0),
        ("P-2", "produced", 200.0),
        ("SN-1", "serial", 1.0),
        ("BOX-1", "produced", 1.0),
    ]:
        create_lot(h, Lot(ident, "x", qty, "kg" if kind == "material" else "pcs", kind), actor="op")
    for parent, child, qty in [
        ("COIL-1", "P-1", 400.0),
        ("COIL-2", "P-2", 400.0),
        ("PAINT-9", "P-1", 5.0),
        ("P-1", "SN-1", 1.0),
        ("P-2", "BOX-1", 10.0),
        ("SN-1", "BOX-1", 1.0),
    ]:
        link(h, parent, child, qty, actor="op", order="WO-7")
    yield h
    h.close()


def test_backward_trace_finds_every_source(db: DuckDBHistorian) -> None:
    graph = trace(db, "BOX-1", "backward")
    assert sorted(n.id for n in graph.nodes) == [
        "BOX-1",
        "COIL-1",
        "COIL-2",
        "P-1",
        "P-2",
        "PAINT-9",
        "SN-1",
    ]
    assert len(graph.edges) == 6


def test_forward_trace_is_the_recall_list(db: DuckDBHistorian) -> None:
    graph = trace(db, "COIL-1", "forward")
    assert [(e.parent, e.child) for e in graph.edges] == [
        ("COIL-1", "P-1"),
        ("P-1", "SN-1"),
        ("SN-1", "BOX-1"),
    ]
    both = trace(db, "SN-1")
    assert {e.child for e in both.edges} == {"P-1", "SN-1", "BOX-1"}


def test_links_never_make_a_cycle_nor_use_more_than_a_lot_holds(db: DuckDBHistorian) -> None:
    with pytest.raises(InvalidRequest, match="cycle"):
        link(db, "BOX-1", "COIL-1", 1.0, actor="op")
    with pytest.raises(InvalidRequest, match="has 600 kg left"):
        link(db, "COIL-1", "P-2", 601.0, actor="op")
    link(db, "COIL-1", "P-1", 1000.0, actor="op")  # re-linking replaces the quantity
    with pytest.raises(NotFound):
        link(db, "COIL-404", "P-1", 1.0, actor="op")


def test_lots_are_validated(db: DuckDBHistorian) -> None:
    for bad in (
        Lot("SN-2", "x", 2.0, kind="serial"),
        Lot("A", "x", 0.0),
        Lot("A", "x", 1.0, kind="gas"),
        Lot("COIL-1", "x", 1.0),
    ):
        with pytest.raises(InvalidRequest):
            create_lot(db, bad, actor="op")
    assert get_lot(db, "SN-1").kind == "serial"
    with pytest.raises(NotFound):
        trace(db, "NOPE")
