"""Does a failure model trained on the real AI4I 2020 data recognise simulated CNC failures?

A classifier is trained on the real dataset (``../shared/datasets/ai4i2020``, all 10,000
rows, target ``Machine failure``), then scores one row per simulated part of a machining
area with the default CNC physics, as :class:`andon.sim.ai4i.Ai4iRecorder` writes them
(temperatures in kelvin, speed, torque, tool wear). Chance is ROC-AUC 0.5 and an average
precision equal to the failure prevalence; both are printed beside the model's scores, with
a cross-validated score on the real data itself as the reference, all from the same run.

    .venv/bin/python bench/sim_ai4i.py [--days 7] [--cells 4] [--seed 7]

The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import math
import resource
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from andon.sim import Factory, run
from andon.sim.ai4i import Ai4iRecorder
from andon.sim.scenario import parse_scenario

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "ai4i2020" / "ai4i2020.csv"
RAD_PER_S = 2 * math.pi / 60
# The demo plant's machining line, repeated: default CNC physics, three shifts with breaks,
# in a hall as warm as the AI4I machine's (300 K +- 2 K is 26.85 C +- 2).
AREA = """
enterprise: bench
site: s1
ambient: {{air_temp_c: [26.85, 2]}}
shifts:
  - {{name: early, start: "06:00", hours: 8, breaks: [{{start: "09:45", minutes: 30}}]}}
  - {{name: late, start: "14:00", hours: 8, breaks: [{{start: "17:45", minutes: 30}}]}}
  - {{name: night, start: "22:00", hours: 8, breaks: [{{start: "01:45", minutes: 30}}]}}
lines:
  - area: machining
    name: cell
    copies: {cells}
    buffer_capacity: 8
    products: [bracket-a, bracket-b, housing-c]
    order_size: [150, 350]
    machines:
      - {{name: cnc1, kind: cnc, ideal_cycle_time_s: 40, params: {{spindle_rpm: 1450}}}}
      - {{name: cnc2, kind: cnc, ideal_cycle_time_s: 42}}
      - {{name: cnc3, kind: cnc, ideal_cycle_time_s: 38, params: {{spindle_rpm: 1600}}}}
"""
SIGNALS = ["air", "process", "rpm", "torque", "wear"]
_RULES = {  # the failure modes that follow from the process, as in AI4I
    "tool_wear_failure",
    "heat_dissipation_failure",
    "power_failure",
    "overstrain_failure",
}


def features(frame: pd.DataFrame, physics: bool) -> np.ndarray:
    """AI4I's five signals, or the physics of its failure modes.

    Physics: speed, torque, wear, the temperature difference, power and wear x torque
    (absolute temperatures left out: no failure mode depends on them).
    """
    x = frame[SIGNALS].to_numpy(dtype=float)
    if not physics:
        return x
    air, process, rpm, torque, wear = x.T
    return np.column_stack(
        [rpm, torque, wear, process - air, torque * rpm * RAD_PER_S, wear * torque]
    )


def real_data() -> tuple[pd.DataFrame, np.ndarray]:
    raw = pd.read_csv(DATA, encoding="utf-8-sig")
    frame = pd.DataFrame(
        {
            "air": raw["Air temperature [K]"],
            "process": raw["Process temperature [K]"],
            "rpm": raw["Rotational speed [rpm]"],
            "torque": raw["Torque [Nm]"],
            "wear": raw["Tool wear [min]"],
        }
    )
    return frame, raw["Machine failure"].to_numpy()


def simulated(days: float, cells: int, seed: int) -> pd.DataFrame:
    factory = Factory(
        parse_scenario(AREA.format(cells=cells)), seed=seed, start_ms=1_763_683_200_000
    )
    recorder = Ai4iRecorder(factory.scenario)
    started = time.perf_counter()
    run(factory, recorder, until_ms=factory.now_ms + int(days * 86_400_000))
    print(
        f"simulated {days:g} days of {len(factory.machines)} CNC machines in "
        f"{time.perf_counter() - started:.0f} s: {len(recorder.rows):,} parts"
    )
    return pd.DataFrame(
        {
            "air": [r.air_temp_k for r in recorder.rows],
            "process": [r.process_temp_k for r in recorder.rows],
            "rpm": [r.rotational_speed_rpm for r in recorder.rows],
            "torque": [r.torque_nm for r in recorder.rows],
            "wear": [r.tool_wear_min for r in recorder.rows],
            "failure": [r.machine_failure for r in recorder.rows],
            "mode": [r.mode for r in recorder.rows],
        }
    )


def models() -> dict[str, object]:
    return {
        "random_forest": RandomForestClassifier(
            n_estimators=300, min_samples_leaf=2, random_state=0, n_jobs=1
        ),
        "gradient_boosting": HistGradientBoostingClassifier(random_state=0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--cells", type=int, default=4, help="lines of three CNC machines")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    frame, target = real_data()
    sim = simulated(args.days, args.cells, args.seed)
    labels = sim["failure"].to_numpy()
    modes = Counter(m for m in sim["mode"] if m)
    prevalence = labels.mean()
    print(f"simulated failures: {int(labels.sum())} of {len(labels):,} parts ({prevalence:.2%})")
    print("  by mode: " + ", ".join(f"{mode} {n}" for mode, n in modes.most_common()))
    fields = [f"days={args.days:g}", f"parts={len(labels)}", f"failures={int(labels.sum())}"]
    fields += ["chance_auc=0.500", f"chance_ap={prevalence:.4f}"]
    for physics in (False, True):
        x_real, x_sim = features(frame, physics), features(sim, physics)
        for name, model in models().items():
            folds = StratifiedKFold(5, shuffle=True, random_state=0)
            cv = cross_val_predict(model, x_real, target, cv=folds, method="predict_proba")[:, 1]
            model.fit(x_real, target)  # type: ignore[attr-defined]
            scores = model.predict_proba(x_sim)[:, 1]  # type: ignore[attr-defined]
            key = f"{name}{'_physics' if physics else '_raw'}"
            auc, ap = roc_auc_score(labels, scores), average_precision_score(labels, scores)
            bacc = balanced_accuracy_score(labels, scores >= 0.5)
            ruled = sim["mode"].isin(_RULES).to_numpy() | (labels == 0)  # random ones left out
            auc_rules = roc_auc_score(labels[ruled], scores[ruled])
            found = {m: float(np.mean(scores[sim["mode"] == m] >= 0.5)) for m in modes}
            print(
                f"{key}: simulated ROC-AUC {auc:.3f} (chance 0.5; {auc_rules:.3f} without random "
                f"failures), average precision {ap:.3f} (chance {prevalence:.4f}), balanced "
                f"accuracy {bacc:.3f}; on real AI4I (5-fold CV) ROC-AUC "
                f"{roc_auc_score(target, cv):.3f}"
            )
            print("    recall by mode: " + ", ".join(f"{m} {r:.2f}" for m, r in found.items()))
            fields += [f"{key}_auc={auc:.3f}", f"{key}_ap={ap:.3f}", f"{key}_bacc={bacc:.3f}"]
            fields.append(f"{key}_auc_without_random={auc_rules:.3f}")
            fields.append(f"{key}_real_cv_auc={roc_auc_score(target, cv):.3f}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    print("RESULT " + " ".join([*fields, f"peak_rss_mb={rss:.0f}"]))


if __name__ == "__main__":
    main()
