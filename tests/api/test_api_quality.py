"""Quality routes over a real DuckDB historian: SPC charts, alerts, inspections, Pareto."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from andon.api import create_app
from andon.config import Settings
from andon.historian import DuckDBHistorian, WriteBatch
from andon.mes.spc_live import LiveSpc, LiveTag
from andon.signals import CountUpdate, Metrics

T0 = 1_763_712_000_000
HOUR = 3_600_000
M1 = "acme/p1/mach/l1/m1"


@pytest.fixture
def historian() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    temps = np.random.default_rng(9).normal(60, 0.4, 400)
    temps[350:] += 3
    batch = WriteBatch.empty()
    batch.metrics += [Metrics(M1, T0 + i * 1000, {"temp_c": float(v)}) for i, v in enumerate(temps)]
    batch.counts += [CountUpdate(M1, T0 - 1, 0, 0, 0)]
    for hour in range(5):
        scrap = 2 * (hour + 1) + (15 if hour >= 3 else 0)
        batch.counts.append(
            CountUpdate(M1, T0 + hour * HOUR + 1, 100 * (hour + 1), 100 * (hour + 1) - scrap, scrap)
        )
    h.write(batch)
    LiveSpc(h, [LiveTag(M1, "temp_c", baseline=25)]).publish(list(batch.metrics))
    yield h
    h.close()


@pytest.fixture
def client(historian: DuckDBHistorian) -> TestClient:
    return TestClient(create_app(Settings(db=":memory:"), historian=historian))


def test_chart_of_a_tag_lists_limits_and_violations(client: TestClient) -> None:
    response = client.get(
        "/api/v1/spc",
        params={
            "asset": M1,
            "tag": "temp_c",
            "from": T0,
            "to": T0 + 400_000,
            "chart": "xbar_r",
            "subgroup": 5,
            "baseline": 60,
            "lsl": 58,
            "usl": 62,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "xbar_r"
    assert body["points"] == 80
    assert [s["name"] for s in body["series"]] == ["xbar", "r"]
    assert len(body["series"][0]["values"]) == 80
    beyond = {v["index"] for v in body["violations"] if v["series"] == "xbar" and v["rule"] == 1}
    assert set(range(70, 80)) <= beyond
    assert body["capability"]["cp"] is not None


def test_rolling_limits_and_rule_selection(client: TestClient) -> None:
    response = client.get(
        "/api/v1/spc",
        params=[
            ("asset", M1),
            ("tag", "temp_c"),
            ("from", T0),
            ("to", T0 + 400_000),
            ("rolling", 50),
            ("rules", "we"),
            ("only", 1),
            ("only", 4),
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["limits_from"] == "rolling 50"
    assert {v["rule"] for v in body["violations"]} <= {1, 4}
    assert isinstance(body["series"][0]["center"], list)


def test_scrap_chart(client: TestClient) -> None:
    body = client.get(
        "/api/v1/spc/scrap",
        params={"asset": M1, "from": T0, "to": T0 + 5 * HOUR, "period_ms": HOUR, "baseline": 3},
    ).json()
    assert body["kind"] == "p"
    assert body["points"] == 5
    assert [v["index"] for v in body["violations"] if v["rule"] == 1] == [3]  # 17 of 100


def test_chart_of_posted_values_and_bad_requests(client: TestClient) -> None:
    values = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0, 13.0]
    body = client.post("/api/v1/spc", json={"values": values, "baseline": 8}).json()
    assert [(v["series"], v["index"], v["rule"]) for v in body["violations"]] == [
        ("x", 8, 1),
        ("mr", 8, 1),
    ]
    assert client.post("/api/v1/spc", json={"values": values, "chart": "p"}).status_code == 400
    assert client.post("/api/v1/spc", json={"values": values, "chart": "pie"}).status_code == 422
    missing = client.get("/api/v1/spc", params={"asset": M1, "tag": "nope", "from": T0})
    assert missing.status_code == 404


def test_live_alerts(client: TestClient) -> None:
    alerts = client.get("/api/v1/spc/alerts", params={"asset": M1}).json()
    assert alerts
    assert all(a["asset"] == M1 and a["tag"] == "temp_c" for a in alerts)
    assert alerts == sorted(alerts, key=lambda a: -a["ts_ms"])


def test_inspections_summary_and_pareto(client: TestClient) -> None:
    first = {
        "id": "lot7/final",
        "ts_ms": "2025-11-21T08:00:00Z",
        "inspected": 200,
        "good": 180,
        "rework": 12,
        "scrap": 8,
        "lot": "lot7",
        "asset": M1,
        "defects": {"porosity": 9, "crack": 3, "flash": 14},
        "measurements": {"bore_mm": [20.01, 19.99]},
    }
    response = client.post("/api/v1/quality/inspections", json=first)
    assert response.status_code == 201, response.text
    assert response.json()["replaced"] is False
    assert response.json()["inspection"]["ts_ms"] == T0
    again = client.post("/api/v1/quality/inspections", json=first)
    assert again.json()["replaced"] is True
    rework = {
        "id": "lot7/rework",
        "ts_ms": T0 + HOUR,
        "inspected": 12,
        "good": 11,
        "scrap": 1,
        "lot": "lot7",
        "first_pass": False,
    }
    assert client.post("/api/v1/quality/inspections", json=rework).status_code == 201
    summary = client.get("/api/v1/quality/summary", params={"lot": "lot7"}).json()
    assert summary["first_pass_yield"] == pytest.approx(0.9)
    assert summary["quality_ratio"] == pytest.approx(191 / 200)
    assert summary["scrap_ratio"] == pytest.approx(9 / 200)
    assert summary["rework_ratio"] == pytest.approx(12 / 200)
    pareto = client.get("/api/v1/quality/pareto", params={"asset": "acme/p1"}).json()
    assert [row["defect"] for row in pareto] == ["flash", "porosity", "crack"]
    listed = client.get("/api/v1/quality/inspections", params={"from": T0 + 1}).json()
    assert [i["id"] for i in listed] == ["lot7/rework"]
    bad = {**first, "good": 1}
    response = client.post("/api/v1/quality/inspections", json=bad)
    assert response.status_code == 400
    assert "must equal inspected" in response.json()["error"]["message"]
    trail = client.get("/api/v1/audit", params={"entity": "inspection"}).json()
    assert trail


def test_openapi_documents_the_quality_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/spc",
        "/api/v1/spc/scrap",
        "/api/v1/spc/alerts",
        "/api/v1/quality/inspections",
        "/api/v1/quality/summary",
        "/api/v1/quality/pareto",
    ):
        assert path in paths
