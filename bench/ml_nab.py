"""NAB: andon's streaming detector over all 58 files, scored by andon's own NAB scorer.

Every file is streamed point by point (``score_one`` then ``learn_one``: no look-ahead);
the probation period is NAB's (15 % of the file, at most 750 points). The threshold is
the one that maximises each profile's corpus score, as NAB's optimiser does. The windowed
Gaussian baseline (NAB scoreboard: 39.6 / 20.9 / 47.4) runs in the same process, as a
check of the scorer against a published figure.

    .venv/bin/python bench/ml_nab.py [--data ../shared/datasets/nab] [--files N]

The discord detector runs with its defaults (lengths 8, 16, 32; alarm 0.97). The previous
defaults (lengths 2, 4, 8; alarm 0.99) scored 68.4 / 56.2 / 74.5 here.

Published (BENCHMARKS.md section 5, standard / low FP / low FN): ARTime 74.9 / 65.1 / 80.4,
Numenta HTM 70.5-69.7 / 62.6-61.7 / 75.2-74.2, CAD OSE 69.9 / 67.0 / 73.2.
The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from andon.ml.anomaly import DiscordDetector, GaussianWindow
from andon.ml.contracts import StreamingDetector
from andon.ml.evaluate import nab

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "nab"
PUBLISHED = {"ARTime": (74.9, 65.1, 80.4), "HTM": (70.5, 62.6, 75.2), "CAD OSE": (69.9, 67.0, 73.2)}


def stream(detector: StreamingDetector, values: np.ndarray) -> np.ndarray:
    scores = np.zeros(len(values))
    for i, value in enumerate(values):
        x = {"value": float(value)}
        scores[i] = detector.score_one(x)
        detector.learn_one(x)
    return scores


def run(
    corpus: list[nab.NabSeries], root: Path, make: object
) -> tuple[dict[str, nab.NabResult], float]:
    started = time.perf_counter()
    for series in corpus:
        values = pd.read_csv(root / "data" / series.name)["value"].to_numpy(dtype=float)
        probation = nab.probation_length(len(values))
        series.scores = stream(make(probation), values)  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    return {p: nab.score_corpus(corpus, p) for p in nab.PROFILES}, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--files", type=int, default=0, help="only the first N files (0: all)")
    args = parser.parse_args()
    corpus = nab.load_corpus(args.data)
    if args.files:
        corpus = corpus[: args.files]
    points = sum(len(s.scores) for s in corpus)
    windows = sum(len(s.windows) for s in corpus)
    print(f"NAB: {len(corpus)} files, {points:,} points, {windows} windows")
    detectors = {
        "andon discord": lambda p: DiscordDetector(probation=p),
        "windowed gaussian (baseline)": lambda p: GaussianWindow(window=6400),
    }
    results = {}
    for name, make in detectors.items():
        scores, elapsed = run(corpus, args.data, make)
        results[name] = scores
        row = " / ".join(f"{scores[p].score:5.1f}" for p in nab.PROFILES)
        std = scores["standard"]
        print(
            f"{name:30s} {row}   (standard: TP {std.tp} FP {std.fp} FN {std.fn}, "
            f"threshold {std.threshold:.4f}; {elapsed:.0f} s, {points / elapsed:,.0f} points/s)"
        )
    for name, figures in PUBLISHED.items():
        print(f"{name + ' (published)':30s} " + " / ".join(f"{v:5.1f}" for v in figures))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    ours, base = results["andon discord"], results["windowed gaussian (baseline)"]
    print(
        "RESULT "
        + " ".join(f"nab_{p}={ours[p].score:.2f}" for p in nab.PROFILES)
        + " "
        + " ".join(f"baseline_{p}={base[p].score:.2f}" for p in nab.PROFILES)
        + f" files={len(corpus)} peak_rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    main()
