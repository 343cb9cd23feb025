"""Discord detector speed and memory per tag: the shared buffer against a copy per length.

One real NAB series (default: the machine-temperature failure, 22,695 points) is streamed
through the detector as the live scorer does (``score_one`` then ``learn_one``) with the
defaults (lengths 8, 16, 32; memory 8000; NAB probation). The baseline in the same run is
the detector as it was before (a copy of every window per length and a full search per
point), frozen as ``_Reference`` in tests/ml/test_ml_discord_equivalence.py. Reported:
points per CPU second per tag (probation replay included), memory per tag (tracemalloc, in
a second pass as tracing slows Python down; it includes a little interpreter garbage), the
same for a fleet of 100 machines x 8 tags, and the largest score difference between them.

    nice -n 5 .venv/bin/python bench/ml_anomaly_speed.py [--data ../shared/datasets/nab]
        [--file realKnownCause/machine_temperature_system_failure.csv] [--points N]

The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import Progress

from andon.ml.anomaly import DiscordDetector
from andon.ml.evaluate import nab

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "nab"
FILE = "realKnownCause/machine_temperature_system_failure.csv"
FLEET = 100 * 8  # tags on the live stream


def reference() -> Callable[..., Any]:
    """The frozen pre-optimisation detector from the equivalence test."""
    path = ROOT / "tests" / "ml" / "test_ml_discord_equivalence.py"
    spec = importlib.util.spec_from_file_location("discord_reference", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load the reference detector from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._Reference  # type: ignore[no-any-return]


def stream(
    detector: Any, values: np.ndarray, scores: np.ndarray, progress: Progress, label: str
) -> np.ndarray:
    """Score then learn every value, as the live scorer does; the scores go to ``scores``."""
    job = progress.add_task(label, total=len(values))
    for i, value in enumerate(values):
        x = {"value": float(value)}
        scores[i] = detector.score_one(x)
        detector.learn_one(x)
        if i % 500 == 0:
            progress.update(job, completed=i)
    progress.update(job, completed=len(values))
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--file", default=FILE)
    parser.add_argument("--points", type=int, default=0, help="only the first N points (0: all)")
    args = parser.parse_args()
    values = pd.read_csv(args.data / "data" / args.file)["value"].to_numpy(dtype=float)
    if args.points:
        values = values[: args.points]
    probation = nab.probation_length(len(values))
    print(f"{args.file}: {len(values):,} points, probation {probation}")
    before = reference()
    makers: dict[str, Callable[[], Any]] = {
        "copy per length (before)": lambda: before(probation=probation),
        "shared buffer (andon)": lambda: DiscordDetector(probation=probation),
    }
    rate, memory, scores = {}, {}, {}
    with Progress(transient=True) as progress:
        for name, make in makers.items():
            detector = make()
            started = time.process_time()  # CPU time: the box is shared, wall time wanders
            scores[name] = stream(detector, values, np.zeros(len(values)), progress, name)
            rate[name] = len(values) / (time.process_time() - started)
            sink = np.zeros(len(values))  # allocated outside the trace
            tracemalloc.start()  # after a first run: one-off caches are not counted
            detector = make()
            stream(detector, values, sink, progress, f"{name}: memory")
            memory[name] = tracemalloc.get_traced_memory()[0]
            tracemalloc.stop()
            del detector
    for name in makers:
        print(
            f"{name:26s} {rate[name]:8,.0f} points/CPU-s per tag   {memory[name] / 1024:7,.0f} KiB "
            f"per tag   {FLEET} tags: {memory[name] * FLEET / 2**20:6,.0f} MiB, "
            f"{FLEET / rate[name]:5.2f} s of CPU per point of every tag"
        )
    before_name, after_name = makers
    diff = float(np.max(np.abs(scores[after_name] - scores[before_name])))
    same = bool(np.array_equal(scores[after_name] >= 0.97, scores[before_name] >= 0.97))
    speedup = rate[after_name] / rate[before_name]
    shrink = memory[before_name] / memory[after_name]
    print(f"speed-up {speedup:.1f}x, memory / {shrink:.1f}; largest score difference {diff:.1e}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    print(
        f"RESULT points_per_s={rate[after_name]:.0f} baseline_points_per_s={rate[before_name]:.0f} "
        f"speedup={speedup:.2f} kib_per_tag={memory[after_name] / 1024:.0f} "
        f"baseline_kib_per_tag={memory[before_name] / 1024:.0f} "
        f"fleet_mib={memory[after_name] * FLEET / 2**20:.0f} "
        f"baseline_fleet_mib={memory[before_name] * FLEET / 2**20:.0f} "
        f"max_score_diff={diff:.2e} same_alarms={int(same)} peak_rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    main()
