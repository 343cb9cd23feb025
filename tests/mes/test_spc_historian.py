"""Charts straight from the historian: a tag over a window, a machine's scrap fraction."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from andon.errors import NotFound
from andon.historian import DuckDBHistorian, WriteBatch
from andon.mes import spc
from andon.signals import CountUpdate, Metrics

ASSET = "acme/p1/mach/l1/m1"
T0 = 1_763_712_000_000
HOUR = 3_600_000


@pytest.fixture
def historian() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    rng = np.random.default_rng(12)
    temps = rng.normal(70, 0.5, 600)
    temps[500:] += 3  # the spindle warms up in the last 100 s
    batch = WriteBatch.empty()
    batch.metrics += [
        Metrics(ASSET, T0 + i * 1000, {"temp_c": float(v)}) for i, v in enumerate(temps)
    ]
    # 8 hours, 100 parts an hour; 2 scrap an hour, except 12 in hour 6
    total = scrap = 0
    batch.counts.append(CountUpdate(ASSET, T0 - 1, 0, 0, 0))
    for hour in range(8):
        total += 100
        scrap += 12 if hour == 6 else 2
        batch.counts.append(
            CountUpdate(ASSET, T0 + hour * HOUR + HOUR // 2, total, total - scrap, scrap)
        )
    h.write(batch)
    yield h
    h.close()


def test_chart_of_a_tag_with_a_frozen_baseline(historian: DuckDBHistorian) -> None:
    spec = spc.ChartSpec(kind="xbar_r", subgroup=5, baseline_ms=(T0, T0 + 400_000))
    chart = spc.chart_for_tag(historian, ASSET, "temp_c", T0, T0 + 600_000, spec)
    assert chart.limits == spc.Limits(baseline=(0, 80))
    beyond = {v.index for v in chart.violations() if v.series == "xbar" and v.rule == 1}
    warm = set(range(100, 120))  # the subgroups of the warm-up, 13 sigma of X-bar away
    assert warm <= beyond
    assert len(beyond - warm) <= 2  # the odd false alarm (0.27 % a point) is allowed


def test_unknown_tags_and_empty_windows(historian: DuckDBHistorian) -> None:
    spec = spc.ChartSpec()
    with pytest.raises(NotFound):
        spc.chart_for_tag(historian, ASSET, "nope", T0, T0 + HOUR, spec)
    with pytest.raises(NotFound):
        spc.chart_for_tag(historian, ASSET, "temp_c", T0 - HOUR, T0, spec)


def test_scrap_p_chart_from_count_totals(historian: DuckDBHistorian) -> None:
    spec = spc.ChartSpec(kind="p", period_ms=HOUR)
    chart = spc.scrap_chart(historian, ASSET, T0, T0 + 8 * HOUR, spec)
    p = chart.series[0]
    assert chart.sizes.tolist() == [100.0] * 8
    assert p.values.tolist() == pytest.approx([0.02] * 6 + [0.12, 0.02])
    assert p.center[0] == pytest.approx(26 / 800)
    assert [(v.index, v.rule) for v in chart.violations()] == [(6, 1)]
    assert chart.ts_ms is not None
    assert chart.ts_ms[6] == T0 + 6 * HOUR
