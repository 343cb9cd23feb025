"""C-MAPSS RUL: andon's ``rul`` task on FD001 and FD003, scored at each test engine's last cycle.

Protocol (BENCHMARKS.md section 2): train on ``train_FD00x`` (run-to-failure engines, target
capped at 125), predict every test engine from its own history, score the last cycle against
``RUL_FD00x``: RMSE and the PHM08 score with the true RUL capped at 125 (as the BENCHMARKS
"ours" rows), and the uncapped RMSE too. ``andon ml train rul`` also runs 5-fold CV by engine
for the model card; its time is reported as the training time. The linear baseline (today's
condition-normalised sensors and age) runs in the same process.

Multi-condition check: FD002/FD004 are reserved, so each dataset is also flown in six
synthetic operating regimes (settings jump between set points, every sensor is scaled and
shifted per regime) and learned by the same command; the regimes are found, not given.

    .venv/bin/python bench/ml_rul.py [--data ../shared/datasets/cmapss] [--datasets FD001,FD003]

Published: deep models 11-12.5 on FD001/FD003 (MTSTAN 10.97 / 10.90, FFVE 12.31 / 12.43);
gradient boosting ~15 (BENCHMARKS "ours" HGB 15.16 / 15.10). The last line is
``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from andon.ml.evaluate import regression_metrics
from andon.ml.maintenance.tasks import RulTask
from andon.ml.registry import ModelCard
from andon.ml.tasks import TrainOptions

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cmapss"
COLUMNS = ["unit", "time", "setting1", "setting2", "setting3"] + [f"s{i}" for i in range(1, 22)]
CAP = 125.0


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=r"\s+", header=None, names=COLUMNS)


def six_regimes(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The fleet flown in six operating regimes (FD002-like set points)."""
    rng = np.random.default_rng(seed)
    regime = rng.integers(0, 6, len(frame))
    out = frame.copy()
    out["setting1"] = np.array([0, 10, 20, 25, 35, 42])[regime] + rng.normal(0, 0.005, len(frame))
    out["setting2"] = np.array([0.0, 0.25, 0.7, 0.62, 0.84, 0.84])[regime]
    out["setting3"] = np.array([100, 100, 100, 60, 100, 100])[regime]
    sensors = [f"s{i}" for i in range(1, 22)]
    scale = 1.0 + 0.3 * regime[:, None]
    offset = 40.0 * regime[:, None] * (1 + np.arange(21))[None, :] / 21
    out[sensors] = frame[sensors].to_numpy() * scale + offset
    return out


def last_cycle(
    task: RulTask, model: object, card: ModelCard, test: pd.DataFrame, truth: np.ndarray
) -> dict[str, float]:
    predicted = task.predict(model, card, test)
    last = test.groupby("unit").cumcount(ascending=False).to_numpy() == 0
    guess = predicted["prediction"].to_numpy()[last]
    capped = regression_metrics(np.minimum(truth, CAP), guess)
    return {
        "rmse": capped["rmse"],
        "phm08": capped["phm08"],
        "rmse_uncapped": regression_metrics(truth, guess)["rmse"],
    }


def run(name: str, train: pd.DataFrame, test: pd.DataFrame, truth: np.ndarray) -> dict[str, float]:
    task = RulTask()
    started = time.perf_counter()
    trained = task.train(train, TrainOptions(unit="unit", time="time", cap=CAP))
    elapsed = time.perf_counter() - started
    ours = last_cycle(task, trained.model, trained.card, test, truth)
    params = {"model": "linear"}
    linear = task.train(
        train, TrainOptions(unit="unit", time="time", cap=CAP, folds=2, params=params)
    )
    base = last_cycle(task, linear.model, linear.card, test, truth)
    cv = trained.card.metrics["cv"]["at_cut"]["rmse"]
    print(
        f"{name:14s} RMSE {ours['rmse']:6.2f}  PHM08 {ours['phm08']:8.1f}  "
        f"uncapped RMSE {ours['rmse_uncapped']:6.2f}  | linear baseline RMSE {base['rmse']:6.2f}  "
        f"| 5-fold CV by engine {cv:6.2f} | train {elapsed:5.0f} s "
        f"({trained.model.normalizer_.n_conditions} regimes found)"
    )
    return {**ours, "baseline_rmse": base["rmse"], "train_s": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--datasets", default="FD001,FD003")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for fd in args.datasets.split(","):
        train, test = read(args.data / f"train_{fd}.txt"), read(args.data / f"test_{fd}.txt")
        truth = pd.read_csv(args.data / f"RUL_{fd}.txt", header=None)[0].to_numpy(dtype=float)
        results[fd] = run(fd, train, test, truth)
        results[f"{fd}x6"] = run(
            f"{fd} 6 regimes", six_regimes(train, 1), six_regimes(test, 2), truth
        )
    print("published: MTSTAN 10.97 / 10.90, FFVE 12.31 / 12.43, DCNN 12.61 / 12.64, GBM ~15")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    fields = [
        f"{name.lower()}_{key}={value:.2f}"
        for name, figures in results.items()
        for key, value in figures.items()
    ]
    print("RESULT " + " ".join(fields) + f" peak_rss_mb={rss:.0f}")


if __name__ == "__main__":
    main()
