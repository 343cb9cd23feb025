"""Failure risk on real AI4I 2020 rows: honest CV, leakage refused, physics features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from andon.ml.maintenance import FailureClassifier, FeaturePlan
from andon.ml.maintenance.tasks import FailureTask
from andon.ml.tables import TableError
from andon.ml.tasks import TrainOptions

MODES = ("TWF", "HDF", "PWF", "OSF", "RNF")
TARGET = "Machine failure"


@pytest.fixture(scope="module")
def ai4i(shared_datasets: Path) -> pd.DataFrame:
    frame = pd.read_csv(shared_datasets / "ai4i2020" / "ai4i2020.csv", encoding="utf-8-sig")
    # 2,000 rows keeping the failure rate (3.4 %): a test-sized sample of the real data.
    return frame.groupby(TARGET, group_keys=False).sample(frac=0.2, random_state=0)


def test_cross_validated_f1_on_real_rows(ai4i: pd.DataFrame) -> None:
    options = TrainOptions(
        target=TARGET,
        drop=("UDI", "Product ID", *MODES),
        folds=3,
        params={"n_estimators": 100},
    )
    trained = FailureTask().train(ai4i, options)
    cv, baseline = trained.card.metrics["cv"], trained.card.metrics["baseline"]
    assert cv["positives"] == int(ai4i[TARGET].sum())
    assert cv["f1"] >= 0.65  # measured: 0.79 on this sample (0.89 on all 10,000 rows)
    assert cv["roc_auc"] >= 0.9  # measured: 0.95
    assert cv["f1"] > baseline["f1"] + 0.2  # the logistic baseline without physics features
    assert trained.card.split == {
        "kind": "stratified",
        "k": 3,
        "seed": 0,
        "test_fraction": 0.2,
        "target": TARGET,
        "group": None,
    }
    assert {"power_w", "temp_diff", "strain"} <= set(trained.card.features)
    assert not set(MODES) & set(trained.card.features)


def test_failure_mode_columns_are_refused_as_inputs(ai4i: pd.DataFrame) -> None:
    options = TrainOptions(target=TARGET, drop=("UDI", "Product ID"), folds=3)
    with pytest.raises(TableError, match=r"failure labels.*--drop"):
        FailureTask().train(ai4i, options)


def test_the_plan_reads_roles_units_and_categories(ai4i: pd.DataFrame) -> None:
    X = ai4i.drop(columns=[TARGET, *MODES])
    plan = FeaturePlan.learn(X, ai4i[TARGET])
    assert plan.roles == {
        "air_temp": "Air temperature [K]",
        "process_temp": "Process temperature [K]",
        "speed_rpm": "Rotational speed [rpm]",
        "torque": "Torque [Nm]",
        "tool_wear": "Tool wear [min]",
    }
    assert plan.kelvin == {"air_temp": True, "process_temp": True}
    assert sorted(plan.categories["Type"]) == ["H", "L", "M"]
    assert plan.categories["Type"][-1] == "L"  # ordered by failure rate: L fails most
    assert "Product ID" in plan.ignored  # an identifier, not a signal


def test_fast_probabilities_equal_scikit_learns(ai4i: pd.DataFrame) -> None:
    X = ai4i.drop(columns=[TARGET, "UDI", "Product ID", *MODES])
    model = FailureClassifier(n_estimators=30).fit(X, ai4i[TARGET])
    reference = model.estimator_.predict_proba(model.plan_.transform(X))
    np.testing.assert_allclose(model.predict_proba(X), reference, atol=1e-6)


def test_failure_type_is_a_multiclass_task(ai4i: pd.DataFrame) -> None:
    frame = ai4i.drop(columns=["UDI", "Product ID", TARGET]).copy()
    frame["mode"] = "none"
    for mode in MODES:
        frame.loc[frame[mode] == 1, "mode"] = mode
    frame = frame[frame["mode"].isin(["none", "HDF", "PWF", "OSF"])].drop(columns=list(MODES))
    options = TrainOptions(target="mode", folds=3, params={"n_estimators": 60})
    trained = FailureTask().train(frame, options)
    cv = trained.card.metrics["cv"]
    assert cv["labels"] == ["HDF", "OSF", "PWF", "none"]
    assert cv["macro_f1"] >= 0.5
