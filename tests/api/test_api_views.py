"""What the pages lean on: downsampling per pixel, pages of tags, range limits, the shared
overview (computed once per data clock and write), its current-shift window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from andon import mes
from andon.api import create_app
from andon.config import Settings
from andon.historian import DuckDBHistorian, WriteBatch
from andon.mes import spc_live
from andon.ml import alerts as ml_alerts
from andon.signals import Metrics, StateChange

T0 = 1_763_704_800_000  # 2025-11-21T06:00:00Z
M1, M2 = "acme/p1/a/l1/m1", "acme/p1/a/l1/m2"
HOURS = 6


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    historian = DuckDBHistorian(":memory:")
    batch = WriteBatch.empty()
    # m1: one sample a second for 6 h, a sawtooth 0..59 per minute plus one spike.
    batch.metrics += [
        Metrics(M1, T0 + i * 1000, {"temp_c": 999.0 if i == 4321 else float(i % 60)})
        for i in range(HOURS * 3600)
    ]
    batch.metrics += [
        Metrics(M2, T0 + i * 1000, {f"t{j}_c": 1.0 for j in range(5)}) for i in range(3)
    ]
    batch.states += [StateChange(M1, T0, 10000), StateChange(M2, T0, 10000)]
    historian.write(batch)
    mes.save_calendar(
        historian,
        mes.Calendar.from_mapping(
            {"timezone": "UTC", "shifts": [{"name": "early", "start": "06:00", "hours": 8}]}
        ),
        "test",
    )
    with TestClient(create_app(Settings(), historian=historian)) as c:
        yield c
    historian.close()


def _tag(client: TestClient, name: str) -> int:
    return next(t["id"] for t in client.get("/api/v1/tags").json() if t["name"] == name)


def test_points_ask_for_one_min_max_bucket_per_pixel(client: TestClient) -> None:
    tag = _tag(client, "temp_c")
    window = {"from": T0, "to": T0 + HOURS * 3_600_000}
    series = client.get("/api/v1/series", params={"tag": tag, "points": 720, **window}).json()
    assert series["bucket_s"] == 30.0  # 6 h over 720 pixels
    assert len(series["points"]) == 720
    assert sum(p["count"] for p in series["points"]) == HOURS * 3600  # every sample counted
    assert max(p["max"] for p in series["points"]) == 999.0  # the spike survives
    assert {p["min"] for p in series["points"]} == {0.0, 30.0}  # per bucket min of the saw
    both = client.get("/api/v1/series", params={"tag": tag, "points": 10, "bucket": 5, **window})
    assert both.status_code == 400
    too_many = client.get("/api/v1/series", params={"tag": tag, "points": 20_001, **window})
    assert too_many.status_code == 422


def test_raw_points_have_no_bucket_and_are_limited(client: TestClient) -> None:
    tag = _tag(client, "temp_c")
    raw = client.get("/api/v1/series", params={"tag": tag, "from": T0, "to": T0 + 10_000}).json()
    assert "bucket_s" not in raw
    assert [p["value"] for p in raw["points"]] == [float(i) for i in range(10)]
    year = client.get(
        "/api/v1/series", params={"tag": tag, "from": T0, "to": T0 + 400 * 86_400_000}
    )
    assert year.status_code == 400
    assert "366 days" in year.json()["error"]["message"]


def test_tags_come_a_page_at_a_time(client: TestClient) -> None:
    every = client.get("/api/v1/tags").json()
    assert len(every) == 6
    first = client.get("/api/v1/tags", params={"limit": 4})
    assert [t["id"] for t in first.json()] == [t["id"] for t in every[:4]]
    assert first.headers["x-next-offset"] == "4"
    rest = client.get("/api/v1/tags", params={"limit": 4, "offset": 4})
    assert [t["id"] for t in rest.json()] == [t["id"] for t in every[4:]]
    assert "x-next-offset" not in rest.headers


def test_overview_is_shared_until_data_or_a_write_changes(client: TestClient) -> None:
    app = client.app
    first = client.get("/api/v1/overview").json()
    memo = app.state.overview_memo  # type: ignore[attr-defined]
    computed = len(memo._values)
    assert client.get("/api/v1/overview").json() == first
    assert len(memo._values) == computed  # the same data clock: served from the memo
    app.state.writes = getattr(app.state, "writes", 0) + 1  # type: ignore[attr-defined]
    client.get("/api/v1/overview")
    assert len(memo._values) == computed + 1


def test_overview_of_the_current_shift(client: TestClient) -> None:
    rolling = client.get("/api/v1/overview", params={"window_s": 3600}).json()
    assert rolling["shift"] is None
    assert rolling["oee_from"] == rolling["now"] - 3_600_000
    shift = client.get("/api/v1/overview", params={"shift": True}).json()
    assert shift["shift"] == "2025-11-21/early"
    assert shift["oee_from"] == T0
    m1 = next(m for m in shift["machines"] if m["asset"] == M1)
    assert m1["oee"]["pot_s"] == (shift["now"] - T0) / 1000


def test_a_long_timeline_comes_one_dominant_state_per_pixel(client: TestClient) -> None:
    window = {"asset": M1, "from": T0, "to": T0 + 3_600_000}
    whole = client.get("/api/v1/states", params=window).json()
    assert "resolution_ms" not in whole  # a handful of spans: as they are
    assert client.get("/api/v1/states", params={**window, "points": 100}).json() == whole
    historian = client.app.state.historian  # type: ignore[attr-defined]
    batch = WriteBatch.empty()  # a micro-stop of 20 s every minute for an hour
    batch.states += [
        StateChange(M2, T0 + m * 60_000 + s, code)
        for m in range(60)
        for s, code in ((0, 10000), (40_000, 50000))
    ]
    historian.write(batch)
    params = {"asset": M2, "from": T0, "to": T0 + 3_600_000}
    raw = client.get("/api/v1/states", params=params).json()["spans"]
    assert len(raw) == 120
    thin = client.get("/api/v1/states", params={**params, "points": 30}).json()
    assert thin["resolution_ms"] == 120_000
    assert [s["state"] for s in thin["spans"]] == ["running"]  # 40 s of 60 run in each bucket
    assert (thin["spans"][0]["start"], thin["spans"][0]["end"]) == (T0, T0 + 3_600_000)


def test_tiles_count_the_live_spc_alerts_of_their_machine(client: TestClient) -> None:
    historian = client.app.state.historian  # type: ignore[attr-defined]
    now = client.get("/api/v1/overview").json()["now"]
    spc_live.create_tables(historian)  # as the live SPC of the ingest stream stores them
    rows = [(now - 60_000, "first"), (now - 1_000, "rule 1: beyond the limits")]
    for ts, message in rows:
        alert = spc_live.SpcAlert(M1, "temp_c", ts, "x", "nelson", 1, 99, 50, 40, 60, message)
        historian.sql(f"INSERT INTO spc_alerts VALUES ({', '.join('?' * 11)})", list(alert.row()))
    client.app.state.writes = getattr(client.app.state, "writes", 0) + 1  # type: ignore[attr-defined]
    machines = {m["asset"]: m for m in client.get("/api/v1/overview").json()["machines"]}
    assert (machines[M1]["alerts"], machines[M1]["last_alert"]) == (2, "rule 1: beyond the limits")
    assert (machines[M2]["alerts"], machines[M2]["last_alert"]) == (0, None)


def test_tiles_count_the_open_alerts_of_live_scoring(client: TestClient) -> None:
    historian = client.app.state.historian  # type: ignore[attr-defined]
    now = client.get("/api/v1/overview").json()["now"]
    ml_alerts.create_table(historian)  # as the live scorer's AlertBook stores them
    stored = [
        ml_alerts.Alert(
            M2,
            "failure",
            "ml_failure_risk",
            "critical",
            now - 9_000,
            now - 2_000,
            None,
            0.9,
            0.95,
            "failure risk 0.90",
        ),
        ml_alerts.Alert(
            M2,
            "anomaly",
            "temp_c",
            "warning",
            now - 90_000,
            now - 80_000,
            now - 70_000,
            0.99,
            0.99,
            "closed: not counted",
        ),
    ]
    for alert in stored:
        columns = (
            "id, asset, kind, tag, severity, opened_ms, updated_ms, closed_ms, value, peak, message"
        )
        historian.sql(f"INSERT INTO alerts ({columns}) VALUES ({', '.join('?' * 11)})", alert.row())
    client.app.state.writes = getattr(client.app.state, "writes", 0) + 1  # type: ignore[attr-defined]
    machines = {m["asset"]: m for m in client.get("/api/v1/overview").json()["machines"]}
    assert (machines[M2]["alerts"], machines[M2]["last_alert"]) == (1, "failure risk 0.90")
