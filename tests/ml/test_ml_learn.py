"""Alert levels of a learned failure model, chosen on held-out time of the plant's history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from andon.historian import DuckDBHistorian, WriteBatch
from andon.ml.learn import alert_levels, learn_from_history
from andon.ml.live import LiveScorer, ScoringConfig
from andon.ml.registry import read_card
from andon.signals import Metrics, Sample, StateChange

T0 = 1_763_700_000_000
HOUR_MS = 3_600_000
M1, M2 = "acme/p1/machining/line1/mill1", "acme/p1/machining/line1/mill2"


def _plant(historian: DuckDBHistorian, hours: float, seed: int) -> dict[str, list[int]]:
    """Two mills, one row a second; torque creeps up in the two minutes before each failure
    (every 20-40 min, 3 min down), as worn tools do. Returns the failure starts."""
    rng = np.random.default_rng(seed)
    failures: dict[str, list[int]] = {}
    for asset in (M1, M2):
        seconds = int(hours * 3600)
        ts = T0 + np.arange(seconds) * 1000
        torque = rng.normal(40.0, 2.0, seconds)
        states, starts, t = [StateChange(asset, T0, 10000)], [], 0
        while True:
            t += int(rng.integers(1200, 2400))
            if t + 180 >= seconds:
                break
            torque[t - 120 : t] += np.linspace(0, 12, 120)
            starts.append(int(ts[t]))
            states += [
                StateChange(asset, int(ts[t]), 180000),
                StateChange(asset, int(ts[t + 180]), 10000),
            ]
            t += 180
        samples = [
            Sample(asset, "torque_nm", int(a), float(b)) for a, b in zip(ts, torque, strict=True)
        ]
        samples += [
            Sample(asset, "temp_c", int(a), 30.0 + float(b) / 10)
            for a, b in zip(ts, torque, strict=True)
        ]
        historian.write(WriteBatch([], samples, states, [], []))
        failures[asset] = starts
    return failures


@pytest.fixture
def historian(tmp_path: Path) -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(tmp_path / "plant.duckdb")
    yield h
    h.close()


def test_the_level_balances_precision_and_recall() -> None:
    ts = np.arange(0, 3_600_000, 5_000)
    rng = np.random.default_rng(0)
    risk = rng.uniform(0.0, 0.15, len(ts))
    starts = [600_000, 1_800_000, 3_000_000]
    for start in starts:  # a rise to ~0.3 in the minute before each failure: below 0.5
        risk[(ts >= start - 60_000) & (ts < start)] = 0.3
    levels = alert_levels(
        {"m": (ts, risk)}, {"m": starts}, {"m": starts}, horizon_ms=120_000, hours=1
    )
    assert levels is not None
    assert 0.15 <= levels["warning"] <= 0.3
    assert levels["recall"] == 1.0
    assert levels["precision"] == 1.0
    assert levels["clear"] < levels["warning"] < levels["critical"] < 1
    # no failure to announce: nothing to calibrate on
    assert (
        alert_levels({"m": (ts, risk)}, {"m": []}, {"m": []}, horizon_ms=120_000, hours=1) is None
    )


def test_learned_failure_model_carries_levels_chosen_on_held_out_time(
    historian: DuckDBHistorian, tmp_path: Path
) -> None:
    failures = _plant(historian, 6, seed=1)
    end = T0 + 6 * HOUR_MS
    learned = learn_from_history(
        historian, {"mill": [M1, M2]}, tmp_path / "models", T0, end, n_estimators=20
    )
    assert [a.pattern for a in learned.failure] == [M1, M2]
    card = read_card(tmp_path / "models" / "mill-failure")
    split = card.split
    assert split["kind"] == "time"
    # the later part of the window holding the last third of the failures, nothing after it
    starts = sorted(t for ts in failures.values() for t in ts)
    held = [t for t in starts if t >= split["calibration_from_ms"]]
    assert len(held) == round(len(starts) / 3)
    assert split["calibration_from_ms"] < held[0] - 120_000  # with its warning minutes
    assert split["calibration_to_ms"] == end
    levels = card.options["alert"]
    assert 0 < levels["clear"] < levels["warning"] <= levels["critical"] < 1
    assert card.metrics["heldout_alert_recall"] >= 0.5  # measured: 1.0 on 6 held-out failures
    assert "alert at" in " ".join(learned.notes)

    # A scorer attached to the learned model alerts at the card's level, not at 0.5 ...
    scorer = LiveScorer(historian, ScoringConfig(anomaly=False))
    scorer.attach(failure=tuple(learned.failure), models=learned.models)
    scorer.publish([Metrics(M1, end + 1000, {"torque_nm": 40.0, "temp_c": 34.0})])
    assert scorer.failure_policy(M1).warning == levels["warning"]
    # ... unless the settings fix it (``failure_policy`` in the scoring section)
    fixed = ScoringConfig.from_mapping(
        {"anomaly": False, "failure_policy": {"warning": 0.7, "critical": 0.9, "clear": 0.4}}
    )
    scorer = LiveScorer(historian, fixed)
    scorer.attach(failure=tuple(learned.failure), models=learned.models)
    scorer.publish([Metrics(M1, end + 2000, {"torque_nm": 40.0, "temp_c": 34.0})])
    assert scorer.failure_policy(M1).warning == 0.7


def test_without_held_out_failures_the_default_levels_stay(
    historian: DuckDBHistorian, tmp_path: Path
) -> None:
    failures = _plant(historian, 1.6, seed=2)
    end = T0 + int(1.6 * HOUR_MS)
    learned = learn_from_history(
        historian,
        {"mill": [M1, M2]},
        tmp_path / "models",
        T0,
        end,
        n_estimators=10,
        calibration_share=0,  # none held out
    )
    assert sum(map(len, failures.values())) >= 3
    card = read_card(tmp_path / "models" / "mill-failure")
    assert "alert" not in card.options
    scorer = LiveScorer(historian, ScoringConfig(anomaly=False))
    scorer.attach(failure=tuple(learned.failure), models=learned.models)
    scorer.publish([Metrics(M1, end + 1000, {"torque_nm": 40.0, "temp_c": 34.0})])
    assert scorer.failure_policy(M1).warning == 0.5
