"""Live SPC on the ingest stream: same verdicts as the batch chart, alerts stored once."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import numpy as np
import orjson
import psycopg
import pytest

from andon.errors import InvalidRequest
from andon.historian import DuckDBHistorian, PostgresHistorian
from andon.ingest import Pipeline
from andon.mes import spc
from andon.mes.spc_live import LiveSpc, LiveTag, SpcAlert, alerts
from andon.signals import Metrics, Sample

ASSET = "acme/p1/mach/l1/m1"
T0 = 1_763_712_000_000


@pytest.fixture
def historian() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    yield h
    h.close()


def _series() -> np.ndarray:
    rng = np.random.default_rng(17)
    return np.r_[rng.normal(50, 1, 60), rng.normal(53.5, 1, 20), rng.normal(50, 1, 20)]


def _records(values: np.ndarray, first: int = 0) -> list[Metrics | Sample]:
    return [
        Metrics(ASSET, T0 + (first + i) * 1000, {"temp_c": float(v), "other": 1.0})
        for i, v in enumerate(values)
    ]


def test_live_alerts_equal_the_batch_chart_with_the_same_baseline(
    historian: DuckDBHistorian,
) -> None:
    x = _series()
    raised: list[SpcAlert] = []
    live = LiveSpc(historian, [LiveTag(ASSET, "temp_c", baseline=25)], on_alert=raised.append)
    for start in range(0, x.size, 7):  # batches of arbitrary size
        live.publish(_records(x[start : start + 7], start))
    batch = spc.chart(x, spc.ChartSpec(kind="imr", limits=spc.Limits(baseline=(0, 25))))
    expected = {
        (v.series, T0 + v.index * 1000, v.rule) for v in batch.violations() if v.index >= 25
    }
    assert expected, "the shifted segment must raise something"
    assert {(a.series, a.ts_ms, a.rule) for a in raised} == expected
    stored = alerts(historian, asset=ASSET, limit=1000)
    assert len(stored) == len(raised)
    assert live.limits(ASSET, "temp_c") == pytest.approx(
        (batch.series[0].center[0], batch.sigma), rel=1e-9
    )


def test_a_replayed_batch_raises_nothing_twice_and_limits_survive_a_restart(
    historian: DuckDBHistorian,
) -> None:
    x = _series()
    live = LiveSpc(historian, [LiveTag(ASSET, "temp_c", baseline=25)])
    live.publish(_records(x))
    count = len(alerts(historian, limit=1000))
    live.publish(_records(x))  # the same records again (a replay): older than the newest seen
    assert len(alerts(historian, limit=1000)) == count
    restarted = LiveSpc(historian, [LiveTag(ASSET, "temp_c", baseline=25)])
    assert restarted.limits(ASSET, "temp_c") == live.limits(ASSET, "temp_c")
    restarted.publish(_records(x))  # a new process sees the same data again
    assert len(alerts(historian, limit=1000)) == count


def test_subgroups_and_known_limits() -> None:
    historian = DuckDBHistorian(":memory:")
    tag = LiveTag(ASSET, "width_mm", subgroup=4, center=10.0, sigma=0.1, rule_set="we")
    raised: list[SpcAlert] = []
    live = LiveSpc(historian, [tag], on_alert=raised.append)
    values = [10.0, 10.1, 9.9, 10.0] * 3 + [10.5, 10.4, 10.6, 10.5]  # 4th mean 10.5: 10 sigma
    live.publish([Sample(ASSET, "width_mm", T0 + i, v) for i, v in enumerate(values)])
    assert [(a.series, a.rule, a.ts_ms) for a in raised] == [("xbar", 1, T0 + 15)]
    assert raised[0].ucl == pytest.approx(10.0 + 3 * 0.1 / 2)
    historian.close()


def test_live_tags_are_validated() -> None:
    with pytest.raises(InvalidRequest):
        LiveTag(ASSET, "t", center=1.0)
    with pytest.raises(InvalidRequest):
        LiveTag(ASSET, "t", rule_set="we", enabled=(7,))


def test_alerts_of_an_empty_historian() -> None:
    historian = DuckDBHistorian(":memory:")
    assert alerts(historian) == []
    historian.close()


def test_live_spc_rides_the_ingestion_pipeline(historian: DuckDBHistorian) -> None:
    x = _series()
    live = LiveSpc(historian, [LiveTag(ASSET, "temp_c", baseline=25)])
    topic = f"andon/v1/{ASSET}/metrics"
    with Pipeline(historian, streams=[live]) as pipeline:
        for i, value in enumerate(x):
            payload = {"ts": T0 + i * 1000, "seq": i, "values": {"temp_c": float(value)}}
            pipeline.submit(topic, orjson.dumps(payload))
        pipeline.flush()
    batch = spc.chart(x, spc.ChartSpec(kind="imr", limits=spc.Limits(baseline=(0, 25))))
    expected = {
        (v.series, T0 + v.index * 1000, v.rule) for v in batch.violations() if v.index >= 25
    }
    stored = {(a.series, a.ts_ms, a.rule) for a in alerts(historian, limit=1000)}
    assert stored == expected


@pytest.mark.integration
def test_alerts_and_limits_on_postgresql() -> None:
    url = os.environ.get("ANDON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {url}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {url}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    historian = PostgresHistorian(url, schema=schema)
    try:
        x = _series()
        live = LiveSpc(historian, [LiveTag(ASSET, "temp_c", baseline=25)])
        live.publish(_records(x))
        live.publish(_records(x))  # a replay adds nothing
        stored = alerts(historian, asset=ASSET, limit=1000)
        batch = spc.chart(x, spc.ChartSpec(kind="imr", limits=spc.Limits(baseline=(0, 25))))
        expected = {
            (v.series, T0 + v.index * 1000, v.rule) for v in batch.violations() if v.index >= 25
        }
        assert {(a.series, a.ts_ms, a.rule) for a in stored} == expected
        restarted = LiveSpc(historian, [LiveTag(ASSET, "temp_c", baseline=25)])
        assert restarted.limits(ASSET, "temp_c") == pytest.approx(live.limits(ASSET, "temp_c"))
    finally:
        historian.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
