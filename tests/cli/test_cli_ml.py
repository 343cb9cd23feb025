"""``andon ml`` as a user runs it, on real data files: train, predict, evaluate, detect, models."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from andon.cli import app

runner = CliRunner()
AI4I_DROP = "UDI,Product ID,TWF,HDF,PWF,OSF,RNF"
CMAPSS = ["unit", "time", "setting1", "setting2", "setting3"] + [f"s{i}" for i in range(1, 22)]


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def ai4i_files(
    shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    frame = pd.read_csv(shared_datasets / "ai4i2020" / "ai4i2020.csv", encoding="utf-8-sig")
    sample = frame.groupby("Machine failure", group_keys=False).sample(frac=0.25, random_state=1)
    held_out = frame.drop(sample.index).sample(1500, random_state=2)
    folder = tmp_path_factory.mktemp("ai4i")
    sample.to_csv(folder / "train.csv", index=False)
    held_out.to_parquet(folder / "held_out.parquet", index=False)
    return folder / "train.csv", folder / "held_out.parquet"


def test_train_predict_evaluate_failure(ai4i_files: tuple[Path, Path], tmp_path: Path) -> None:
    train, held_out = ai4i_files
    models = tmp_path / "models"
    # fmt: off
    card = json.loads(_ok([
        "ml", "train", "failure", "--data", str(train), "--target", "Machine failure",
        "--drop", AI4I_DROP, "--out", str(models / "ai4i"), "--folds", "3",
        "--param", "n_estimators=80", "--json",
    ]))
    # fmt: on
    assert (card["task"], card["version"], card["split"]["kind"]) == ("failure", 1, "stratified")
    assert card["metrics"]["cv"]["f1"] > card["metrics"]["baseline"]["f1"]
    assert card["data"]["rows"] == 2500

    out = tmp_path / "predictions.csv"
    _ok(["ml", "predict", str(models / "ai4i"), "--data", str(held_out), "--out", str(out)])
    predictions = pd.read_csv(out)
    assert list(predictions.columns[-2:]) == ["prediction", "probability"]
    assert len(predictions) == 1500
    assert predictions["probability"].between(0, 1).all()

    report = tmp_path / "report.html"
    metrics = json.loads(
        _ok(
            [
                "ml",
                "evaluate",
                str(models / "ai4i"),
                "--data",
                str(held_out),
                "--json",
                "--report",
                str(report),
            ]
        )
    )
    assert metrics["n"] == 1500
    assert metrics["f1"] >= 0.6
    page = report.read_text(encoding="utf-8")
    for title in ("Confusion matrix", "Calibration", "Feature importance"):
        assert title in page
    assert "<script src=" not in page  # plotly.js inlined: nothing fetched by the browser

    listing = json.loads(_ok(["ml", "models", "--root", str(models), "--json"]))
    assert [(m["name"], m["task"]) for m in listing] == [("ai4i", "failure")]
    assert "ai4i" in _ok(["ml", "models", "--root", str(models)])


def test_train_rul_on_run_to_failure_units(shared_datasets: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(
        shared_datasets / "cmapss" / "train_FD001.txt", sep=r"\s+", header=None, names=CMAPSS
    )
    data = tmp_path / "engines.csv"
    frame[frame["unit"] <= 15].to_csv(data, index=False)
    # fmt: off
    output = _ok([
        "ml", "train", "rul", "--data", str(data), "--unit", "unit", "--time", "time",
        "--cap", "125", "--out", str(tmp_path / "rul"), "--folds", "3",
        "--param", "n_estimators=100", "--param", "learning_rate=0.1", "--param", "seeds=1",
    ])
    # fmt: on
    assert "rul model rul v1 (group)" in output
    metrics = json.loads(
        _ok(["ml", "evaluate", str(tmp_path / "rul"), "--data", str(data), "--json"])
    )
    assert metrics["units"] == 15
    assert metrics["truth"] == "run to failure (last time - time)"
    assert metrics["last"]["rmse"] < 20  # the last cycle of a run to failure: RUL 0

    held_out = frame[frame["unit"].between(16, 25)]  # engines cut short, true RUL given
    cut = held_out[held_out["time"] <= held_out.groupby("unit")["time"].transform("max") - 40]
    cut = cut.assign(rul=cut.groupby("unit")["time"].transform("max") - cut["time"] + 40)
    cut.to_csv(tmp_path / "cut.csv", index=False)
    metrics = json.loads(
        _ok(
            ["ml", "evaluate", str(tmp_path / "rul"), "--data", str(tmp_path / "cut.csv"), "--json"]
        )
    )
    assert metrics["truth"] == "column 'rul'"
    assert metrics["last"]["rmse"] < 30  # true RUL 40 at every last cycle


def test_detect_flags_the_machine_temperature_failure(
    shared_datasets: Path, tmp_path: Path
) -> None:
    data = (
        shared_datasets
        / "nab"
        / "data"
        / "realKnownCause"
        / "ambient_temperature_system_failure.csv"
    )
    out = tmp_path / "scores.csv"
    output = _ok(
        [
            "ml",
            "detect",
            "--data",
            str(data),
            "--time",
            "timestamp",
            "--value",
            "value",
            "--out",
            str(out),
        ]
    )
    scores = pd.read_csv(out)
    assert list(scores.columns) == ["timestamp", "value", "score", "anomaly"]
    assert len(scores) == 7267
    flagged = scores[scores["anomaly"] == 1]
    assert 1 <= len(flagged) <= 60
    assert f"{len(flagged)} anomalies" in output


def test_detect_several_columns_at_once(tmp_path: Path) -> None:
    rows = [{"t": i, "a": float(i % 7), "b": 3.0 + (i % 5) * 0.1} for i in range(400)]
    rows[350]["b"] = 40.0
    data = tmp_path / "pump.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    out = tmp_path / "scored.parquet"
    _ok(["ml", "detect", "--data", str(data), "--time", "t", "--value", "a,b", "--out", str(out)])
    scored = pd.read_parquet(out)
    assert {"score_a", "score_b", "score", "anomaly"} <= set(scored.columns)
    assert scored.loc[350, "anomaly"] == 1
    assert scored.loc[350, "score_b"] > scored.loc[350, "score_a"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ml", "train", "forecast9", "--data", "x.csv", "--out", "m"], "unknown task"),
        (
            ["ml", "train", "failure", "--data", "missing.csv", "--out", "m", "--target", "y"],
            "no data file",
        ),
        (["ml", "predict", "nowhere", "--data", "x.csv", "--out", "p.csv"], "no trained model"),
    ],
)
def test_errors_are_one_clear_line(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output


def test_a_missing_column_names_the_option(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    pd.DataFrame({"a": [1, 2, 3]}).to_csv(data, index=False)
    result = runner.invoke(
        app,
        [
            "ml",
            "train",
            "failure",
            "--data",
            str(data),
            "--target",
            "label",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 1
    assert "--target: no column ['label']" in result.output
