"""MES routes over a real DuckDB historian: KPIs by shift, orders, downtime, trace, audit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from andon.api import create_app
from andon.config import Settings
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.signals import CountUpdate, StateChange

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR, MIN = 3_600_000, 60_000
LINE = "acme/p1/mach/l1"
M1, M2 = f"{LINE}/m1", f"{LINE}/m2"
SHIFTS = {
    "timezone": "UTC",
    "shifts": [
        {
            "name": "early",
            "start": "06:00",
            "hours": 8,
            "breaks": [{"start": "10:00", "minutes": 30}],
        },
        {"name": "late", "start": "14:00", "hours": 8, "breaks": []},
    ],
    "holidays": [],
}


@pytest.fixture
def client() -> Iterator[TestClient]:
    h = DuckDBHistorian(":memory:")
    batch = WriteBatch.empty()
    batch.states += [
        StateChange(M1, T0, 10000),
        StateChange(M1, T0 + 8 * HOUR, 30000),
        StateChange(M1, T0 + 8 * HOUR + 20 * MIN, 10000),
        StateChange(M2, T0, 10000),
    ]
    batch.counts += [
        CountUpdate(M1, T0, 0, 0, 0),
        CountUpdate(M1, T0 + 24 * HOUR - 1, 8000, 7900, 100),
        CountUpdate(M2, T0, 0, 0, 0),
        CountUpdate(M2, T0 + 24 * HOUR - 1, 4000, 4000, 0),
    ]
    h.write(batch)
    h.upsert_assets([AssetInfo(M1, 10.0), AssetInfo(M2, 20.0)])
    yield TestClient(create_app(Settings(db=":memory:"), historian=h))
    h.close()


def day(**extra: object) -> dict[str, object]:
    return {"from": T0, "to": T0 + 24 * HOUR, **extra}


def test_kpis_by_shift_roll_up_to_the_total(client: TestClient) -> None:
    assert client.put("/api/v1/shifts", json=SHIFTS).status_code == 200
    body = client.get("/api/v1/kpis", params=day(asset=LINE, by="shift")).json()
    assert [p["label"] for p in body["periods"]] == ["2026-01-01/early", "2026-01-01/late"]
    total = body["total"]
    assert total["pot_s"] == sum(p["pot_s"] for p in body["periods"]) == 16 * 3600 * 2
    assert total["planned_downtime_s"] == 2 * 1800.0
    assert total["produced"] == sum(p["produced"] for p in body["periods"])
    assert {bar["loss"] for bar in total["waterfall"]} >= {"breakdowns", "speed_loss"}
    whole = client.get("/api/v1/kpis", params=day(asset=LINE)).json()
    assert whole["by"] is None
    assert whole["periods"] == []
    assert whole["total"]["pot_s"] == 2 * 24 * 3600.0


def test_windows_of_the_calendar(client: TestClient) -> None:
    client.put("/api/v1/shifts", json=SHIFTS)
    windows = client.get("/api/v1/shifts/windows", params=day()).json()
    assert [(w["label"], w["from"]) for w in windows] == [
        ("2026-01-01/early", T0 + 6 * HOUR),
        ("2026-01-01/late", T0 + 14 * HOUR),
    ]
    assert client.get("/api/v1/shifts").json() == {
        **SHIFTS,
        "shifts": [
            {
                **SHIFTS["shifts"][0],
                "hours": 8.0,
                "weekdays": list(range(7)),  # type: ignore[dict-item]
                "breaks": [{"start": "10:00", "minutes": 30.0}],
            },
            {**SHIFTS["shifts"][1], "hours": 8.0, "weekdays": list(range(7))},
        ],
    }  # type: ignore[dict-item]
    bad = client.put("/api/v1/shifts", json={"timezone": "Nowhere/Land"})
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "InvalidRequest"


def test_an_order_through_its_life_and_an_illegal_move(client: TestClient) -> None:
    made = client.post(
        "/api/v1/orders",
        json={"id": "WO-1", "product": "bracket", "quantity": 1000, "asset": M1, "release": True},
    )
    assert made.status_code == 201
    assert made.json()["status"] == "released"
    started = client.post("/api/v1/orders/WO-1/start", json={"ts": T0 + HOUR})
    assert started.json()["status"] == "running"
    again = client.post("/api/v1/orders/WO-1/start")
    assert again.status_code == 400
    assert again.json()["error"]["message"] == "order WO-1 is running: cannot start it"
    client.post("/api/v1/orders/WO-1/complete", json={"ts": T0 + 2 * HOUR})
    order = client.get("/api/v1/orders/WO-1").json()
    assert order["status"] == "completed"
    assert order["progress"]["by_asset"][M1]["produced"] == 0  # no reading inside the run
    assert client.get("/api/v1/orders/WO-404").status_code == 404
    assert [
        o["id"] for o in client.get("/api/v1/orders", params={"status": "completed"}).json()
    ] == ["WO-1"]
    assert client.post("/api/v1/orders/WO-1/explode").status_code == 422


def test_downtime_annotations_and_pareto(client: TestClient) -> None:
    stop = {
        "asset": M1,
        "pieces": [
            {"from": T0 + 8 * HOUR, "to": T0 + 8 * HOUR + 5 * MIN, "reason": "meeting"},
            {"from": T0 + 8 * HOUR + 5 * MIN, "to": T0 + 8 * HOUR + 20 * MIN, "reason": "bearing"},
        ],
    }
    assert client.post("/api/v1/downtime/annotations", json=stop).status_code == 201
    overlap = client.post(
        "/api/v1/downtime/annotations",
        json={
            "asset": M1,
            "pieces": [
                {"from": T0 + 8 * HOUR + MIN, "to": T0 + 8 * HOUR + 2 * MIN, "reason": "spindle"}
            ],
        },
    )
    assert overlap.status_code == 400
    assert "overlaps annotation #1" in overlap.json()["error"]["message"]
    body = client.get("/api/v1/downtime", params=day(asset=LINE)).json()
    assert [(r["reason"], r["seconds"]) for r in body["pareto"]] == [
        ("bearing", 900.0),
        ("meeting", 300.0),
    ]
    assert body["events"][0]["annotations"] == [1, 2]
    assert len(client.get("/api/v1/downtime/annotations", params=day(asset=M1)).json()) == 2
    assert client.delete("/api/v1/downtime/annotations/2").status_code == 200
    reasons = client.get("/api/v1/reasons").json()
    assert reasons[0]["code"] == "mechanical"
    assert reasons[0]["children"]


def test_products_cycle_times_lots_trace_and_audit(client: TestClient) -> None:
    product = {
        "id": "bracket",
        "name": "Bracket",
        "unit": "pcs",
        "bom": [{"product": "steel", "quantity": 0.5}],
        "routing": [{"step": 10, "operation": "mill", "work_centre": M1, "standard_time_s": 9.5}],
    }
    assert client.put("/api/v1/products/bracket", json=product).status_code == 200
    assert client.get("/api/v1/products/bracket").json()["bom"] == product["bom"]
    assert (
        client.put(
            "/api/v1/cycle-times",
            json={"asset": M1, "product": "bracket", "ideal_cycle_time_s": 9.0},
        ).status_code
        == 200
    )
    for lot in (
        {"id": "COIL-1", "product": "steel", "quantity": 100, "unit": "kg"},
        {"id": "B-1", "product": "bracket", "quantity": 50, "kind": "produced"},
    ):
        assert client.post("/api/v1/lots", json=lot).status_code == 201
    assert (
        client.post(
            "/api/v1/lots/links", json={"parent": "COIL-1", "child": "B-1", "quantity": 25}
        ).status_code
        == 201
    )
    graph = client.get("/api/v1/trace/B-1", params={"direction": "backward"}).json()
    assert [(e["parent"], e["child"]) for e in graph["edges"]] == [("COIL-1", "B-1")]
    scrap = client.post("/api/v1/scrap", json={"asset": M1, "ts": T0 + HOUR, "quantity": 7})
    assert scrap.status_code == 201
    entries = client.get("/api/v1/audit", params={"limit": 100}).json()
    assert [e["entity"] for e in entries] == ["product", "cycle_time", "lot", "lot", "lot", "scrap"]
    assert {e["actor"] for e in entries} == {"local"}
    assert client.get("/api/v1/audit/verify").json()["ok"] is True


def test_the_routes_are_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/kpis",
        "/api/v1/orders",
        "/api/v1/orders/{order_id}/{action}",
        "/api/v1/products",
        "/api/v1/shifts",
        "/api/v1/downtime",
        "/api/v1/reasons",
        "/api/v1/trace/{lot}",
        "/api/v1/audit",
        "/api/v1/audit/verify",
    ):
        assert path in paths, path


def test_downtime_limit_keeps_the_newest_stops_of_each_reason() -> None:
    h = DuckDBHistorian(":memory:")
    batch = WriteBatch.empty()
    for i in range(12):  # 12 stops of 5 min, alternating reasons, an hour apart
        start = T0 + i * HOUR
        batch.states += [
            StateChange(M1, start, 10000),
            StateChange(M1, start + 30 * MIN, 180000 if i % 3 == 0 else 60000),
            StateChange(M1, start + 35 * MIN, 10000),
        ]
    h.write(batch)
    client = TestClient(create_app(Settings(db=":memory:"), historian=h))
    window = day(asset=M1)
    everything = client.get("/api/v1/downtime", params=window).json()
    limited = client.get("/api/v1/downtime", params={**window, "limit": 2}).json()
    refused = client.get("/api/v1/downtime", params={**window, "limit": 0}).status_code
    h.close()
    assert limited["pareto"] == everything["pareto"]  # every stop still counted
    assert limited["events_total"] == everything["events_total"] == 12
    starts = [e["start"] for e in limited["events"]]
    # the newest two overall (both starved), and the newest two failures (stops 9 and 6)
    expected = [T0 + i * HOUR + 30 * MIN for i in (6, 9, 10, 11)]
    assert starts == expected
    assert refused in (400, 422)
