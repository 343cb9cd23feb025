"""Root cause on the virtual factory: does the ranking name the hidden humidity -> scrap cause?

The demo plant (seven machines, three shifts) is simulated for ``--days`` through the real
ingestion pipeline into DuckDB (or an existing ``--db`` is reused), the MES computes each
machine's hourly KPIs, and ``andon.ml.rootcause`` ranks every published factor (the
machines' tags, the ambient station's humidity and air temperature, product, shift, cell).
The simulator's scrap probability grows with ambient humidity (``sim.reliability``) and with
hidden wear; no label says so. Baseline in the same run: ranking numeric factors by the
absolute weighted correlation with the KPI (what a spreadsheet would do).

    .venv/bin/python bench/ml_rootcause.py [--days 3] [--db plant.duckdb] [--kpis scrap_ratio,oee]

The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress

from andon import mes, sim
from andon.api.rootcause import analyse
from andon.historian import AssetInfo, DuckDBHistorian
from andon.ingest import Pipeline
from andon.ml.rootcause import RankOptions, factor_columns

HOUR = 3_600_000
HUMIDITY = "station1.humidity_pct"
START = 1_763_683_200_000  # 2025-11-21 00:00 UTC
console = Console()


class _Ingest:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def send(self, messages: list[tuple[str, bytes]]) -> None:
        for topic, payload in messages:
            self.pipeline.submit(topic, payload, source="backfill")


def _calendar(scenario: sim.Scenario) -> mes.Calendar:
    shifts = [
        {
            "name": s.name,
            "start": s.start.isoformat("minutes"),
            "hours": s.hours,
            "breaks": [
                {"start": b.start.isoformat("minutes"), "minutes": b.minutes} for b in s.breaks
            ],
        }
        for s in scenario.shifts
    ]
    return mes.Calendar.from_mapping({"timezone": scenario.timezone, "shifts": shifts})


def simulate(path: Path, days: float, seed: int) -> float:
    """Backfill the demo plant into ``path``; returns the seconds it took."""
    scenario = sim.load_scenario("demo")
    factory = sim.Factory(scenario, seed=seed, start_ms=START)
    historian = DuckDBHistorian(path)
    historian.upsert_assets(
        [AssetInfo(m.path, m.ideal_cycle_time_s, m.name) for m in factory.machines]
    )
    mes.save_calendar(historian, _calendar(scenario), "bench")
    until = START + int(days * 24 * HOUR)
    started = time.perf_counter()
    with Pipeline(historian) as pipeline, Progress(console=console) as progress:
        task = progress.add_task("simulating", total=(until - START) // HOUR)
        sink = _Ingest(pipeline)
        while factory.now_ms < until:
            sim.run(factory, sink, until_ms=min(until, factory.now_ms + HOUR))
            progress.advance(task)
        pipeline.flush()
    historian.close()
    return time.perf_counter() - started


def correlation_rank(table: pd.DataFrame, kpi: str) -> list[str]:
    """Numeric factors by |weighted Pearson r| with the KPI (the spreadsheet baseline)."""
    rows = table[table[kpi].notna() & (table["produced"] > 0)]
    w = rows["produced"].to_numpy(float) if kpi != "oee" else np.ones(len(rows))
    y = rows[kpi].to_numpy(float)
    scores = {}
    for name in factor_columns(rows, kpi):
        x = pd.to_numeric(rows[name], errors="coerce").to_numpy(float)
        ok = np.isfinite(x)
        if ok.sum() < 10 or np.std(x[ok]) == 0:
            continue
        cov = np.cov(x[ok], y[ok], aweights=w[ok])
        scores[name] = abs(cov[0, 1]) / np.sqrt(cov[0, 0] * cov[1, 1])
    return sorted(scores, key=lambda n: -scores[n])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, default=Path("/tmp/andon-bench-rootcause.duckdb"))
    parser.add_argument("--kpis", default="scrap_ratio,oee")
    args = parser.parse_args()
    sim_s = 0.0
    if not args.db.exists():
        sim_s = simulate(args.db, args.days, args.seed)
        console.print(f"simulated {args.days:g} days into {args.db} in {sim_s:.0f} s")
    historian = DuckDBHistorian(args.db, read_only=True)
    end = historian.latest_ts() or 0
    lo, hi = START + HOUR, end // HOUR * HOUR
    results: dict[str, str] = {}
    for kpi in args.kpis.split(","):
        started, cpu = time.perf_counter(), time.process_time()
        table, ranking = analyse(historian, kpi, lo, hi, None, RankOptions())
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        names = [f.name for f in ranking.factors]
        baseline = correlation_rank(table, kpi)
        console.print(
            f"\n[bold]{kpi}[/]: {ranking.rows} machine-hours, {len(names)} factors, "
            f"{seconds:.1f} s ({cpu:.1f} s CPU); held-out R² {ranking.r2} "
            f"(mean baseline {ranking.baseline_r2}), "
            f"linear R² {ranking.linear_r2}, noise level {ranking.noise_level}"
        )
        for f in ranking.factors[:8]:
            console.print(
                f"  {f.rank:2d} {f.name:28s} {f.importance:8.4f} [{f.ci_low:7.4f}, "
                f"{f.ci_high:7.4f}] {'significant' if f.significant else 'n.s.':11s} "
                f"{f.direction:11s} {f.raises_at:18s} R² share {f.r2_share:.3f}"
            )
        console.print(f"  correlation baseline, top 3: {baseline[:3]}")
        if HUMIDITY in names:
            humidity = ranking.factors[names.index(HUMIDITY)]
            results[f"{kpi}_humidity_rank"] = str(humidity.rank)
            results[f"{kpi}_humidity_significant"] = str(humidity.significant).lower()
            results[f"{kpi}_humidity_direction"] = humidity.direction
            rank = baseline.index(HUMIDITY) + 1 if HUMIDITY in baseline else 0
            results[f"{kpi}_baseline_humidity_rank"] = str(rank)
        results[f"{kpi}_r2"] = str(ranking.r2)
        results[f"{kpi}_rows"] = str(ranking.rows)
        results[f"{kpi}_rank_s"] = f"{seconds:.1f}"
        results[f"{kpi}_rank_cpu_s"] = f"{cpu:.1f}"
    historian.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"\npeak RSS {rss_mb:.0f} MB")
    pairs = " ".join(f"{k}={v}" for k, v in results.items())
    console.print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"RESULT days={args.days:g} sim_s={sim_s:.0f} {pairs} peak_rss_mb={rss_mb:.0f}")


if __name__ == "__main__":
    main()
