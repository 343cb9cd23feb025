"""The REST API over a real DuckDB historian with a hand-computed shift."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from andon.api import create_app
from andon.config import Settings
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.signals import CountUpdate, Metrics, StateChange

T0 = 1_763_712_000_000  # 2025-11-21T08:00:00Z
M1 = "acme/p1/mach/l1/m1"
M2 = "acme/p1/mach/l1/m2"
HOUR = 3_600_000


@pytest.fixture
def historian() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    batch = WriteBatch.empty()
    # m1: runs 08:00-08:40, fails 08:40-08:50, runs to 09:00; 100 parts at 20 s, 4 scrap.
    batch.states += [
        StateChange(M1, T0, 10000),
        StateChange(M1, T0 + 40 * 60_000, 180000),
        StateChange(M1, T0 + 50 * 60_000, 10000),
    ]
    batch.counts += [
        CountUpdate(M1, T0, 1000, 990, 10),
        CountUpdate(M1, T0 + HOUR - 1, 1100, 1086, 14),
    ]
    # m2: runs the whole hour at half speed: 90 parts at 20 s.
    batch.states += [StateChange(M2, T0, 10000)]
    batch.counts += [CountUpdate(M2, T0, 0, 0, 0), CountUpdate(M2, T0 + HOUR - 1, 90, 90, 0)]
    batch.metrics += [Metrics(M1, T0 + i * 1000, {"temp_c": float(i % 60)}) for i in range(3600)]
    h.write(batch)
    h.upsert_assets([AssetInfo(M1, 20.0, "Mill 1"), AssetInfo(M2, 20.0, "Mill 2")])
    yield h
    h.close()


@pytest.fixture
def client(historian: DuckDBHistorian) -> TestClient:
    return TestClient(create_app(Settings(db=":memory:"), historian=historian))


def window(**extra: object) -> dict[str, object]:
    return {"from": T0, "to": T0 + HOUR, **extra}


def test_health_reports_the_newest_data(client: TestClient) -> None:
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["latest_ts"] == T0 + HOUR - 1


def test_assets_form_the_isa95_tree(client: TestClient) -> None:
    (enterprise,) = client.get("/api/v1/assets").json()
    assert (enterprise["path"], enterprise["level"]) == ("acme", "enterprise")
    line = enterprise["children"][0]["children"][0]["children"][0]
    assert (line["path"], line["level"]) == ("acme/p1/mach/l1", "line")
    assert [(c["name"], c["level"], c["ideal_cycle_time_s"]) for c in line["children"]] == [
        ("m1", "cell", 20.0),
        ("m2", "cell", 20.0),
    ]


def test_oee_of_one_machine_matches_the_hand_computation(client: TestClient) -> None:
    body = client.get("/api/v1/oee", params=window(asset=M1)).json()
    # PBT 3600 s, APT 3000 s -> A = 5/6; P = 20 s x 100 / 3000 s = 2/3; Q = 96/100.
    assert body["pbt_s"] == 3600
    assert body["apt_s"] == 3000
    assert (body["produced"], body["good"], body["scrap"]) == (100, 96, 4)
    assert body["availability"] == pytest.approx(5 / 6)
    assert body["performance"] == pytest.approx(2 / 3)
    assert body["quality"] == pytest.approx(0.96)
    assert body["oee"] == pytest.approx(5 / 6 * 2 / 3 * 0.96)


def test_line_oee_is_weighted_not_the_mean_of_machines(client: TestClient) -> None:
    body = client.get("/api/v1/oee", params=window(asset="acme/p1/mach/l1")).json()
    # APT 3000 + 3600, PBT 7200, ideal time 20 x 190 = 3800 s, good 186 of 190.
    assert body["availability"] == pytest.approx(6600 / 7200)
    assert body["performance"] == pytest.approx(3800 / 6600)
    assert body["quality"] == pytest.approx(186 / 190)
    assert body["oee"] == pytest.approx(3800 / 7200 * 186 / 190)


def test_ideal_cycle_time_override(client: TestClient) -> None:
    body = client.get("/api/v1/oee", params=window(asset=M2, ideal_cycle_time_s=40)).json()
    assert body["performance"] == pytest.approx(1.0)


def test_series_raw_and_bucketed(client: TestClient) -> None:
    tag = client.get("/api/v1/tags", params={"asset": M1}).json()[0]
    assert (tag["name"], tag["unit"]) == ("temp_c", "°C")
    raw = client.get("/api/v1/series", params={"tag": tag["id"], "from": T0, "to": T0 + 3000})
    assert raw.json()["points"] == [{"ts": T0 + i * 1000, "value": float(i)} for i in range(3)]
    bucketed = client.get("/api/v1/series", params=window(tag=tag["id"], bucket=600)).json()
    assert bucketed["from"] == T0
    assert bucketed["bucket_s"] == 600
    assert len(bucketed["points"]) == 6
    assert bucketed["points"][0] == {"ts": T0, "avg": 29.5, "min": 0.0, "max": 59.0, "count": 600}


def test_states_are_clipped_to_the_window(client: TestClient) -> None:
    params = {"asset": M1, "from": "2025-11-21T08:30:00Z", "to": "2025-11-21T08:45:00Z"}
    spans = client.get("/api/v1/states", params=params).json()["spans"]
    assert [(s["state"], (s["end"] - s["start"]) // 60_000) for s in spans] == [
        ("running", 10),
        ("equipment_failure", 5),
    ]


def test_overview_gives_every_machine_in_one_request(client: TestClient) -> None:
    body = client.get("/api/v1/overview").json()
    assert [m["asset"] for m in body["machines"]] == [M1, M2]
    assert body["machines"][0]["state"] == "running"
    assert body["machines"][0]["since"] == T0 + 50 * 60_000
    assert body["stations"] == []


def test_overview_tiles_machines_and_gives_an_ambient_station_its_readings(
    historian: DuckDBHistorian, client: TestClient
) -> None:
    # As the simulator publishes it: metrics only, no states, counts or MES attributes.
    station = "acme/p1/utilities/ambient/station1"
    batch = WriteBatch.empty()
    batch.metrics += [
        Metrics(station, T0 + i * 60_000, {"humidity_pct": 50.0 + i, "air_temp_c": 20.5})
        for i in range(10)
    ]
    # Live scoring writes its anomaly scores back as tags of the asset: scores, not readings.
    batch.metrics.append(Metrics(station, T0 + 10 * 60_000, {"ml_anomaly_humidity_pct": 0.4}))
    historian.write(batch)
    # A machine the MES knows (ideal cycle time) that has not reported yet is still a tile.
    quiet = "acme/p1/mach/l1/m3"
    historian.upsert_assets([AssetInfo(quiet, 30.0, "Mill 3")])
    body = client.get("/api/v1/overview").json()
    assert [m["asset"] for m in body["machines"]] == [M1, M2, quiet]
    assert body["machines"][2]["state"] is None
    (shown,) = body["stations"]
    assert (shown["asset"], shown["line"], shown["name"]) == (
        station,
        "acme/p1/utilities/ambient",
        "station1",
    )
    readings = {r["tag"]: (r["value"], r["unit"], r["ts"]) for r in shown["readings"]}
    assert readings == {
        "air_temp_c": (20.5, "°C", T0 + 9 * 60_000),
        "humidity_pct": (59.0, "%", T0 + 9 * 60_000),
    }


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/oee", {"asset": "acme/nowhere"}, 404),
        ("/api/v1/oee", {"asset": M1, "from": T0 + HOUR, "to": T0}, 400),
        ("/api/v1/oee", {"asset": M1, "from": "last tuesday"}, 400),
        ("/api/v1/oee", {}, 422),
        ("/api/v1/series", {"tag": 999}, 404),
        ("/api/v1/series", {"tag": 1, "bucket": -5}, 422),
        ("/api/v1/nothing", {}, 404),
    ],
)
def test_errors_are_structured_json(
    client: TestClient, path: str, params: dict[str, object], status: int
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"]
    assert error["message"]


def test_openapi_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("health", "assets", "tags", "series", "states", "oee", "overview"):
        assert f"/api/v1/{route}" in paths
