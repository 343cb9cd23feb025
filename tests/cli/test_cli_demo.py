"""``andon demo --no-ml`` and ``--models DIR``: short real runs (broker, factory, API)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from andon import sim
from andon.broker import free_port
from andon.cli import app
from andon.config import IngestSettings
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline
from andon.ml.lives import producing_rows
from andon.ml.maintenance import FailureClassifier
from andon.ml.registry import ModelCard, model_versions, save_model

pytestmark = pytest.mark.integration
runner = CliRunner()
T0 = 1_763_700_000_000


def _demo(db: Path, *args: str) -> str:
    command = ["demo", "--duration", "4", "--backfill", "0.05", "--db", str(db)]
    result = runner.invoke(app, [*command, "--port", str(free_port()), *args])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())  # rich wraps at 80 columns without a terminal


def _ml_tags(db: Path) -> list[str]:
    historian = DuckDBHistorian(db)
    try:
        return sorted({t.name for t in historian.tags() if t.name.startswith("ml_")})
    finally:
        historian.close()


def test_demo_help_names_the_ml_options() -> None:
    result = runner.invoke(app, ["demo", "--help"])
    text = " ".join(result.output.split())
    assert "--no-ml" in text
    assert "--models" in text
    assert "learned from the plant's history" in text


def test_no_ml_runs_the_plant_without_scoring(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    output = _demo(db, "--no-ml")
    assert "andon is running" in output
    assert "live scoring" not in output
    assert _ml_tags(db) == []
    assert not (tmp_path / "models").exists()


def test_models_dir_holds_the_models_the_demo_attaches(tmp_path: Path) -> None:
    """A failure model for the CNC machines stored in --models DIR is attached, not relearned."""
    scenario = sim.load_scenario("demo")
    factory = sim.Factory(scenario, seed=1, start_ms=T0)
    cnc1 = next(m.path for m in factory.machines if m.kind == "cnc")
    history = DuckDBHistorian(tmp_path / "history.duckdb")
    try:
        with Pipeline(history, IngestSettings()) as pipeline:
            for _ in range(300):
                for topic, payload in factory.step():
                    pipeline.submit(topic, payload)
        rows = producing_rows(history, cnc1, T0, factory.now_ms).drop(columns=["ts"])
    finally:
        history.close()
    torque = rows["torque_nm"]
    model = FailureClassifier(n_estimators=5).fit(
        rows.fillna(0.0), (torque > torque.quantile(0.8)).astype(int)
    )
    models = tmp_path / "registry"
    save_model(models / "demo-cnc-failure", model, ModelCard(task="failure"))

    db = tmp_path / "demo.duckdb"
    output = _demo(db, "--models", str(models))
    assert "live scoring: failure/RUL models on 3 machines" in output
    assert len(model_versions(models / "demo-cnc-failure")) == 1  # reused, not learned again
    assert not (tmp_path / "models").exists()  # nothing beside the database
    assert "ml_failure_risk" in _ml_tags(db)
