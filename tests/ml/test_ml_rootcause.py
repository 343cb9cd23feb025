"""Root cause on synthetic plants with known causes, the factor table, and the ``rootcause`` task.

The virtual factory's hidden humidity -> scrap cause is found end to end (simulator, ingest,
historian, MES, ranking, API) in ``tests/api/test_api_rootcause.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from andon.cli import app
from andon.errors import InvalidRequest
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.ml import registry
from andon.ml.catalog import task_for
from andon.ml.rootcause import (
    Factor,
    Ranking,
    RankOptions,
    explain_table,
    factor_table,
    rank_factors,
    shapley_r2,
    time_blocks,
)
from andon.ml.rootcause.decomposition import design_blocks
from andon.ml.tasks import TrainOptions
from andon.signals import CountUpdate, Event, Metrics

runner = CliRunner()
FAST = RankOptions(folds=4, repeats=2, max_iter=60, resamples=300)
HOUR = 3_600_000
CELL = "acme/p1/forming/l2/press1"
STATION = "acme/p1/utilities/ambient/station1"


def _plant(n_hours: int = 240, seed: int = 0) -> pd.DataFrame:
    """Hourly rows of three machines: humidity raises scrap, machine ``m2`` makes more,
    shift and a noise tag do nothing (shift is not tied to humidity here)."""
    rng = np.random.default_rng(seed)
    hours = np.repeat(np.arange(n_hours), 3)
    humidity = 55 + 12 * np.cos(hours * np.pi / 12) + rng.normal(0, 3, n_hours)[hours]
    machine = np.tile(["m1", "m2", "m3"], n_hours)
    frame = pd.DataFrame(
        {
            "hour": hours,
            "humidity": humidity,
            "machine": machine,
            "shift": rng.choice(["early", "late", "night"], len(hours)),
            "noise": rng.normal(size=len(hours)),
        }
    )
    frame["scrap"] = (
        0.02 + 0.002 * (humidity - 55) + 0.03 * (machine == "m2") + rng.normal(0, 0.006, len(hours))
    )
    return frame


@pytest.fixture(scope="module")
def plant() -> pd.DataFrame:
    return _plant()


@pytest.fixture(scope="module")
def ranking(plant: pd.DataFrame) -> Ranking:
    return rank_factors(
        plant[["humidity", "machine", "shift", "noise"]],
        plant["scrap"].to_numpy(),
        plant["hour"].to_numpy(),
        FAST,
    )


def _by_name(ranking: Ranking) -> dict[str, Factor]:
    return {f.name: f for f in ranking.factors}


def test_the_known_causes_rank_first_and_the_noise_is_not_significant(ranking: Ranking) -> None:
    by_name = _by_name(ranking)
    assert {f.name for f in ranking.factors[:2]} == {"humidity", "machine"}
    assert by_name["humidity"].significant
    assert by_name["machine"].significant
    assert not by_name["noise"].significant
    assert not by_name["shift"].significant
    assert by_name["noise"].ci_low <= ranking.noise_level + 0.01
    assert ranking.r2 > 0.7 > 0.05 > ranking.baseline_r2


def test_directions_say_which_values_raise_the_kpi(ranking: Ranking) -> None:
    humidity, machine = _by_name(ranking)["humidity"], _by_name(ranking)["machine"]
    assert humidity.direction == "increasing"
    assert humidity.effect > 0.02
    assert humidity.raises_at.startswith(">=")
    assert machine.direction == "categorical"
    assert machine.raises_at == "m2"
    assert machine.effect == pytest.approx(0.03, abs=0.01)
    heights = [h for _, h in humidity.dependence]
    assert heights[-1] > heights[0]


def test_a_falling_factor_is_decreasing() -> None:
    rng = np.random.default_rng(4)
    x = pd.DataFrame({"speed": rng.uniform(0, 10, 300), "noise": rng.normal(size=300)})
    y = 5.0 - 0.4 * x["speed"] + rng.normal(0, 0.3, 300)
    ranking = rank_factors(x, y.to_numpy(), np.arange(300), FAST)
    top = ranking.factors[0]
    assert (top.name, top.direction, top.significant) == ("speed", "decreasing", True)
    assert top.effect < -2


def test_weights_let_well_measured_rows_count_more() -> None:
    """Rows with few parts are noisy ratios; weighting by parts recovers the cause."""
    rng = np.random.default_rng(7)
    n = 400
    x = pd.DataFrame({"humidity": rng.uniform(40, 70, n)})
    parts = rng.choice([5, 500], n)
    p = 0.01 * np.exp((x["humidity"] - 55) / 15)
    ratio = rng.binomial(parts, p) / parts
    ranking = rank_factors(x, ratio, np.arange(n), FAST, weight=parts.astype(float))
    assert ranking.factors[0].significant
    assert ranking.factors[0].direction == "increasing"


def test_time_blocks_are_contiguous_purged_and_keep_a_time_together() -> None:
    times = np.repeat(np.arange(30), 2)
    folds = time_blocks(times, k=3, gap=2)
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(60))
    for train, test in folds:
        assert not set(times[train]) & set(times[test])
        held = times[test]
        assert held.max() - held.min() + 1 == len(set(held))  # one stretch of time
        distance = np.abs(times[train][:, None] - times[test][None, :]).min()
        assert distance > 2
    with pytest.raises(InvalidRequest, match="too few"):
        time_blocks(np.arange(5), k=3)
    with pytest.raises(InvalidRequest, match="at least 2"):
        time_blocks(np.arange(50), k=1)


def test_shapley_shares_add_up_to_the_linear_r2(plant: pd.DataFrame) -> None:
    factors = plant[["humidity", "machine", "noise"]].assign(
        machine=plant["machine"].astype("category")
    )
    y = plant["scrap"].to_numpy()
    shares = shapley_r2(factors, y)
    design = np.column_stack([np.ones(len(y)), *design_blocks(factors).values()])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    full = 1 - np.sum((y - design @ coef) ** 2) / np.sum((y - y.mean()) ** 2)
    assert sum(shares.values()) == pytest.approx(full, abs=1e-9)
    assert shares["humidity"] > shares["machine"] > 10 * max(shares["noise"], 1e-6)


def test_correlated_twins_split_their_share() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=500)
    frame = pd.DataFrame({"a": a, "twin": a + rng.normal(0, 0.05, 500)})
    frame = pd.concat(
        [frame, pd.DataFrame({f"x{i}": rng.normal(size=500) for i in range(10)})], axis=1
    )
    shares = shapley_r2(frame, a + rng.normal(0, 0.5, 500))  # 12 factors: sampled orders
    assert shares["a"] == pytest.approx(shares["twin"], rel=0.3)
    assert shares["a"] + shares["twin"] > 0.7


def test_factor_table_joins_kpis_with_tag_means_ambient_and_products() -> None:
    db = DuckDBHistorian(":memory:")
    db.upsert_assets([AssetInfo(CELL, 5.0, "press1")])
    batch = WriteBatch.empty()
    for second in range(0, 2 * HOUR, 60_000):
        hour = second // HOUR
        batch.metrics.append(Metrics(CELL, second, {"force_kn": 500.0 + 10 * hour}))
        batch.metrics.append(Metrics(STATION, second, {"humidity_pct": 50.0 + 20 * hour}))
    batch.counts += [CountUpdate(CELL, 0, 0, 0, 0), CountUpdate(CELL, HOUR, 100, 90, 10)]
    batch.events += [
        Event(CELL, 0, "order_start", {"order": "o1", "product": "panel-s"}),
        Event(CELL, HOUR + 60_000, "order_start", {"order": "o2", "product": "panel-l"}),
    ]
    db.write(batch)
    periods = pd.DataFrame(
        {
            "asset": [CELL, CELL],
            "start_ms": [0, HOUR],
            "end_ms": [HOUR, 2 * HOUR],
            "produced": [100, 0],
            "good": [90, 0],
            "scrap": [10, 0],
            "shift": ["early", "early"],
        }
    )
    table = factor_table(db, periods, HOUR)
    assert table["force_kn"].tolist() == [500.0, 510.0]
    assert table["station1.humidity_pct"].tolist() == [50.0, 70.0]
    assert table["product"].tolist() == ["panel-s", "panel-l"]
    assert table["cell"].tolist() == ["press1", "press1"]
    assert table["scrap_ratio"].iloc[0] == 0.1
    assert np.isnan(table["scrap_ratio"].iloc[1])
    db.close()


def test_explain_table_refuses_an_unknown_kpi_and_keeps_ingredients_out() -> None:
    with pytest.raises(InvalidRequest, match="unknown KPI"):
        explain_table(pd.DataFrame({"start_ms": [0]}), "yield")
    table = _plant(120).rename(columns={"hour": "start_ms", "scrap": "energy_per_part"})
    table = table.assign(produced=100, power_kw=table["energy_per_part"] * 50)
    ranking = explain_table(table, "energy_per_part", FAST)
    names = {f.name for f in ranking.factors}
    assert "power_kw" not in names
    assert "humidity" in names


def _write_plant(path: Path, seed: int) -> Path:
    _plant(200, seed).to_csv(path, index=False)
    return path


def test_train_predict_and_evaluate_through_the_cli(tmp_path: Path) -> None:
    data = _write_plant(tmp_path / "plant.csv", seed=0)
    common = ["--target", "scrap", "--time", "hour", "--folds", "4", "--param", "repeats=2"]
    trained = runner.invoke(
        app,
        [
            "ml",
            "train",
            "rootcause",
            "--data",
            str(data),
            *common,
            "--param",
            "max_iter=60",
            "--out",
            str(tmp_path / "scrap"),
        ],
    )
    assert trained.exit_code == 0, trained.output
    assert "importance.humidity" in trained.output
    _, card = registry.load_model(tmp_path / "scrap")
    assert card.task == "rootcause"
    assert card.split["kind"] == "time_blocks"
    ranking = card.metrics["ranking"]
    assert {ranking[0]["name"], ranking[1]["name"]} == {"humidity", "machine"}
    assert "noise" not in card.metrics["significant"]

    new = _write_plant(tmp_path / "later.csv", seed=1)
    predicted = runner.invoke(
        app,
        [
            "ml",
            "predict",
            str(tmp_path / "scrap"),
            "--data",
            str(new),
            "--out",
            str(tmp_path / "pred.csv"),
        ],
    )
    assert predicted.exit_code == 0, predicted.output
    out = pd.read_csv(tmp_path / "pred.csv")
    assert np.corrcoef(out["prediction"], out["scrap"])[0, 1] > 0.8

    evaluated = runner.invoke(
        app, ["ml", "evaluate", str(tmp_path / "scrap"), "--data", str(new), "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    metrics = orjson.loads(evaluated.output)
    assert metrics["trained_model"]["r2"] > 0.6
    assert metrics["ranking"][0]["name"] in {"humidity", "machine"}


def test_the_task_reports_bad_options_clearly(tmp_path: Path) -> None:
    frame = _plant(60)
    task = task_for("rootcause")
    with pytest.raises(InvalidRequest, match="--target"):
        task.train(frame, TrainOptions())
    with pytest.raises(InvalidRequest, match="unknown --param"):
        task.train(frame, TrainOptions(target="scrap", params={"trees": 5}))
    with pytest.raises(InvalidRequest, match="--drop"):
        task.train(frame, TrainOptions(target="scrap", drop=("nope",)))


def test_unknown_categories_are_predicted_as_missing() -> None:
    frame = _plant(120)
    params = {"repeats": 1, "max_iter": 30}
    options = TrainOptions(target="scrap", time="hour", folds=3, params=params)
    trained = task_for("rootcause").train(frame, options)
    later = frame.head(6).assign(machine="m9")
    predicted = trained.model.predict(later)
    assert predicted.shape == (6,)
    assert np.isfinite(predicted).all()
