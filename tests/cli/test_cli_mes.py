"""The MES commands as a user runs them: orders, trace, audit verify, oee --by shift."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from andon.cli import app
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.signals import CountUpdate, StateChange

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000
M1 = "acme/p1/mach/l1/m1"
runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "plant.duckdb"
    h = DuckDBHistorian(path)
    batch = WriteBatch.empty()
    batch.states += [
        StateChange(M1, T0, 10000),
        StateChange(M1, T0 + 7 * HOUR, 180000),
        StateChange(M1, T0 + 7 * HOUR + 1_800_000, 10000),
    ]
    batch.counts += [
        CountUpdate(M1, T0, 0, 0, 0),
        CountUpdate(M1, T0 + 24 * HOUR - 1, 6000, 5940, 60),
    ]
    h.write(batch)
    h.upsert_assets([AssetInfo(M1, 10.0)])
    h.close()
    (tmp_path / "shifts.yaml").write_text(
        "timezone: UTC\nshifts:\n"
        "  - {name: early, start: '06:00', hours: 8, breaks: [{start: '09:45', minutes: 30}]}\n"
        "  - {name: late, start: '14:00', hours: 8}\n",
        encoding="utf-8",
    )
    return path


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_oee_by_shift_prints_each_shift_and_the_total_with_the_waterfall(db: Path) -> None:
    run("shifts", "load", str(db.parent / "shifts.yaml"), "--db", str(db))
    out = run(
        "oee",
        "--asset",
        M1,
        "--from",
        str(T0),
        "--to",
        str(T0 + 24 * HOUR),
        "--db",
        str(db),
        "--by",
        "shift",
        "--json",
    )
    body = orjson.loads(out)
    assert [p["label"] for p in body["periods"]] == ["2026-01-01/early", "2026-01-01/late"]
    early = body["periods"][0]
    assert (early["pot_s"], early["planned_downtime_s"], early["downtime_s"]) == (
        28_800.0,
        1800.0,
        1800.0,
    )
    assert body["total"]["pot_s"] == 57_600.0
    bars = {b["loss"]: b["seconds"] for b in body["total"]["waterfall"]}
    assert sum(bars.values()) == pytest.approx(57_600.0)
    table = run(
        "oee",
        "--asset",
        M1,
        "--from",
        str(T0),
        "--to",
        str(T0 + 24 * HOUR),
        "--db",
        str(db),
        "--by",
        "shift",
    )
    assert "2026-01-01/early" in table
    assert "total" in table
    cycle = orjson.loads(
        run(
            "oee",
            "--asset",
            M1,
            "--from",
            str(T0),
            "--to",
            str(T0 + HOUR),
            "--db",
            str(db),
            "--ideal-cycle-time",
            "5",
            "--json",
        )
    )
    assert cycle["ideal_cycle_time_s"] == 5.0


def test_orders_from_creation_to_completion_and_a_refused_move(db: Path) -> None:
    run(
        "orders",
        "create",
        "WO-1",
        "--product",
        "bracket",
        "--quantity",
        "500",
        "--asset",
        M1,
        "--db",
        str(db),
        "--actor",
        "planner",
    )
    run("orders", "release", "WO-1", "--db", str(db))
    run("orders", "start", "WO-1", "--db", str(db), "--at", str(T0 + HOUR))
    refused = runner.invoke(app, ["orders", "release", "WO-1", "--db", str(db)])
    assert refused.exit_code == 1
    assert "cannot release it" in refused.output
    run("orders", "complete", "WO-1", "--db", str(db), "--at", str(T0 + 3 * HOUR))
    shown = orjson.loads(run("orders", "show", "WO-1", "--db", str(db)))
    assert shown["status"] == "completed"
    assert shown["progress"]["produced"] == 0  # readings only at the day's ends
    assert "WO-1" in run("orders", "list", "--db", str(db))


def test_trace_and_audit_verify_find_tampering(db: Path) -> None:
    run(
        "lots",
        "create",
        "COIL-1",
        "--product",
        "steel",
        "--quantity",
        "100",
        "--unit",
        "kg",
        "--db",
        str(db),
    )
    run(
        "lots",
        "create",
        "P-1",
        "--product",
        "bracket",
        "--quantity",
        "10",
        "--kind",
        "produced",
        "--db",
        str(db),
    )
    run("lots", "link", "COIL-1", "P-1", "--quantity", "4", "--db", str(db))
    graph = orjson.loads(run("trace", "P-1", "--db", str(db), "--json"))
    assert [(e["parent"], e["child"]) for e in graph["edges"]] == [("COIL-1", "P-1")]
    assert "COIL-1 -> P-1" in run("trace", "COIL-1", "--db", str(db))
    assert "intact: 3 entries" in run("audit", "verify", "--db", str(db))
    h = DuckDBHistorian(db)
    h.sql("UPDATE mes_audit SET actor = 'mallory' WHERE seq = 2")
    h.close()
    broken = runner.invoke(app, ["audit", "verify", "--db", str(db)])
    assert broken.exit_code == 1
    assert "entry 2" in broken.output


def test_downtime_list_and_annotate(db: Path) -> None:
    start, stop = str(T0 + 7 * HOUR), str(T0 + 7 * HOUR + 1_800_000)
    run(
        "downtime",
        "annotate",
        "--asset",
        M1,
        "--from",
        start,
        "--to",
        stop,
        "--reason",
        "bearing",
        "--db",
        str(db),
    )
    out = orjson.loads(
        run(
            "downtime",
            "list",
            "--asset",
            M1,
            "--from",
            str(T0),
            "--to",
            str(T0 + 24 * HOUR),
            "--db",
            str(db),
            "--json",
        )
    )
    assert out["pareto"] == [{"reason": "bearing", "stops": 1, "seconds": 1800.0}]
    refused = runner.invoke(
        app,
        [
            "downtime",
            "annotate",
            "--asset",
            M1,
            "--from",
            start,
            "--to",
            stop,
            "--reason",
            "spindle",
            "--db",
            str(db),
        ],
    )
    assert refused.exit_code == 1
    assert "overlaps" in refused.output


def test_a_missing_database_is_one_clear_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["orders", "list", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 1
    assert "no historian" in result.output
