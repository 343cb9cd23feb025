"""Downtime: reason tree, annotations laid over stops (split, overlap refused), Pareto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from andon.errors import InvalidRequest, NotFound
from andon.historian import DuckDBHistorian, WriteBatch
from andon.mes import audit, oee_for_asset
from andon.mes.downtime import annotate, delete_annotation, list_annotations, pareto, stops
from andon.mes.reasons import DEFAULT_REASONS, Reason, ReasonTree, load_reasons, save_reasons
from andon.signals import StateChange

M1 = "acme/p1/mach/l1/m1"
MIN = 60_000
RUN, UNKNOWN, STARVED, FAILURE = 10000, 30000, 60000, 180000


@pytest.fixture
def db() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    batch = WriteBatch.empty()
    batch.states += [
        StateChange(M1, m * MIN, c, r)
        for m, c, r in [
            (0, RUN, None),
            (10, UNKNOWN, None),
            (12, FAILURE, "bearing"),
            (30, RUN, None),
            (40, STARVED, None),
            (41, RUN, None),
            (50, UNKNOWN, None),
        ]
    ]
    h.write(batch)
    yield h
    h.close()


def test_stops_carry_the_machine_reason_backfilled_over_the_unknown_start(
    db: DuckDBHistorian,
) -> None:
    events = stops(db, M1, 0, 60 * MIN)
    assert [(e.start_ms, e.end_ms, e.state, e.reason, e.micro, e.seconds) for e in events] == [
        (10 * MIN, 30 * MIN, "equipment_failure", "bearing", False, 1200.0),
        (40 * MIN, 41 * MIN, "starved", "starved", True, 60.0),
        (50 * MIN, None, "unknown_stop", "unknown_stop", False, 600.0),
    ]
    assert [e.start_ms for e in stops(db, M1, 0, 60 * MIN, micro=False)] == [10 * MIN, 50 * MIN]


def test_an_operator_splits_a_stop_into_reasons_and_the_pareto_follows(
    db: DuckDBHistorian,
) -> None:
    made = annotate(
        db,
        M1,
        [(10 * MIN, 20 * MIN, "bearing", None), (20 * MIN, 30 * MIN, "no_material", "coil late")],
        actor="op",
    )
    assert [a.id for a in made] == [1, 2]
    event = stops(db, M1, 0, 60 * MIN)[0]
    assert event.by_reason == {"bearing": 600.0, "no_material": 600.0}
    assert event.annotations == (1, 2)
    rows = pareto(stops(db, M1, 0, 60 * MIN))
    assert [(r.reason, r.stops, r.seconds) for r in rows] == [
        ("bearing", 1, 600.0),
        ("no_material", 1, 600.0),
        ("unknown_stop", 1, 600.0),
        ("starved", 1, 60.0),
    ]


def test_a_reason_with_a_state_code_reclassifies_time_for_oee(db: DuckDBHistorian) -> None:
    annotate(db, M1, [(20 * MIN, 30 * MIN, "no_material", None)], actor="op")
    r = oee_for_asset(db, M1, 0, 50 * MIN, ideal_cycle_time_s=None)
    assert r.time_by_state["material"] == 600.0
    assert r.breakdown_s == 600.0


@pytest.mark.parametrize(
    ("pieces", "message"),
    [
        ([(15 * MIN, 25 * MIN, "spindle", None)], "overlaps annotation #1"),
        ([(5 * MIN, 15 * MIN, "spindle", None)], "does not lie within one stop"),
        ([(25 * MIN, 35 * MIN, "spindle", None)], "does not lie within one stop"),
        ([(21 * MIN, 21 * MIN, "spindle", None)], "is empty"),
        (
            [(21 * MIN, 25 * MIN, "spindle", None), (24 * MIN, 26 * MIN, "bearing", None)],
            "overlap each other",
        ),
        ([(21 * MIN, 25 * MIN, "coffee", None)], "no reason 'coffee'"),
    ],
    ids=["overlap", "before-stop", "after-stop", "empty", "self-overlap", "unknown-reason"],
)
def test_bad_annotations_are_refused_and_nothing_is_stored(
    db: DuckDBHistorian, pieces: list[tuple[int, int, str, str | None]], message: str
) -> None:
    annotate(db, M1, [(10 * MIN, 20 * MIN, "bearing", None)], actor="op")
    with pytest.raises(InvalidRequest, match=message):
        annotate(db, M1, pieces, actor="op")
    assert [a.id for a in list_annotations(db, [M1], 0, 60 * MIN)] == [1]


def test_an_open_stop_can_be_annotated_into_the_future(db: DuckDBHistorian) -> None:
    made = annotate(db, M1, [(50 * MIN, 70 * MIN, "meeting", None)], actor="op")
    assert made[0].end_ms == 70 * MIN


def test_deleting_an_annotation_is_audited(db: DuckDBHistorian) -> None:
    annotate(db, M1, [(10 * MIN, 20 * MIN, "bearing", None)], actor="op")
    gone = delete_annotation(db, 1, actor="lead")
    assert gone.reason == "bearing"
    assert list_annotations(db, [M1], 0, 60 * MIN) == []
    assert [(e.action, e.actor) for e in audit.entries(db, entity="annotation")] == [
        ("create", "op"),
        ("delete", "lead"),
    ]
    with pytest.raises(NotFound):
        delete_annotation(db, 1, actor="lead")


def test_the_reason_tree_is_two_levels_and_configurable(db: DuckDBHistorian) -> None:
    assert load_reasons(db).reasons == DEFAULT_REASONS
    tree = ReasonTree.from_nested(
        [
            {
                "code": "mech",
                "name": "Mechanical",
                "children": [{"code": "chain", "name": "Chain broke", "state_code": 180000}],
            },
        ]
    )
    save_reasons(db, tree, "eng")
    assert load_reasons(db).get("chain") == Reason("chain", "Chain broke", "mech", 180000)
    assert load_reasons(db).category("chain") == "mech"
    for bad in (
        [{"code": "a"}, {"code": "a"}],
        [{"code": "a", "parent": "b"}],
        [{"code": "a"}, {"code": "b", "parent": "a"}, {"code": "c", "parent": "b"}],
        [{"code": "x/y"}],
    ):
        with pytest.raises(InvalidRequest):
            ReasonTree(Reason.from_mapping(item) for item in bad)
