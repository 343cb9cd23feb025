"""The live scorer's failure alerts follow the levels a model card calibrated, field by field
unless the settings fix them; the replay used to choose them opens alerts as AlertBook does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from andon.config import MlSettings
from andon.historian import DuckDBHistorian
from andon.ml.alerts import AlertBook, AlertPolicy, openings
from andon.ml.live import LiveScorer, ScoringConfig
from andon.ml.maintenance import FailureClassifier
from andon.ml.registry import ModelCard, save_model
from andon.signals import Metrics

M1 = "acme/p1/machining/line1/cnc1"


def _model(directory: Path, alert: dict[str, float] | None) -> Path:
    rng = np.random.default_rng(0)
    torque = rng.normal(40, 5, 400)
    frame = pd.DataFrame({"torque_nm": torque, "temp_c": rng.normal(30, 1, 400)})
    model = FailureClassifier(n_estimators=5).fit(frame, (torque > 46).astype(int))
    options = {} if alert is None else {"alert": alert}
    save_model(directory, model, ModelCard(task="failure", options=options))
    return directory


def _policy(ml: MlSettings) -> AlertPolicy:
    scorer = LiveScorer(DuckDBHistorian(":memory:"), ScoringConfig.from_settings(ml))
    scorer.publish([Metrics(M1, 1000, {"torque_nm": 41.0, "temp_c": 30.0})])
    return scorer.failure_policy(M1)


def test_card_levels_apply_where_the_settings_leave_them_open(tmp_path: Path) -> None:
    _model(tmp_path / "cnc-failure", {"warning": 0.2, "critical": 0.6, "clear": 0.12})
    _model(tmp_path / "plain-failure", None)
    base = {"models_dir": str(tmp_path), "anomaly": False}
    calibrated = _policy(MlSettings(**base, failure={"*/cnc*": "cnc-failure"}))
    assert (calibrated.warning, calibrated.critical, calibrated.clear) == (0.2, 0.6, 0.12)
    assert calibrated.confirm == 2  # what the card does not say stays as it was
    plain = _policy(MlSettings(**base, failure={"*/cnc*": "plain-failure"}))
    assert (plain.warning, plain.critical, plain.clear) == (0.5, 0.8, 0.3)
    # The settings fix warning: the card still sets the others, kept in order.
    mixed = _policy(
        MlSettings(**base, failure={"*/cnc*": "cnc-failure"}, failure_alert={"warning": 0.7})
    )
    assert (mixed.warning, mixed.critical, mixed.clear) == (0.7, 0.7, 0.12)


def test_openings_replay_the_alert_book() -> None:
    rng = np.random.default_rng(3)
    values = np.clip(np.cumsum(rng.normal(0, 0.08, 3000)) % 1.0, 0, 1)
    readings = [(i * 5000, float(v)) for i, v in enumerate(values)]
    policy = AlertPolicy(warning=0.6, critical=0.85, clear=0.4, confirm=2, clear_after_ms=30_000)
    book = AlertBook(DuckDBHistorian(":memory:"))
    for ts, value in readings:
        book.observe(M1, "failure_risk", "", ts, value, policy)
    stored = sorted(a.opened_ms for a in book.alerts(limit=10_000))
    replayed = openings(readings, policy)
    assert len(replayed) > 5
    assert replayed == stored
