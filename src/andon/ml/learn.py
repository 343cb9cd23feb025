"""Failure and remaining-useful-life models learned from the plant's own history.

A plant that has run for a while has already recorded what its models need:

* **failure risk**: every producing second of a machine is a row (its tags' values), labelled
  1 when an equipment failure started within ``horizon_ms`` after it. Failures whose reason
  says they give no warning (``random_failure``) are left out with the rows before them,
  and quiet rows are thinned (one every ``negatives_every``) so the table stays small;
* **alert levels** of the failure risk, chosen on held-out *time*: a model trained on the
  earlier part of the window scores the later part, the one holding the last
  ``calibration_share`` of the failures with signs (at least one), as the live scorer
  would (mean risk per ``every_ms``, alerts after ``confirm`` readings). The warning level
  that announces the most failures with signs (recall) while raising at most
  ``max_false_per_h`` wrong alerts per machine-hour (an alert no failure followed within
  ``horizon_ms``), then the most precise, is stored in the model card
  (``options["alert"]``, the held-out figures in ``metrics``), which
  :class:`andon.ml.live.LiveScorer` follows unless the settings fix the levels. The stored
  model is then trained on the whole window; the future it will score is never looked at;
* **remaining useful life**: the lives of a renewed component, read from a counter tag
  (``tool_wear_min``) with :func:`andon.ml.lives.life_table`; the target of each row is
  what was left of its life.

:func:`learn_from_history` trains both for each group of alike machines (the same kind, the
same tags), stores them in the registry (``<prefix><group>-failure``,
``<prefix><group>-rul``) and reuses the stored models on the next start: delete them to
learn again. It returns the attachments for :meth:`andon.ml.live.LiveScorer.attach`.
:func:`recent_records` replays the last minutes of history to a scorer just attached, so
it shows risks, remaining lives and warmed-up anomaly detectors at once.

>>> rows = pd.DataFrame({"ts": [0, 1000, 2000, 3000], "torque_nm": [40.0, 41, 60, 62]})
>>> failure_labels(rows["ts"].to_numpy(), [2500], [], horizon_ms=1000).tolist()
[0, 0, 1, -1]
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from andon.historian.protocol import Historian
from andon.ml.alerts import AlertPolicy, openings
from andon.ml.live import FAILURE_POLICY, Attachment
from andon.ml.lives import LIFE, life_table, producing_rows
from andon.ml.maintenance import FailureClassifier, RulRegressor
from andon.ml.registry import ModelCard, load_model, model_versions, save_model
from andon.signals import Metrics, Record, StateChange

__all__ = [
    "Learned",
    "alert_levels",
    "failure_labels",
    "failure_table",
    "learn_from_history",
    "recent_records",
]

_logger = logging.getLogger(__name__)
_FAILURE = 180000
_SILENT = ("random_failure",)  # failures that give no sign beforehand
_CUMULATIVE = ("*_kwh", "*total*", "*count*", "ml_*")  # counters that only tell the time
_COUNTERS = ("*wear*", "*since_renewal*", "*hours_since*")
_HOUR_MS = 3_600_000


@dataclass
class Learned:
    """Models to attach (by registry path) and what happened to each group."""

    failure: list[Attachment] = field(default_factory=list)
    rul: list[Attachment] = field(default_factory=list)
    models: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def failure_labels(
    ts: npt.NDArray[np.int64],
    failures: Sequence[int],
    silent: Sequence[int],
    *,
    horizon_ms: int,
) -> npt.NDArray[np.int64]:
    """1 for rows less than ``horizon_ms`` before a failure, -1 (leave out) before a silent
    one or at/after a failure start that the row cannot precede, else 0."""
    labels = np.zeros(len(ts), dtype=np.int64)
    for start in silent:
        labels[(ts >= start - horizon_ms) & (ts < start + horizon_ms)] = -1
    for start in failures:
        labels[(ts >= start - horizon_ms) & (ts < start)] = 1
        labels[(ts >= start) & (ts < start + horizon_ms) & (labels == 0)] = -1
    return labels


def failure_table(
    historian: Historian,
    assets: Sequence[str],
    start_ms: int,
    end_ms: int,
    *,
    horizon_ms: int = 120_000,
    negatives_every: int = 10,
) -> tuple[pd.DataFrame, npt.NDArray[np.int64]]:
    """Producing rows of ``assets`` (tags as columns) and whether a failure followed."""
    frames, targets = [], []
    for asset in assets:
        rows = producing_rows(historian, asset, start_ms, end_ms)
        if len(rows) == 0:
            continue
        stops = [
            s
            for s in historian.state_timeline(asset, start_ms, end_ms)
            if s.code // 10000 * 10000 == _FAILURE
        ]
        failures = [s.ts_ms for s in stops if s.reason not in _SILENT]
        silent = [s.ts_ms for s in stops if s.reason in _SILENT]
        ts = rows["ts"].to_numpy(dtype=np.int64)
        labels = failure_labels(ts, failures, silent, horizon_ms=horizon_ms)
        keep = (labels == 1) | ((labels == 0) & (np.arange(len(ts)) % negatives_every == 0))
        columns = [c for c in rows.columns if c != "ts" and not _matches(c, _CUMULATIVE)]
        frames.append(rows.loc[keep, columns].reset_index(drop=True))
        targets.append(labels[keep])
    if not frames:
        return pd.DataFrame(), np.zeros(0, dtype=np.int64)
    table = pd.concat(frames, ignore_index=True)
    table = table.fillna(table.median(numeric_only=True))
    return table, np.concatenate(targets)


def learn_from_history(
    historian: Historian,
    groups: Mapping[str, Sequence[str]],
    models_dir: Path,
    start_ms: int,
    end_ms: int,
    *,
    prefix: str = "",
    min_failures: int = 3,
    min_lives: int = 3,
    horizon_ms: int = 120_000,
    n_estimators: int = 100,
    calibration_share: float = 1 / 3,
    every_ms: int = 5_000,
    max_false_per_h: float = 0.1,
    stop: threading.Event | None = None,
) -> Learned:
    """Failure and RUL models for each group of alike machines (name -> asset paths).

    A group's stored model is loaded when there is one; otherwise it is trained on the
    window's history when that holds at least ``min_failures`` failures with warning signs
    (``min_lives`` complete lives), and stored. Groups without enough history are skipped
    with a note. The failure model's alert levels are calibrated on the last
    part of the window holding the last ``calibration_share`` of its failures with signs
    (:func:`alert_levels`; 0: no calibration) when the earlier part keeps two to learn
    from; otherwise the card has none and the scorer keeps its default levels.
    """
    learned = Learned()
    for group, assets in groups.items():
        name = f"{prefix}{group}"
        path = models_dir / f"{name}-failure"
        model = _stored(path)
        if model is None:
            table, target = failure_table(
                historian, assets, start_ms, end_ms, horizon_ms=horizon_ms
            )
            events = int(np.sum(np.diff(np.r_[0, target]) == 1))
            if events < min_failures or target.sum() == 0:
                learned.notes.append(f"{name}: {events} failures with signs: no failure model")
            else:
                split_ms = _held_out_from(
                    historian, assets, start_ms, end_ms, calibration_share, horizon_ms
                )
                calibration = _calibrate(
                    historian,
                    assets,
                    start_ms,
                    split_ms,
                    end_ms,
                    horizon_ms=horizon_ms,
                    every_ms=every_ms,
                    min_failures=min_failures,
                    n_estimators=n_estimators,
                    max_false_per_h=max_false_per_h,
                )
                if stop is not None and stop.is_set():
                    continue
                model = FailureClassifier(n_estimators=n_estimators).fit(table, target)
                _save(path, model, "failure", table, target, start_ms, end_ms, calibration)
                levels = calibration.get("alert")
                said = f"alert at {levels['warning']:.2f}" if levels else calibration["note"]
                learned.notes.append(f"{name}: failure model from {events} failures ({said})")
        if model is not None:
            learned.models[str(path)] = model
            learned.failure += [Attachment(str(path), asset) for asset in assets]
        _learn_rul(historian, name, assets, models_dir, start_ms, end_ms, min_lives, learned)
    return learned


def _learn_rul(
    historian: Historian,
    name: str,
    assets: Sequence[str],
    models_dir: Path,
    start_ms: int,
    end_ms: int,
    min_lives: int,
    learned: Learned,
) -> None:
    path = models_dir / f"{name}-rul"
    model = _stored(path)
    if model is None:
        tags = {t.name for a in assets for t in historian.tags(a) if t.asset == a}
        counters = sorted(t for t in tags if _matches(t, _COUNTERS))
        if not counters:
            return
        counter = counters[0]
        table = life_table(historian, list(assets), counter, start_ms, end_ms)
        table = table.drop(columns=["asset"])
        table = table[[c for c in table.columns if not _matches(c, _CUMULATIVE)]]
        lives = table[LIFE].nunique()
        if lives < min_lives:
            learned.notes.append(f"{name}: {lives} complete lives of {counter}: no RUL model")
            return
        target = table.groupby(LIFE)[counter].transform("max") - table[counter]
        # Few lives: the linear baseline generalises where boosting would memorise them.
        model = RulRegressor(unit=LIFE, time=counter, model="linear").fit(table, target)
        _save(path, model, "rul", table, target.to_numpy(), start_ms, end_ms)
        learned.notes.append(f"{name}: RUL model from {lives} lives of {counter}")
    learned.models[str(path)] = model
    learned.rul += [Attachment(str(path), asset) for asset in assets]


def alert_levels(
    readings: Mapping[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]],
    failures: Mapping[str, Sequence[int]],
    signs: Mapping[str, Sequence[int]],
    *,
    horizon_ms: int,
    hours: float,
    max_false_per_h: float = 0.1,
    policy: AlertPolicy = FAILURE_POLICY,
) -> dict[str, Any] | None:
    """The warning level of a risk that announces the most failures within a false-alert
    budget.

    ``readings`` are each machine's (times, risks) as the live scorer writes them;
    ``failures`` every failure start, ``signs`` those with warning signs (to be announced);
    ``hours`` the machine-hours they cover. An alert is right when a failure starts within
    ``horizon_ms`` after it opens; a failure with signs is announced when an alert opened
    within ``horizon_ms`` before it. Among the levels raising at most ``max_false_per_h``
    wrong alerts per machine-hour, at least one in all (a rate the many quiet hours measure
    well, where a few failures make precision a coin toss), the one announcing the most wins
    (ties: the more precise, then the higher). ``critical`` lies halfway to 1 and ``clear``
    at 0.6 of it, as in the default policy. None when no level within the budget announces
    a failure.

    >>> ts = np.arange(0, 600_000, 5_000)
    >>> risk = np.where((ts > 200_000) & (ts < 260_000), 0.4, 0.05)
    >>> levels = alert_levels({"m": (ts, risk)}, {"m": [300_000]}, {"m": [300_000]},
    ...                       horizon_ms=120_000, hours=1 / 6)
    >>> levels["warning"], levels["recall"], levels["false_per_h"]
    (0.4, 1.0, 0.0)
    """
    everything = np.concatenate([r for _, r in readings.values()]) if readings else np.zeros(0)
    announced_total = sum(len(v) for v in signs.values())
    if len(everything) == 0 or announced_total == 0 or hours <= 0:
        return None
    quantiles = np.r_[np.linspace(0.5, 0.9, 9), np.linspace(0.91, 0.9999, 40)]
    levels = np.unique(np.round(np.quantile(everything, quantiles), 4))
    levels = levels[(levels > 0) & (levels < 1)]
    best: dict[str, Any] | None = None
    for level in levels:
        trial = replace(
            policy, warning=float(level), critical=float(level), clear=float(level) * 0.6
        )
        opened = right = caught = 0
        for asset, (ts, risk) in readings.items():
            opens = np.asarray(openings(zip(ts.tolist(), risk.tolist(), strict=True), trial))
            starts = np.asarray(failures.get(asset, ()), dtype=np.int64)
            opened += len(opens)
            right += sum(bool(np.any((starts >= o) & (starts <= o + horizon_ms))) for o in opens)
            caught += sum(
                bool(np.any((opens >= f - horizon_ms) & (opens <= f))) for f in signs.get(asset, ())
            )
        false_per_h = (opened - right) / hours
        if caught == 0 or opened - right > max(1.0, max_false_per_h * hours):
            continue  # (one wrong alert is always allowed: a short held-out time counts few)
        precision = right / opened
        rank = (caught, precision, float(level))
        if best is None or rank >= best["rank"]:
            best = {
                "rank": rank,
                "warning": float(level),
                "critical": round(float(level + (1 - level) / 2), 4),
                "clear": round(float(level) * 0.6, 4),
                "precision": round(precision, 4),
                "recall": round(caught / announced_total, 4),
                "false_per_h": round(false_per_h, 4),
                "false_budget_per_h": max_false_per_h,
                "failures": announced_total,
            }
    if best is not None:
        del best["rank"]
    return best


def _held_out_from(
    historian: Historian,
    assets: Sequence[str],
    start_ms: int,
    end_ms: int,
    share: float,
    horizon_ms: int,
) -> int | None:
    """Where the held-out time starts: between the last failure with signs left to learn
    from and the warning time of the first held out (None: too few failures to split)."""
    starts = sorted(
        s.ts_ms
        for asset in assets
        for s in historian.state_timeline(asset, start_ms, end_ms)
        if s.code // 10000 * 10000 == _FAILURE and s.reason not in _SILENT and s.ts_ms >= start_ms
    )
    held = max(1, round(len(starts) * share)) if share > 0 else 0
    if held == 0 or len(starts) - held < 2:
        return None
    first_held, last_kept = starts[-held], starts[-held - 1]
    return max(last_kept + 1, (last_kept + first_held - horizon_ms) // 2)


def _calibrate(
    historian: Historian,
    assets: Sequence[str],
    start_ms: int,
    split_ms: int | None,
    end_ms: int,
    *,
    horizon_ms: int,
    every_ms: int,
    min_failures: int,
    n_estimators: int,
    max_false_per_h: float,
) -> dict[str, Any]:
    """Alert levels of a model learned before ``split_ms``, chosen on the time after it."""
    if split_ms is None:
        return {
            "calibration_from_ms": None,
            "calibration_to_ms": None,
            "note": "too few failures to hold some out: default alerts",
        }
    table, target = failure_table(historian, assets, start_ms, split_ms, horizon_ms=horizon_ms)
    events = int(np.sum(np.diff(np.r_[0, target]) == 1))
    split = {"calibration_from_ms": split_ms, "calibration_to_ms": end_ms}
    if events < max(2, min_failures - 1) or target.sum() == 0:
        return {**split, "note": f"{events} failures before the held-out time: default alerts"}
    model = FailureClassifier(n_estimators=n_estimators).fit(table, target)
    medians = table.median(numeric_only=True)
    readings, failures, signs, hours = {}, {}, {}, 0.0
    for asset in assets:
        rows = producing_rows(historian, asset, split_ms, end_ms)
        stops = [
            s
            for s in historian.state_timeline(asset, split_ms, end_ms)
            if s.code // 10000 * 10000 == _FAILURE and s.ts_ms >= split_ms
        ]
        failures[asset] = [s.ts_ms for s in stops]
        signs[asset] = [s.ts_ms for s in stops if s.reason not in _SILENT]
        if len(rows) == 0 or not set(table.columns) <= set(rows.columns):
            continue
        hours += (end_ms - split_ms) / _HOUR_MS
        frame = rows[list(table.columns)].fillna(medians)
        risk = pd.Series(model.predict_proba(frame)[:, -1], index=rows["ts"].to_numpy())
        buckets = risk.groupby(risk.index.to_numpy() // every_ms)
        means, last = buckets.mean(), buckets.apply(lambda b: int(b.index[-1]))
        readings[asset] = (last.to_numpy(dtype=np.int64), means.to_numpy(dtype=np.float64))
    levels = alert_levels(
        readings,
        failures,
        signs,
        horizon_ms=horizon_ms,
        hours=hours,
        max_false_per_h=max_false_per_h,
    )
    if levels is None:
        announced = sum(map(len, signs.values()))
        return {
            **split,
            "note": f"no level announces one of {announced} held-out failures "
            f"within {max_false_per_h:g} false alerts per machine-hour: default alerts",
        }
    return {**split, "alert": levels, "note": "alert levels from held-out time"}


def recent_records(
    historian: Historian, assets: Sequence[str], start_ms: int, end_ms: int
) -> list[Record]:
    """The assets' producing metrics in the window as records, in time order, then each
    asset's state at ``end_ms`` (so a scorer fed them knows which machines stand still)."""
    records: list[Record] = []
    for asset in assets:
        rows = producing_rows(historian, asset, start_ms, end_ms)
        tags = [c for c in rows.columns if c != "ts"]
        for ts, *values in rows[["ts", *tags]].itertuples(index=False, name=None):
            present = {t: float(v) for t, v in zip(tags, values, strict=True) if pd.notna(v)}
            if present:
                records.append(Metrics(asset, int(ts), present))
    records.sort(key=lambda r: r.ts_ms)
    for asset in assets:
        states = historian.state_timeline(asset, end_ms - 1, end_ms)
        if states:
            last = states[-1]
            records.append(StateChange(asset, end_ms, last.code, last.reason))
    return records


