"""SPC throughput: a million points through every run rule, against a plain Python loop.

Measured in one run, on the same data (an in-control process with a few shifts, trends and
mixtures injected so every rule has something to flag):

- andon, batch: ``spc.chart`` of 1M individuals (I-MR, the eight Nelson rules on X, limits
  on MR), of 1M values in subgroups of 5 (X-bar/R), of 1M attribute samples (p chart), and
  the four Western Electric rules; each the best of ``--repeat`` runs;
- baseline: the eight Nelson rules evaluated point by point in plain Python with running
  counters (the straightforward streaming implementation, O(n)); its flags must equal
  andon's, or the bench fails;
- andon, live: :class:`~andon.mes.spc_live.LiveSpc` fed ``--live`` points in batches of
  1000, as the ingest stream would (points per second one tag can sustain).

    .venv/bin/python bench/spc.py [--points 1000000] [--repeat 3] [--live 100000]

The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from andon.historian import DuckDBHistorian
from andon.mes import spc
from andon.mes.spc_live import LiveSpc, LiveTag, alerts
from andon.signals import Metrics

ASSET = "bench/p1/a1/l1/m1"


def process(points: int, seed: int = 7) -> np.ndarray:
    """An in-control N(50, 1) process with shifts, trends, oscillation and stratification."""
    rng = np.random.default_rng(seed)
    x = rng.normal(50.0, 1.0, points)
    for start in rng.integers(1000, points - 1000, size=max(points // 20_000, 1)):
        kind = int(start) % 4
        span = slice(int(start), int(start) + 40)
        if kind == 0:
            x[span] += 1.5  # shift
        elif kind == 1:
            x[span] += np.linspace(0.0, 4.0, 40)  # trend
        elif kind == 2:
            x[span] = 50.0 + np.tile([1.2, -1.2], 20)  # oscillation / mixture
        else:
            x[span] = 50.0 + rng.normal(0.0, 0.2, 40)  # stratification
    return x


def best_of(repeat: int, action: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return min(times), result


def python_nelson(x: list[float], center: float, sigma: float) -> set[tuple[int, int]]:
    """The eight Nelson rules point by point with running counters (the baseline)."""
    found: set[tuple[int, int]] = set()
    above = below = rising = falling = flips = inside = outside = 0
    last3: deque[float] = deque(maxlen=3)
    last5: deque[float] = deque(maxlen=5)
    previous = step = None
    for i, value in enumerate(x):
        z = (value - center) / sigma
        above, below = (above + 1 if z > 0 else 0), (below + 1 if z < 0 else 0)
        inside = inside + 1 if abs(z) < 1 else 0
        outside = outside + 1 if abs(z) > 1 else 0
        if previous is not None:
            new_step = value - previous
            rising = rising + 1 if new_step > 0 else 0
            falling = falling + 1 if new_step < 0 else 0
            flips = flips + 1 if step is not None and new_step * step < 0 else 0
            step = new_step
        previous = value
        last3.append(z)
        last5.append(z)
        checks = (
            (1, abs(z) > 3),
            (2, above >= 9 or below >= 9),
            (3, rising >= 5 or falling >= 5),
            (4, flips >= 12),
            (
                5,
                (z > 2 and sum(v > 2 for v in last3) >= 2)
                or (z < -2 and sum(v < -2 for v in last3) >= 2),
            ),
            (
                6,
                (z > 1 and sum(v > 1 for v in last5) >= 4)
                or (z < -1 and sum(v < -1 for v in last5) >= 4),
            ),
            (7, inside >= 15),
            (8, outside >= 8),
        )
        found.update((i, rule) for rule, hit in checks if hit)
    return found


def live_rate(x: np.ndarray, batch: int = 1000) -> tuple[float, int]:
    historian = DuckDBHistorian(":memory:")
    live = LiveSpc(historian, [LiveTag(ASSET, "v", baseline=100)])
    records = [
        Metrics(ASSET, 1_700_000_000_000 + i * 1000, {"v": float(v)}) for i, v in enumerate(x)
    ]
    started = time.perf_counter()
    for k in range(0, len(records), batch):
        live.publish(records[k : k + batch])
    seconds = time.perf_counter() - started
    raised = len(alerts(historian, limit=10_000_000))
    historian.close()
    return seconds, raised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--live", type=int, default=100_000)
    args = parser.parse_args()
    x = process(args.points)
    spec = spc.ChartSpec(kind="imr")
    spc.chart(x[:1000], spc.ChartSpec(kind="xbar_r", subgroup=5))  # constants warm-up

    imr_s, imr = best_of(args.repeat, lambda: spc.chart(x, spec))
    assert isinstance(imr, spc.Chart)
    xbar_s, xbar = best_of(
        args.repeat, lambda: spc.chart(x, spc.ChartSpec(kind="xbar_r", subgroup=5))
    )
    assert isinstance(xbar, spc.Chart)
    counts = np.random.default_rng(3).binomial(200, 0.02, args.points).astype(float)
    sizes = np.full(args.points, 200.0)
    p_s, p = best_of(args.repeat, lambda: spc.chart(counts, spc.ChartSpec(kind="p"), sizes=sizes))
    assert isinstance(p, spc.Chart)
    we_s, _ = best_of(args.repeat, lambda: spc.chart(x, spc.ChartSpec(kind="imr", rule_set="we")))

    location = imr.series[0]
    andon_flags = {(v.index, v.rule) for v in imr.violations() if v.series == "x"}
    started = time.perf_counter()
    plain = python_nelson(x.tolist(), float(location.center[0]), float(imr.sigma or 1.0))
    baseline_s = time.perf_counter() - started
    if plain != andon_flags:
        raise SystemExit(f"flags differ: {len(plain ^ andon_flags)} of {len(plain)}")
    by_rule = {rule: sum(1 for _, r in andon_flags if r == rule) for rule in range(1, 9)}

    live_points = min(args.live, args.points)
    live_s, raised = live_rate(x[:live_points]) if live_points else (0.0, 0)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = args.points / imr_s
    print(f"points {args.points:,}; flags by Nelson rule {by_rule}")
    print(f"andon I-MR, 8 Nelson rules + MR limits: {imr_s:.3f} s ({rate / 1e6:.1f} M points/s)")
    print(f"andon X-bar/R, n=5 ({len(xbar.sizes):,} subgroups): {xbar_s:.3f} s")
    print(f"andon p chart, {args.points:,} samples: {p_s:.3f} s")
    print(f"andon I-MR, 4 Western Electric rules: {we_s:.3f} s")
    print(
        f"baseline, plain Python loop, 8 Nelson rules: {baseline_s:.2f} s "
        f"(andon {baseline_s / imr_s:.0f}x faster; identical flags)"
    )
    if live_points:
        print(
            f"andon live (LiveSpc, batches of 1000): {live_points:,} points in {live_s:.2f} s "
            f"= {live_points / live_s:,.0f} points/s, {raised} alerts stored"
        )
    print(f"peak RSS {rss_mb:.0f} MB")
    print(
        f"RESULT points={args.points} imr_s={imr_s:.3f} xbar_r_s={xbar_s:.3f} p_s={p_s:.3f} "
        f"we_s={we_s:.3f} baseline_python_s={baseline_s:.2f} speedup={baseline_s / imr_s:.0f} "
        f"live_points_per_s={live_points / live_s if live_s else 0:.0f} "
        f"flags={len(andon_flags)} peak_rss_mb={rss_mb:.0f}"
    )


if __name__ == "__main__":
    main()
