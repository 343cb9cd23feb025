"""Does the failure risk learned from the virtual factory's own history rise before failures?

The demo plant's machining line (three CNC machines) runs ``--history-h`` hours through
ingestion into a DuckDB historian; :func:`andon.ml.learn.learn_from_history` learns the
failure and tool-life models from that history, exactly as ``andon demo`` does; then the
line runs ``--live-h`` more hours (another seed) through ingestion with the
:class:`~andon.ml.live.LiveScorer` attached. Each written risk (one per 5 s of production)
is labelled 1 when a failure with warning signs (not ``random_failure``) starts within the
next minute. Figures: ROC-AUC of the risk against that label, beside a baseline scored on
the same rows (tool wear alone, the obvious rule) and chance (0.5); the mean risk in the
minute before each failure against the mean overall; the share of failures an alert
announced in the two minutes before, and the false alerts per live hour of the line (an
alert no failure followed within two minutes), under two policies on the same risks: the
fixed default levels (warning 0.5: what the scorer did before alert levels were
calibrated) and the levels :mod:`andon.ml.learn` calibrated on the later part of the
history holding its last third of failures (the most failures announced within 0.1 false
alerts per machine-hour) and stored in the model card: what the scorer uses now. The
live hours are never seen by the calibration.

    .venv/bin/python bench/ml_live_factory.py [--history-h 8] [--live-h 4] [--spread]

``--spread`` gives the machines AI4I's part-to-part spread of torque and power (more
process failures, as in the tests). The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import Progress
from sklearn.metrics import roc_auc_score

from andon import sim
from andon.config import IngestSettings
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline
from andon.ml.alerts import AlertPolicy, openings
from andon.ml.learn import learn_from_history
from andon.ml.live import FAILURE_POLICY, LiveScorer, ScoringConfig
from andon.ml.registry import read_card

T0 = 1_763_700_000_000
HOUR_MS = 3_600_000
FAILURE = 180000
SPREAD = "torque_sd_nm: 10, power_sd_w: 1070"


def scenario(directory: Path, spread: bool) -> sim.Scenario:
    text = (Path(sim.__file__).parent / "scenarios" / "demo.yaml").read_text(encoding="utf-8")
    line = text[: text.index("  - area: forming")]
    if spread:
        line = line.replace("{spindle_rpm: 1450}", f"{{spindle_rpm: 1450, {SPREAD}}}")
        line = line.replace(
            "ideal_cycle_time_s: 42}", f"ideal_cycle_time_s: 42, params: {{{SPREAD}}}}}"
        )
        line = line.replace("{spindle_rpm: 1600}", f"{{spindle_rpm: 1600, {SPREAD}}}")
    path = directory / "line.yaml"
    path.write_text(line, encoding="utf-8")
    return sim.load_scenario(str(path))


def run(
    factory: sim.Factory, pipeline: Pipeline, hours: float, progress: Progress, name: str
) -> None:
    seconds = int(hours * 3600)
    task = progress.add_task(name, total=seconds)
    for second in range(seconds):
        for topic, payload in factory.step():
            pipeline.submit(topic, payload)
        if second % 600 == 0:
            progress.update(task, completed=second)
    progress.update(task, completed=seconds)


def series(historian: DuckDBHistorian, asset: str, tag: str, start: int, end: int) -> pd.Series:
    found = [t for t in historian.tags(asset) if t.asset == asset and t.name == tag]
    if not found:
        return pd.Series(dtype=float)
    rows = historian.series(found[0].id, start, end)
    return pd.Series([v for _, v in rows], index=[t for t, _ in rows], dtype=float)


def alert_counts(
    risk: pd.Series, starts: list[int], signs: list[int], policy: AlertPolicy
) -> tuple[int, int, int]:
    """(alerts opened, false ones, failures with signs announced within 2 min) of a policy."""
    opened = np.asarray(openings(zip(risk.index.tolist(), risk.tolist(), strict=True), policy))
    every = np.asarray(starts, dtype=np.int64)
    false = sum(not np.any((every >= o) & (every <= o + 120_000)) for o in opened)
    caught = sum(bool(np.any((opened >= f - 120_000) & (opened <= f))) for f in signs)
    return len(opened), int(false), int(caught)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history-h", type=float, default=8.0)
    parser.add_argument("--live-h", type=float, default=4.0)
    parser.add_argument("--spread", action="store_true", help="AI4I's torque and power spread")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Progress() as progress:
        directory = Path(tmp)
        plant = scenario(directory, args.spread)
        historian = DuckDBHistorian(directory / "plant.duckdb")
        factory = sim.Factory(plant, seed=3, start_ms=T0)
        cnc = [m.path for m in factory.machines]
        with Pipeline(historian, IngestSettings(batch_size=5000)) as pipeline:
            run(factory, pipeline, args.history_h, progress, "history")
        start = factory.now_ms
        started = time.perf_counter()
        learned = learn_from_history(historian, {"cnc": cnc}, directory / "models", T0, start + 1)
        learn_s = time.perf_counter() - started
        progress.console.print(f"learned in {learn_s:.1f} s: {'; '.join(learned.notes)}")
        scorer = LiveScorer(historian, ScoringConfig(anomaly=False))
        scorer.attach(failure=tuple(learned.failure), rul=tuple(learned.rul), models=learned.models)
        live = sim.Factory(plant, seed=11, start_ms=start)
        with Pipeline(historian, IngestSettings(batch_size=5000), streams=[scorer]) as pipeline:
            run(live, pipeline, args.live_h, progress, "live, scored")
        end = live.now_ms + 1
        risks, labels, wears, before, overall, warned, failures = [], [], [], [], [], 0, 0
        counts = {"fixed": np.zeros(3, dtype=int), "calibrated": np.zeros(3, dtype=int)}
        levels = {}
        for attachment in learned.failure[:1]:
            levels = read_card(Path(attachment.model)).options.get("alert", {})
            progress.console.print(
                f"alert levels in the card: {levels or 'none (default policy)'}; "
                f"held-out: {read_card(Path(attachment.model)).metrics}"
            )
        for path in cnc:
            risk = series(historian, path, "ml_failure_risk", start, end)
            if risk.empty:
                continue
            wear = series(historian, path, "tool_wear_min", start, end)
            stops = [
                s for s in historian.state_timeline(path, start, end)
                if s.code == FAILURE and s.reason != "random_failure"
            ]  # fmt: skip
            label = np.zeros(len(risk), dtype=int)
            alerts = scorer.book.alerts(asset=path, limit=10_000)
            for stop in stops:
                window = (risk.index >= stop.ts_ms - 60_000) & (risk.index < stop.ts_ms)
                label[window] = 1
                if window.any():
                    failures += 1
                    before.append(float(risk[window].max()))
                    warned += any(stop.ts_ms - 120_000 <= a.opened_ms <= stop.ts_ms for a in alerts)
            every_start = [
                s.ts_ms
                for s in historian.state_timeline(path, start, end)
                if s.code // 10000 * 10000 == FAILURE
            ]
            signs = [s.ts_ms for s in stops]
            counts["fixed"] += alert_counts(risk, every_start, signs, FAILURE_POLICY)
            policy = scorer.failure_policy(path)
            counts["calibrated"] += alert_counts(risk, every_start, signs, policy)
            risks.append(risk.to_numpy())
            labels.append(label)
            wears.append(wear.reindex(risk.index, method="nearest").to_numpy())
            overall.append(risk.to_numpy())
        historian.close()
    if not risks:
        print(
            f"RESULT history_h={args.history_h:g} no_failure_model=1 ({'; '.join(learned.notes)})"
        )
        return
    y, score, wear_score = np.concatenate(labels), np.concatenate(risks), np.concatenate(wears)
    has_both = 0 < y.sum() < len(y)
    auc = roc_auc_score(y, score) if has_both else float("nan")
    wear_auc = roc_auc_score(y, wear_score) if has_both else float("nan")
    mean_all = float(np.mean(np.concatenate(overall)))
    mean_before = float(np.mean(before)) if before else float("nan")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{failures} failures with signs in {args.live_h:g} live hours; {len(y)} risk readings")
    print(f"ROC-AUC of the risk for 'a failure within a minute': {auc:.3f} "
          f"(baseline tool wear alone {wear_auc:.3f}, chance 0.5)")  # fmt: skip
    print(f"risk in the minute before a failure {mean_before:.3f}, overall {mean_all:.3f}; "
          f"alerted in the 2 minutes before: {warned} of {failures}")  # fmt: skip
    hours = args.live_h
    for name, (opened, false, caught) in counts.items():
        print(
            f"{name:>10} alert levels: {caught} of {failures} failures alerted within 2 min, "
            f"{opened} alerts, {false} false = {false / hours:.2f} false alerts per live hour "
            f"of the line ({len(cnc)} machines)"
        )
    print(f"learning took {learn_s:.1f} s; peak RSS {rss:.0f} MB")
    print(
        f"RESULT history_h={args.history_h:g} live_h={args.live_h:g} spread={int(args.spread)} "
        f"failures={failures} auc={auc:.3f} wear_auc={wear_auc:.3f} chance_auc=0.500 "
        f"risk_before={mean_before:.3f} risk_overall={mean_all:.3f} alerted={warned} "
        f"fixed_alerted={counts['fixed'][2]} fixed_false_per_h={counts['fixed'][1] / hours:.2f} "
        f"warning={levels.get('warning', FAILURE_POLICY.warning):.3f} "
        f"calibrated_alerted={counts['calibrated'][2]} "
        f"calibrated_false_per_h={counts['calibrated'][1] / hours:.2f} "
        f"learn_s={learn_s:.1f} peak_rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    main()