def _stored(path: Path) -> Any | None:
    if not model_versions(path):
        return None
    return load_model(path)[0]


def _save(
    path: Path,
    model: Any,
    task: str,
    table: pd.DataFrame,
    target: npt.NDArray[Any],
    start_ms: int,
    end_ms: int,
    calibration: Mapping[str, Any] | None = None,
) -> None:
    options: dict[str, Any] = {
        "start_ms": start_ms,
        "end_ms": end_ms,
        "positives": int(np.sum(target > 0)),
    }
    split: dict[str, Any] = {"kind": "none", "note": "learned from the plant's history"}
    metrics: dict[str, Any] = {}
    if calibration is not None:
        levels = calibration.get("alert")
        split = {
            "kind": "time",
            "calibration_from_ms": calibration["calibration_from_ms"],
            "calibration_to_ms": calibration["calibration_to_ms"],
            "note": f"{calibration['note']}; the stored model is trained on the whole window",
        }
        if levels:
            options["alert"] = {k: levels[k] for k in ("warning", "critical", "clear")}
            metrics = {f"heldout_alert_{k}": v for k, v in levels.items() if k != "warning"}
    card = ModelCard(
        task=task,
        params=model.get_params(),
        data={"rows": len(table), "columns": list(map(str, table.columns)), "source": "history"},
        split=split,
        features=list(map(str, table.columns)),
        options=options,
        metrics=metrics,
    )
    save_model(path, model, card)


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)
