"""Quality records on DuckDB and PostgreSQL: idempotent inspections, Pareto, ISO 22400 ratios."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from andon.errors import InvalidRequest
from andon.historian import DuckDBHistorian, PostgresHistorian
from andon.mes import audit, quality
from andon.mes.quality import Inspection, QualityFilter

T0 = 1_763_712_000_000
LINE = "acme/p1/mach/l1"


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.integration)])
def historian(request: pytest.FixtureRequest) -> Iterator[DuckDBHistorian | PostgresHistorian]:
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_historian")
        return
    h = DuckDBHistorian(":memory:")
    yield h
    h.close()


def _lot_42() -> list[Inspection]:
    first = Inspection(
        "lot42/final/1",
        T0,
        inspected=100,
        good=90,
        rework=7,
        scrap=3,
        lot="lot42",
        order="wo-1",
        asset=f"{LINE}/m1",
        product="bracket",
        defects={"scratch": 6, "dent": 3, "burr": 2},
        measurements={"width_mm": [10.01, 9.98, 10.02]},
    )
    again = Inspection(
        "lot42/rework/1",
        T0 + 3_600_000,
        inspected=7,
        good=6,
        scrap=1,
        lot="lot42",
        order="wo-1",
        asset=f"{LINE}/m1",
        product="bracket",
        first_pass=False,
        defects={"scratch": 1},
        measurements={"width_mm": [10.00]},
    )
    return [first, again]


def test_iso_22400_ratios_of_a_lot_with_rework(historian: DuckDBHistorian) -> None:
    for inspection in _lot_42():
        quality.record_inspection(historian, inspection, actor="test")
    summary = quality.quality_summary(historian, QualityFilter(lot="lot42"))
    assert summary.produced == 100  # first-pass inspected
    assert summary.good == 96  # 90 first pass + 6 after rework
    assert summary.scrap == 4
    assert summary.rework == 7
    assert summary.first_pass_yield == pytest.approx(0.90)
    assert summary.quality_ratio == pytest.approx(0.96)
    assert summary.scrap_ratio == pytest.approx(0.04)
    assert summary.rework_ratio == pytest.approx(0.07)


def test_recording_the_same_inspection_twice_counts_once(historian: DuckDBHistorian) -> None:
    first, _ = _lot_42()
    assert not quality.record_inspection(historian, first, actor="test")
    assert quality.record_inspection(historian, first, actor="key:42")
    corrected = Inspection(
        first.id, T0, inspected=100, good=95, scrap=5, lot="lot42", defects={"dent": 5}
    )
    quality.record_inspection(historian, corrected, actor="test")
    listed = quality.inspections(historian)
    assert [(i.id, i.good, i.defects) for i in listed] == [(first.id, 95, {"dent": 5})]
    assert [r.defect for r in quality.defect_pareto(historian)] == ["dent"]
    _, values = quality.measurements(historian, "width_mm")
    assert values == []  # the correction carried no measurements
    trail = audit.entries(historian, entity="inspection", key=first.id)
    assert [(e.action, e.actor) for e in trail] == [
        ("record", "test"),
        ("replace", "key:42"),
        ("replace", "test"),
    ]
    assert trail[-1].before["good"] == 90
    assert trail[-1].after["good"] == 95
    assert audit.verify(historian).ok


def test_pareto_filters_and_measurements(historian: DuckDBHistorian) -> None:
    for inspection in _lot_42():
        quality.record_inspection(historian, inspection, actor="test")
    quality.record_inspection(
        historian,
        Inspection(
            "lot43/final/1",
            T0 + 7_200_000,
            inspected=50,
            good=49,
            scrap=1,
            lot="lot43",
            asset=f"{LINE}/m2",
            defects={"dent": 1},
        ),
        actor="test",
    )
    rows = quality.defect_pareto(historian)
    assert [(r.defect, r.count) for r in rows] == [("scratch", 7), ("dent", 4), ("burr", 2)]
    assert rows[-1].cumulative == pytest.approx(1.0)
    by_machine = quality.defect_pareto(historian, QualityFilter(asset=f"{LINE}/m2"))
    assert [(r.defect, r.count) for r in by_machine] == [("dent", 1)]
    line = quality.quality_summary(historian, QualityFilter(asset=LINE))
    assert line.produced == 150
    window = QualityFilter(start_ms=T0 + 1, end_ms=T0 + 7_200_000)
    assert [i.id for i in quality.inspections(historian, window)] == ["lot42/rework/1"]
    ts, values = quality.measurements(historian, "width_mm", QualityFilter(order="wo-1"))
    assert values == [10.01, 9.98, 10.02, 10.0]
    assert ts == [T0, T0, T0, T0 + 3_600_000]


def test_an_empty_store_has_no_ratios(historian: DuckDBHistorian) -> None:
    summary = quality.quality_summary(historian)
    assert summary.first_pass_yield is None
    assert summary.quality_ratio is None
    assert quality.defect_pareto(historian) == []
    assert quality.inspections(historian) == []


def test_inconsistent_quantities_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="must equal inspected"):
        Inspection("x", T0, inspected=10, good=9, scrap=2)
    with pytest.raises(InvalidRequest, match="negative"):
        Inspection("x", T0, inspected=10, good=10, defects={"dent": -1})


def test_pareto_of_the_steel_plates_faults(shared_datasets: Path) -> None:
    """1941 inspected plates (UCI Steel Plates Faults), one fault each, recorded per steel
    type and thickness lot; the Pareto must give the published class counts."""
    data = np.loadtxt(shared_datasets / "steel_plates_faults" / "Faults.NNA")
    names = (shared_datasets / "steel_plates_faults" / "Faults27x7_var").read_text().split()
    faults = names[27:]
    labels = data[:, 27:].argmax(axis=1)
    lots = data[:, 13].astype(int)  # Steel_Plate_Thickness as the lot
    historian = DuckDBHistorian(":memory:")
    for k, lot in enumerate(sorted(set(lots.tolist()))):
        in_lot = labels[lots == lot]
        counts = {faults[c]: int((in_lot == c).sum()) for c in set(in_lot.tolist())}
        quality.record_inspection(
            historian,
            Inspection(
                f"thickness-{lot}",
                T0 + k,
                inspected=int(in_lot.size),
                good=0,
                scrap=int(in_lot.size),
                lot=str(lot),
                defects=counts,
            ),
            actor="test",
        )
    rows = quality.defect_pareto(historian)
    published = {
        "Other_Faults": 673,
        "Bumps": 402,
        "K_Scatch": 391,
        "Z_Scratch": 190,
        "Pastry": 158,
        "Stains": 72,
        "Dirtiness": 55,
    }
    assert [(r.defect, r.count) for r in rows] == list(published.items())
    assert rows[0].share == pytest.approx(673 / 1941)
    assert quality.quality_summary(historian).scrap_ratio == pytest.approx(1.0)
    historian.close()
