"""Root cause end to end: the virtual factory's hidden humidity -> scrap cause is found.

The simulator runs 36 hours of a small forming line (press and packer, the demo plant's
climate and shifts) through the real ingestion pipeline into DuckDB. The MES computes the
hourly scrap ratio of each machine; the ranking joins it with what the plant published (the
machines' tags, the ambient station's humidity and air temperature, product, shift) and must
name the ambient humidity first, raising scrap, beyond the shuffled-noise controls. The
simulator's scrap depends on humidity (``sim.reliability``) and on hidden wear; nothing
here tells the ranking which published tag matters.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from andon import mes, sim
from andon.api import create_app
from andon.cli import app as cli
from andon.config import Settings
from andon.historian import AssetInfo, DuckDBHistorian
from andon.ingest import Pipeline

T0 = 1_763_683_200_000  # 2025-11-21 00:00 UTC
HOURS = 36
HOUR = 3_600_000
SCENARIO = """
name: humid
enterprise: acme
site: plant1
timezone: UTC
ambient: {humidity_pct: [55, 12], air_temp_c: [24, 3]}
shifts:
  - {name: early, start: "06:00", hours: 8, breaks: [{start: "09:45", minutes: 30}]}
  - {name: late, start: "14:00", hours: 8, breaks: [{start: "17:45", minutes: 30}]}
  - {name: night, start: "22:00", hours: 8, breaks: [{start: "01:45", minutes: 30}]}
lines:
  - area: forming
    name: line2
    buffer_capacity: 40
    products: [panel-s, panel-m, panel-l]
    order_size: [1500, 3500]
    machines:
      - {name: press1, kind: press, ideal_cycle_time_s: 3, params: {scrap_rate: 0.04}}
      - {name: packer1, kind: packer, ideal_cycle_time_s: 2.8, params: {scrap_rate: 0.04}}
"""
HUMIDITY = "station1.humidity_pct"


class _Ingest:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def send(self, messages: list[tuple[str, bytes]]) -> None:
        for topic, payload in messages:
            self.pipeline.submit(topic, payload, source="backfill")


def _calendar(scenario: sim.Scenario) -> mes.Calendar:
    shifts = [
        {
            "name": s.name,
            "start": s.start.isoformat("minutes"),
            "hours": s.hours,
            "breaks": [
                {"start": b.start.isoformat("minutes"), "minutes": b.minutes} for b in s.breaks
            ],
        }
        for s in scenario.shifts
    ]
    return mes.Calendar.from_mapping({"timezone": scenario.timezone, "shifts": shifts})


@pytest.fixture(scope="module")
def plant_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """36 simulated hours of the humid line, ingested through the real pipeline."""
    folder = tmp_path_factory.mktemp("humid")
    (folder / "humid.yaml").write_text(SCENARIO, encoding="utf-8")
    scenario = sim.load_scenario(str(folder / "humid.yaml"))
    factory = sim.Factory(scenario, seed=5, start_ms=T0)
    path = folder / "plant.duckdb"
    historian = DuckDBHistorian(path)
    historian.upsert_assets(
        [AssetInfo(m.path, m.ideal_cycle_time_s, m.name) for m in factory.machines]
    )
    mes.save_calendar(historian, _calendar(scenario), "test")
    with Pipeline(historian) as pipeline:
        sim.run(factory, _Ingest(pipeline), until_ms=T0 + HOURS * HOUR)
        pipeline.flush()
    historian.close()
    shutil.copyfile(path, folder / "copy.duckdb")  # for the CLI: DuckDB allows one writer
    return path


@pytest.fixture(scope="module")
def client(plant_db: Path) -> Iterator[TestClient]:
    historian = DuckDBHistorian(plant_db)
    yield TestClient(create_app(Settings(db=str(plant_db)), historian=historian))
    historian.close()


@pytest.fixture(scope="module")
def scrap(client: TestClient) -> dict[str, object]:
    response = client.get(
        "/api/v1/rootcause",
        params={"kpi": "scrap_ratio", "from": T0 + HOUR, "to": T0 + HOURS * HOUR},
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_humidity_is_named_first_for_scrap(scrap: dict[str, object]) -> None:
    factors = scrap["factors"]
    assert isinstance(factors, list)
    first = factors[0]
    assert first["name"] == HUMIDITY, [(f["name"], f["importance"]) for f in factors]
    assert first["direction"] == "increasing"
    assert first["effect"] > 0
    assert first["significant"]
    assert first["ci_low"] > scrap["noise_level"]
    assert first["importance"] > 2 * max(f["importance"] for f in factors[1:])
    assert scrap["r2"] > scrap["baseline_r2"] + 0.3  # type: ignore[operator]


def test_the_table_holds_what_the_plant_published(scrap: dict[str, object]) -> None:
    names = {f["name"] for f in scrap["factors"]}  # type: ignore[attr-defined]
    assert {HUMIDITY, "station1.air_temp_c", "shift", "product", "force_kn"} <= names
    assert scrap["rows"] == 2 * (HOURS - 1)  # two machines, every whole hour
    assert scrap["kpi"] == "scrap_ratio"
    assert scrap["asset"] is None


def test_bad_requests_are_400(client: TestClient) -> None:
    response = client.get(
        "/api/v1/rootcause", params={"kpi": "yield", "from": T0, "to": T0 + HOURS * HOUR}
    )
    assert response.status_code == 400
    assert "unknown KPI" in response.text
    short = client.get("/api/v1/rootcause", params={"from": T0, "to": T0 + 2 * HOUR})
    assert short.status_code == 400
    assert "hours" in short.text
    missing = client.get(
        "/api/v1/rootcause", params={"asset": "acme/nowhere", "from": T0, "to": T0 + HOURS * HOUR}
    )
    assert missing.status_code == 404
    unknown = client.get(
        "/api/v1/rootcause",
        params={"drop": ["nope"], "from": T0 + HOUR, "to": T0 + HOURS * HOUR},
    )
    assert unknown.status_code == 400
    assert "nope" in unknown.text


def test_the_cli_ranks_one_machine_and_writes_the_factor_table(
    plant_db: Path, tmp_path: Path
) -> None:
    db = plant_db.with_name("copy.duckdb")
    table = tmp_path / "factors.csv"
    result = CliRunner().invoke(
        cli,
        [
            "ml",
            "rootcause",
            "--db",
            str(db),
            "--asset",
            "acme/plant1/forming/line2/press1",
            "--from",
            str(T0 + HOUR),
            "--to",
            str(T0 + HOURS * HOUR),
            "--folds",
            "3",
            "--drop",
            "force_kn",
            "--table",
            str(table),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    ranking = orjson.loads(result.output)
    assert ranking["rows"] == HOURS - 1
    assert ranking["factors"][0]["name"] == HUMIDITY
    assert "force_kn" not in {f["name"] for f in ranking["factors"]}
    assert "station1.humidity_pct" in table.read_text(encoding="utf-8").splitlines()[0]
    bad = CliRunner().invoke(cli, ["ml", "rootcause", "--db", str(db), "--kpi", "yield"])
    assert bad.exit_code == 1
    assert "unknown KPI" in bad.output
