"""The virtual factory end to end with models learned from its own history, as ``andon demo``
runs it: history -> :func:`learn_from_history` -> :class:`LiveScorer` on the ingest stream.
The machines' failure risk must rise before their failures, and alerts must say so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from andon import sim
from andon.config import IngestSettings
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline
from andon.ml.learn import failure_table, learn_from_history, recent_records
from andon.ml.live import LiveScorer, ScoringConfig
from andon.signals import Metrics, StateChange

pytestmark = pytest.mark.slow

T0 = 1_763_700_000_000
HOUR_MS = 3_600_000
FAILURE = 180000
# The demo plant's machining line with AI4I's part-to-part spread of torque and power, so
# that process failures (overstrain, power, heat, tool wear) come often enough to learn.
SPREAD = "torque_sd_nm: 10, power_sd_w: 1070"


def _scenario(tmp_path: Path) -> sim.Scenario:
    text = (Path(sim.__file__).parent / "scenarios" / "demo.yaml").read_text(encoding="utf-8")
    line1 = text[: text.index("  - area: forming")]
    line1 = line1.replace("params: {spindle_rpm: 1450}", f"params: {{spindle_rpm: 1450, {SPREAD}}}")
    line1 = line1.replace(
        "ideal_cycle_time_s: 42}", f"ideal_cycle_time_s: 42, params: {{{SPREAD}}}}}"
    )
    line1 = line1.replace("params: {spindle_rpm: 1600}", f"params: {{spindle_rpm: 1600, {SPREAD}}}")
    path = tmp_path / "cnc_line.yaml"
    path.write_text(line1, encoding="utf-8")
    return sim.load_scenario(str(path))


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DuckDBHistorian, Path]]:
    """Eight hours of history, the models learned from it, then four hours scored live."""
    tmp = tmp_path_factory.mktemp("factory")
    historian = DuckDBHistorian(tmp / "plant.duckdb")
    factory = sim.Factory(_scenario(tmp), seed=3, start_ms=T0)
    with Pipeline(historian, IngestSettings(batch_size=5000)) as pipeline:
        _run(factory, pipeline, 8 * 3600)
    yield historian, tmp
    historian.close()


def _run(factory: sim.Factory, pipeline: Pipeline, seconds: int) -> None:
    for _ in range(seconds):
        for topic, payload in factory.step():
            pipeline.submit(topic, payload)


def _series(historian: DuckDBHistorian, asset: str, tag: str, start: int, end: int) -> pd.Series:
    [info] = [t for t in historian.tags(asset) if t.asset == asset and t.name == tag]
    rows = historian.series(info.id, start, end)
    return pd.Series([v for _, v in rows], index=[t for t, _ in rows])


def test_the_failure_table_labels_the_minutes_before_failures(
    plant: tuple[DuckDBHistorian, Path],
) -> None:
    historian, _ = plant
    cnc = [a.path for a in historian.assets() if "/cnc" in a.path]
    table, target = failure_table(historian, cnc, T0, T0 + 8 * HOUR_MS, horizon_ms=60_000)
    assert set(table.columns) == {
        "air_temp_c", "process_temp_c", "spindle_speed_rpm", "torque_nm", "tool_wear_min",
        "power_kw",
    }  # fmt: skip
    assert set(np.unique(target)) == {0, 1}
    assert 300 <= target.sum() <= 60 * 40  # a minute before each of some 10-40 failures
    assert len(table) < 8 * 3600 * 3 / 5  # quiet rows thinned


def test_risk_rises_before_failures_with_models_learned_from_the_plant(
    plant: tuple[DuckDBHistorian, Path],
) -> None:
    historian, tmp = plant
    scenario = _scenario(tmp)
    cnc = [m.path for m in sim.Factory(scenario, seed=3, start_ms=T0).machines]
    models = tmp / "models"
    learned = learn_from_history(historian, {"cnc": cnc}, models, T0, T0 + 8 * HOUR_MS)
    assert learned.notes[0].startswith("cnc: failure model from")
    assert len(learned.failure) == len(learned.rul) == 3
    again = learn_from_history(historian, {"cnc": cnc}, models, T0, T0 + 8 * HOUR_MS)
    assert again.notes == []  # stored in the registry and reused on the next start
    assert sorted(p.name for p in models.iterdir()) == ["cnc-failure", "cnc-rul"]

    # The same plant goes on (a new seed: days the models have not seen), scored live.
    start = T0 + 8 * HOUR_MS
    factory = sim.Factory(scenario, seed=11, start_ms=start)
    scorer = LiveScorer(historian, ScoringConfig(anomaly=False))
    scorer.attach(failure=tuple(again.failure), rul=tuple(again.rul), models=again.models)
    with Pipeline(historian, IngestSettings(batch_size=5000), streams=[scorer]) as pipeline:
        _run(factory, pipeline, 4 * 3600)
    end = factory.now_ms + 1
    before, everything, warned, failures = [], [], 0, 0
    for path in cnc:
        risk = _series(historian, path, "ml_failure_risk", start, end)
        assert risk.between(0, 1).all()
        everything.append(risk.to_numpy())
        alerts = scorer.book.alerts(asset=path, limit=1000)
        for stop in historian.state_timeline(path, start, end):
            if stop.code != FAILURE or stop.reason == "random_failure":
                continue  # random failures give no sign
            last = risk[(risk.index >= stop.ts_ms - 60_000) & (risk.index < stop.ts_ms)]
            if len(last):
                failures += 1
                before.append(float(last.max()))
                warned += any(stop.ts_ms - 120_000 <= a.opened_ms <= stop.ts_ms for a in alerts)
    overall = float(np.mean(np.concatenate(everything)))
    assert failures >= 6  # measured: 10 process failures in the 4 live hours
    assert np.mean(before) > 8 * overall  # measured: 0.64 in the last minute against 0.047
    assert np.mean(np.asarray(before) >= 0.5) >= 0.5  # measured: 7 of 10
    assert warned >= failures / 2  # an alert opened in the 2 minutes before: 7 of 10
    rul = _series(historian, cnc[0], "ml_rul", start, end)
    assert len(rul) > 60  # one estimate per minute of production
    assert scorer.health(cnc[0])["rul"] >= 0.0


def test_recent_history_replays_in_order_and_ends_with_each_state(
    plant: tuple[DuckDBHistorian, Path],
) -> None:
    historian, _ = plant
    cnc = sorted(a.path for a in historian.assets() if "/cnc" in a.path)
    end = T0 + 8 * HOUR_MS
    records = recent_records(historian, cnc, end - 600_000, end)
    metrics = [r for r in records if isinstance(r, Metrics)]
    states = [r for r in records if isinstance(r, StateChange)]
    assert [r.ts_ms for r in metrics] == sorted(r.ts_ms for r in metrics)
    assert all(end - 600_000 <= r.ts_ms < end for r in metrics)
    assert 0 < len(metrics) <= 3 * 600  # producing seconds only
    assert set(metrics[0].values) >= {"torque_nm", "tool_wear_min"}
    assert sorted(s.asset for s in states) == cnc  # each machine's state at the end, last
    assert records[-len(states) :] == states
    assert all(s.ts_ms == end for s in states)
