"""One contract suite per kind of model, run on every implementation (STYLE.md habit 8)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from andon.ml.anomaly import DiscordDetector, GaussianWindow, MultiDetector, PageHinkley
from andon.ml.contracts import BatchModel, Classifier, StreamingDetector, clone
from andon.ml.maintenance import FailureClassifier, RulRegressor
from andon.ml.tables import TableError

# -- streaming detectors --------------------------------------------------------------------

DETECTORS: dict[str, Callable[[], StreamingDetector]] = {
    "discord": lambda: DiscordDetector(probation=40, lengths=(2, 4), memory=300),
    "gaussian": lambda: GaussianWindow(window=50),
    "drift": lambda: PageHinkley(probation=40, threshold=10.0),
    "multi": lambda: MultiDetector("discord", {"probation": 40, "memory": 300}),
}


def _series(n: int = 300, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    values = 10 + np.sin(np.arange(n) / 5) + rng.normal(0, 0.1, n)
    values[200] += 6  # a spike
    values[250:] += 3  # a level shift
    return [float(v) for v in values]


def _run(detector: StreamingDetector, values: list[float], key: str = "v") -> list[float]:
    scores = []
    for value in values:
        x = {key: value}
        scores.append(detector.score_one(x))
        detector.learn_one(x)
    return scores


@pytest.fixture(params=sorted(DETECTORS))
def make(request: pytest.FixtureRequest) -> Callable[[], StreamingDetector]:
    return DETECTORS[request.param]


def test_detector_follows_the_protocol_and_clones(make: Callable[[], StreamingDetector]) -> None:
    detector = make()
    assert isinstance(detector, StreamingDetector)
    twin = clone(detector)
    assert type(twin) is type(detector)
    assert twin.get_params() == detector.get_params()


def test_scores_are_probabilities(make: Callable[[], StreamingDetector]) -> None:
    scores = _run(make(), _series())
    assert all(0.0 <= s <= 1.0 and not math.isnan(s) for s in scores)


def test_score_one_does_not_change_the_model(make: Callable[[], StreamingDetector]) -> None:
    values = _series()
    plain, probed = make(), make()
    for value in values:
        plain.learn_one({"v": value})
        probed.score_one({"v": value + 5.0})  # a probe must leave no trace
        probed.learn_one({"v": value})
        assert probed.score_one({"v": value}) == probed.score_one({"v": value})
    assert plain.score_one({"v": 10.0}) == probed.score_one({"v": 10.0})


def test_no_look_ahead(make: Callable[[], StreamingDetector]) -> None:
    values = _series()
    short = _run(make(), values[:220])
    full = _run(make(), values)
    assert short == full[:220]


def test_same_stream_same_scores(make: Callable[[], StreamingDetector]) -> None:
    values = _series()
    assert _run(make(), values) == _run(make(), values)


def test_missing_values_are_skipped(make: Callable[[], StreamingDetector]) -> None:
    values = _series()
    with_gaps = [*values[:100], math.nan, *values[100:]]
    scores = _run(make(), with_gaps)
    assert scores[100] == 0.0
    assert scores[101:] == _run(make(), values)[100:]


def test_the_spike_stands_out() -> None:
    for name in ("discord", "gaussian", "multi"):
        scores = _run(DETECTORS[name](), _series())
        assert scores[200] >= 0.99, name
        assert np.median(scores[60:190]) < 0.9, name


def test_the_drift_detector_sees_the_level_shift() -> None:
    scores = _run(DETECTORS["drift"](), _series())
    assert max(scores[250:]) >= 1.0
    assert max(scores[60:190]) < 1.0


def test_multi_detector_scores_each_tag() -> None:
    multi = MultiDetector("gaussian", {"window": 50})
    for i in range(100):
        multi.learn_one({"a": float(i % 3), "b": 5.0 + 0.01 * (i % 2)})
    per_tag = multi.score_many({"a": 1.0, "b": 9.0, "new": 1.0})
    assert per_tag["b"] > 0.99 > per_tag["a"]
    assert per_tag["new"] == 0.0
    assert multi.score_one({"a": 1.0, "b": 9.0}) == per_tag["b"]


def test_unknown_detector_is_refused() -> None:
    with pytest.raises(TableError, match="unknown detector"):
        MultiDetector("oracle")


# -- batch models -------------------------------------------------------------------------


def _failure_data(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "torque_nm": rng.normal(40, 10, n),
            "rpm": rng.normal(1500, 150, n),
            "grade": rng.choice(["L", "M", "H"], n),
        }
    )
    y = ((X["torque_nm"] * X["rpm"] > 72_000) | (rng.random(n) < 0.02)).astype(int).to_numpy()
    return X, y


def _rul_data(units: int = 12, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(units):
        life = 60 + 5 * u
        for t in range(1, life + 1):
            rows.append((u, t, 5 * (t / life) ** 2 + rng.normal(0, 0.1), rng.normal(0, 1)))
    X = pd.DataFrame(rows, columns=["unit", "time", "wear", "noise"])
    y = (X.groupby("unit")["time"].transform("max") - X["time"]).to_numpy(dtype=float)
    return X, y


BATCH: dict[str, tuple[Callable[[], BatchModel], Callable[[], tuple[pd.DataFrame, np.ndarray]]]] = {
    "failure-forest": (lambda: FailureClassifier(n_estimators=40), _failure_data),
    "failure-logistic": (lambda: FailureClassifier(model="logistic"), _failure_data),
    "rul-gbm": (lambda: RulRegressor(n_estimators=60, learning_rate=0.1, seeds=2), _rul_data),
    "rul-linear": (lambda: RulRegressor(model="linear"), _rul_data),
}


@pytest.fixture(params=sorted(BATCH))
def batch(request: pytest.FixtureRequest) -> tuple[BatchModel, pd.DataFrame, np.ndarray]:
    make, data = BATCH[request.param]
    X, y = data()
    return make(), X, y


def test_batch_model_follows_the_protocol(
    batch: tuple[BatchModel, pd.DataFrame, np.ndarray],
) -> None:
    model, X, y = batch
    assert isinstance(model, BatchModel)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert model.fit(X, y) is model
    prediction = model.predict(X)
    assert prediction.shape == (len(X),)
    assert not hasattr(clone(model), "estimator_")  # a clone is unfitted


def test_batch_model_is_deterministic_and_row_order_free(
    batch: tuple[BatchModel, pd.DataFrame, np.ndarray],
) -> None:
    model, X, y = batch
    first = clone(model).fit(X, y).predict(X)
    again = clone(model).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, again)
    shuffled = np.random.default_rng(1).permutation(len(X))
    reordered = model.fit(X, y).predict(X.iloc[shuffled])
    np.testing.assert_allclose(reordered, first[shuffled])


def test_batch_model_learns_something(
    batch: tuple[BatchModel, pd.DataFrame, np.ndarray],
) -> None:
    model, X, y = batch
    prediction = model.fit(X, y).predict(X)
    if isinstance(model, FailureClassifier):
        assert np.mean(prediction == y) > 0.85
    else:
        rmse = float(np.sqrt(np.mean((prediction - np.minimum(y, 125)) ** 2)))
        assert rmse < 0.6 * float(np.std(np.minimum(y, 125)))


def test_classifiers_give_probabilities() -> None:
    X, y = _failure_data()
    for model in (FailureClassifier(n_estimators=40), FailureClassifier(model="logistic")):
        assert isinstance(model, Classifier)
        proba = model.fit(X, y).predict_proba(X)
        assert proba.shape == (len(X), 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
