"""The OEE policy from ``andon.yaml`` (``oee:``) reaches the API and ``andon oee``."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from andon.api import create_app
from andon.cli import app as cli
from andon.config import OeeSettings, Settings, load_settings
from andon.errors import ConfigError
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.mes import OeePolicy, policy_from_settings
from andon.signals import CountUpdate, StateChange

T0 = 1_767_225_600_000
HOUR, MIN = 3_600_000, 60_000
M1 = "acme/p1/mach/l1/m1"
YAML = """
oee:
  planned: [break, no_shift, no_order, planned_maintenance, idle]
  micro_stop_threshold_s: 30
  micro_stops_in_performance: false
  breakdown: [equipment_failure, 180012]
"""


def _write(db: DuckDBHistorian) -> None:
    """An hour: 40 min running, 15 min idle (a stop by default), running with a 60 s stop."""
    batch = WriteBatch.empty()
    batch.states += [
        StateChange(M1, T0, 10000),
        StateChange(M1, T0 + 40 * MIN, 40000),
        StateChange(M1, T0 + 55 * MIN, 10000),
        StateChange(M1, T0 + 58 * MIN, 60000),
        StateChange(M1, T0 + 59 * MIN, 10000),
    ]
    batch.counts += [CountUpdate(M1, T0, 0, 0, 0), CountUpdate(M1, T0 + HOUR - 1, 2000, 2000, 0)]
    db.write(batch)
    db.upsert_assets([AssetInfo(M1, 1.0)])


def test_yaml_settings_map_to_the_policy(tmp_path: Path) -> None:
    (tmp_path / "andon.yaml").write_text(YAML, encoding="utf-8")
    policy = policy_from_settings(load_settings(tmp_path / "andon.yaml").oee)
    assert policy.classify(40000) == "planned"  # idle is planned downtime here
    assert policy.micro_ms == 30_000
    assert not policy.micro_stop_is_performance_loss
    assert policy.loss(180012) == "breakdown"
    assert policy.loss(180013) == "breakdown"
    assert policy_from_settings(OeeSettings()) == OeePolicy()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"planned": ["snoozing"]}, "unknown state 'snoozing'"),
        ({"micro_stop_threshold_s": -1}, "greater than or equal to 0"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_oee_settings_are_config_errors(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(oee=section)


def test_contradictory_policy_fails_when_the_app_is_created() -> None:
    settings = Settings(db=":memory:", oee=OeeSettings(planned=["running"]))
    db = DuckDBHistorian(":memory:")
    try:
        with pytest.raises(ConfigError, match="both planned and producing"):
            create_app(settings, historian=db)
    finally:
        db.close()


def test_api_and_cli_use_the_configured_policy(tmp_path: Path) -> None:
    path = tmp_path / "plant.duckdb"
    db = DuckDBHistorian(path)
    _write(db)
    window = {"asset": M1, "from": T0, "to": T0 + HOUR}
    default = TestClient(create_app(Settings(db=str(path)), historian=db))
    configured = TestClient(create_app(load_settings(oee=_yaml_section()), historian=db))
    plain = default.get("/api/v1/kpis", params=window).json()["total"]
    custom = configured.get("/api/v1/kpis", params=window).json()["total"]
    db.close()
    # default: idle and the 60 s stop are downtime, the stop a micro-stop kept in APT
    assert (plain["pbt_s"], plain["apt_s"], plain["micro_stops"]) == (3600.0, 2700.0, 1)
    # configured: idle is planned, and a 60 s stop is no micro-stop (threshold 30 s)
    assert (custom["pbt_s"], custom["apt_s"], custom["micro_stops"]) == (2700.0, 2640.0, 0)
    (tmp_path / "andon.yaml").write_text(YAML, encoding="utf-8")
    args = ["oee", "--asset", M1, "--from", str(T0), "--to", str(T0 + HOUR), "--db", str(path)]
    for extra, expected in (([], plain), (["--config", str(tmp_path / "andon.yaml")], custom)):
        run = CliRunner().invoke(cli, [*args, "--json", *extra])
        assert run.exit_code == 0, run.output
        printed = orjson.loads(run.output)
        assert (printed["pbt_s"], printed["apt_s"]) == (expected["pbt_s"], expected["apt_s"])


def _yaml_section() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load(YAML)["oee"]
    return loaded
