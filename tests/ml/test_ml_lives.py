"""Lives of a component: the live tracker buckets exactly as the training table does."""

from __future__ import annotations

import numpy as np
import pandas as pd

from andon.historian import DuckDBHistorian, WriteBatch
from andon.ml.lives import LifeTracker, life_table
from andon.signals import Metrics, StateChange

ASSET = "acme/p1/mach/l1/cnc1"
T0 = 1_763_700_000_000


def _records() -> list[Metrics]:
    rng = np.random.default_rng(0)
    wear, records = 0.0, []
    for second in range(3 * 3600):
        wear = 0.0 if second % 2400 == 0 else wear + 1 / 60  # a new tool every 40 minutes
        values = {"tool_wear_min": round(wear, 3), "torque_nm": 40 + wear / 10 + rng.normal()}
        records.append(Metrics(ASSET, T0 + second * 1000, values))
    return records


def test_the_tracker_sees_what_the_training_table_saw() -> None:
    historian = DuckDBHistorian(":memory:")
    records = _records()
    stop = StateChange(ASSET, T0 + 600_000, 180000)  # ten minutes of failure: not production
    batch = WriteBatch.empty()
    batch.metrics += records
    batch.states += [StateChange(ASSET, T0, 10000), stop, StateChange(ASSET, T0 + 1_200_000, 10000)]
    historian.write(batch)
    table = life_table(historian, [ASSET], "tool_wear_min", T0, T0 + 3 * 3_600_000)
    assert list(table.columns) == ["asset", "life", "tool_wear_min", "torque_nm"]
    assert table["life"].unique().tolist() == ["cnc1#1", "cnc1#2", "cnc1#3", "cnc1#4"]

    tracker = LifeTracker("tool_wear_min")
    seen: list[pd.DataFrame] = []
    for record in records:
        if stop.ts_ms <= record.ts_ms < T0 + 1_200_000:
            continue  # the scorer feeds producing records only
        life = tracker.add(record.ts_ms, record.values)
        if life is not None:
            seen.append(life)
    finished = [frame for frame in seen if len(frame) and frame["life"].iloc[0] == "life#2"]
    online = finished[-1].drop(columns=["life"]).reset_index(drop=True)
    offline = (
        table[table["life"] == "cnc1#2"].drop(columns=["asset", "life"]).reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(online[offline.columns], offline, check_exact=False, atol=1e-9)
