"""The next-shift forecast route over a real DuckDB history written by the virtual factory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from andon import sim
from andon.api import create_app
from andon.config import IngestSettings, Settings
from andon.historian import AssetInfo, DuckDBHistorian
from andon.ingest import Pipeline

T0 = 1_767_254_400_000  # 2026-01-01T08:00:00Z
HOUR = 3_600_000
LINE = "acme/plant1/forming/line2"


class _PipelineSink:
    """The virtual factory feeding the ingestion pipeline directly (as the demo's backfill)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def send(self, messages: list[tuple[str, bytes]]) -> None:
        for topic, payload in messages:
            self.pipeline.submit(topic, payload, source="sim")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    path = Path(tmp_path_factory.mktemp("forecast")) / "plant.duckdb"
    db = DuckDBHistorian(str(path))
    factory = sim.Factory(sim.load_scenario("demo"), 3, T0)
    db.upsert_assets([AssetInfo(m.path, m.ideal_cycle_time_s, m.name) for m in factory.machines])
    with Pipeline(db, IngestSettings(batch_size=5000, max_delay_s=0.2)) as pipeline:
        sim.run(factory, _PipelineSink(pipeline), until_ms=T0 + 2 * HOUR + 10 * 60_000)
    with TestClient(create_app(Settings(db=str(path)), historian=db)) as served:
        yield served
    db.close()


def test_next_shift_of_a_line_with_energy_and_downtime(client: TestClient) -> None:
    response = client.get("/api/v1/forecast/next-shift", params={"line": LINE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["machines"] == sorted(
        f"{LINE}/{m}" for m in ("furnace1", "packer1", "press1", "washer1")
    )
    assert body["end_ms"] - body["start_ms"] == 8 * HOUR
    assert body["start_ms"] >= body["now_ms"] > T0 + 2 * HOUR
    energy, downtime = body["energy"], body["downtime"]
    assert energy["unit"] == "kWh"
    assert downtime["unit"] == "machine-min"
    assert energy["history_hours"] == 2  # two complete hours before now
    for quantity in (energy, downtime):
        assert 0 <= quantity["lower"] <= quantity["forecast"] <= quantity["upper"]
        assert len(quantity["hours"]) == 8
        assert sum(h["forecast"] for h in quantity["hours"]) == pytest.approx(
            quantity["forecast"], abs=0.01
        )
    # four machines, a furnace among them: hundreds of kWh over 8 h, not zero, not absurd
    assert 50 < energy["forecast"] < 50_000
    assert downtime["upper"] <= 4 * 8 * 60


def test_the_next_shift_comes_from_the_plant_calendar(client: TestClient) -> None:
    shifts = {
        "timezone": "UTC",
        "shifts": [
            {"name": "early", "start": "06:00", "hours": 8, "breaks": []},
            {"name": "late", "start": "14:00", "hours": 8, "breaks": []},
        ],
        "holidays": [],
    }
    assert client.put("/api/v1/shifts", json=shifts).status_code == 200
    body = client.get("/api/v1/forecast/next-shift", params={"line": LINE, "level": 0.9}).json()
    assert body["shift"] == "2026-01-01/late"
    assert body["start_ms"] == T0 + 6 * HOUR
    assert body["level"] == 0.9
    machining = client.get(
        "/api/v1/forecast/next-shift", params={"line": "acme/plant1/machining/line1"}
    ).json()
    assert len(machining["machines"]) == 3
    assert machining["energy"]["forecast"] > 0


def test_unknown_lines_and_bad_paths_are_clear_errors(client: TestClient) -> None:
    missing = client.get("/api/v1/forecast/next-shift", params={"line": "acme/plant9/x/y"})
    assert missing.status_code == 404
    assert "no asset" in missing.json()["error"]["message"]
    bad = client.get("/api/v1/forecast/next-shift", params={"line": "Acme Plant"})
    assert bad.status_code == 400
    assert client.get("/api/v1/forecast/next-shift").status_code == 422
