"""Live scoring on the ingest stream: failure risk per machine, anomaly scores per tag, alerts.

:class:`LiveScorer` is a :class:`~andon.signals.RecordStream`: the app hands it every batch
the ingestion pipeline has written. For each machine it follows the state (models score
a machine only while it produces: a stopped spindle is not an anomaly) and, for each
metrics record:

* **failure risk** from the failure models attached to the machine's path: the machine's
  tags are matched to the model's inputs by role (``torque_nm`` to ``Torque [Nm]``, with
  °C turned into K when the model learned kelvin); inputs the machine does not measure
  (a product quality class) take the training data's most common value;
* **anomaly scores** of each tag from a streaming detector (one per tag);
* **remaining useful life** from the RUL models attached to the machine: its current life
  (since the last drop of the model's time counter, e.g. ``tool_wear_min``) is bucketed
  per ``rul_every_ms`` as :func:`andon.ml.lives.life_table` did for training, and the model
  predicts at the end of each bucket.

Every ``every_ms`` the interval's mean risk and each tag's highest anomaly score are written
back to the historian as samples of the machine (``ml_failure_risk``,
``ml_anomaly_<tag>``; ``ml_rul`` per RUL bucket), so history, dashboards and the API read
them like any tag, and fed to the :class:`~andon.ml.alerts.AlertBook` (severity,
hysteresis, de-duplication).

Models come from the settings' ``ml:`` section (:meth:`ScoringConfig.from_settings`) or are
attached while the stream runs (:meth:`LiveScorer.attach`, e.g. once they have been learned
from the plant's history by :mod:`andon.ml.learn`). A model learned on the plant's own tags
reads them by name; one learned elsewhere (AI4I) reads them by role.

>>> from andon.historian import DuckDBHistorian
>>> from andon.signals import Metrics
>>> scorer = LiveScorer(DuckDBHistorian(":memory:"), ScoringConfig(every_ms=1000,
...     detector_params={"probation": 30}))
>>> scorer.publish([Metrics("a/b/c/d/pump", t * 1000, {"temp_c": 20.0 + t % 3}) for t in range(60)])
>>> sorted(scorer.health("a/b/c/d/pump")["anomaly"])
['temp_c']
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from andon.config import MlSettings
from andon.errors import AndonError, ConfigError
from andon.historian.protocol import Historian, WriteBatch
from andon.ml.alerts import Alert, AlertBook, AlertPolicy
from andon.ml.anomaly import MultiDetector
from andon.ml.features import find_roles
from andon.ml.lives import LIFE, LifeTracker
from andon.ml.registry import load_model, read_card
from andon.signals import Metrics, Record, Sample, StateChange, state_category

__all__ = ["Attachment", "LiveScorer", "ScoringConfig"]

_logger = logging.getLogger(__name__)
_PRODUCING = frozenset({10000, 20000})
_KELVIN = 273.15
RISK_TAG = "ml_failure_risk"
RUL_TAG = "ml_rul"
ANOMALY_PREFIX = "ml_anomaly_"


FAILURE_POLICY = AlertPolicy(
    warning=0.5, critical=0.8, clear=0.3, confirm=2, clear_after_ms=120_000
)
RUL_POLICY = AlertPolicy(  # in the model's time unit (minutes of a tool's life, cycles...)
    warning=30, critical=10, clear=45, confirm=1, clear_after_ms=0, higher_is_worse=False
)
ANOMALY_POLICY = AlertPolicy(
    warning=0.999, critical=0.99999, clear=0.9, confirm=1, clear_after_ms=1_800_000
)


@dataclass(frozen=True)
class Attachment:
    """A trained model (registry directory) scoring the assets whose path matches ``pattern``."""

    model: str
    pattern: str = "*"


@dataclass(frozen=True)
class ScoringConfig:
    """What the live scorer computes and when it raises alerts."""

    failure: tuple[Attachment, ...] = ()
    anomaly: bool = True
    detector: str = "discord"
    # Plant defaults, stricter than NAB's: an hour of production to learn, a new value only
    # when 25 % beyond the range seen, at most one alarm per tag per 30 min of production.
    detector_params: dict[str, Any] = field(
        default_factory=lambda: {"probation": 3600, "memory": 8000, "tolerance": 0.25, "rest": 1800}
    )
    anomaly_tags: tuple[str, ...] = ("*",)
    anomaly_exclude: tuple[str, ...] = ("*_kwh", "*wear*", "*total*", "*count*", "ml_*")
    only_running: bool = True
    every_ms: int = 5_000
    failure_policy: AlertPolicy = FAILURE_POLICY
    anomaly_policy: AlertPolicy = ANOMALY_POLICY
    rul: tuple[Attachment, ...] = ()
    rul_every_ms: int = 60_000  # one row of a life per minute of production, as in training
    rul_policy: AlertPolicy = RUL_POLICY
    # Failure-policy levels a model card's calibrated ones replace (andon.ml.learn chooses
    # them on held-out history); the levels the settings fix are left out.
    calibrated: tuple[str, ...] = ("warning", "critical", "clear")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> ScoringConfig:
        """From a settings section (YAML), e.g.::

            failure: [{model: data/models/ai4i, pattern: "*/cnc*"}]
            rul: [{model: data/models/tool-life, pattern: "*/cnc*"}]
            anomaly: true
            anomaly_tags: ["*"]
            failure_policy: {warning: 0.5, critical: 0.8, clear: 0.3}

        >>> ScoringConfig.from_mapping({"failure": [{"model": "m", "pattern": "*/cnc*"}]}).failure
        (Attachment(model='m', pattern='*/cnc*'),)
        """
        known = set(cls.__dataclass_fields__)
        unknown = set(mapping) - known
        if unknown:
            raise ConfigError(f"ml scoring: unknown keys {sorted(unknown)}")
        values: dict[str, Any] = {}
        try:
            for key, value in mapping.items():
                if key in {"failure", "rul"}:
                    values[key] = tuple(Attachment(**item) for item in value)
                elif key == "calibrated":
                    values[key] = tuple(value)
                elif key.endswith("_policy"):
                    values[key] = AlertPolicy(**value)
                elif key in {"anomaly_tags", "anomaly_exclude"}:
                    values[key] = tuple(value)
                else:
                    values[key] = value
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"ml scoring: {exc}") from exc
        if "failure_policy" in values and "calibrated" not in values:
            values["calibrated"] = ()  # levels set here win over a model card's
        return cls(**values)

    @classmethod
    def from_settings(cls, ml: MlSettings) -> ScoringConfig:
        """From the ``ml:`` section of the settings (models by name in ``ml.models_dir``).

        >>> config = ScoringConfig.from_settings(MlSettings(
        ...     failure={"*/cnc*": "ai4i"}, failure_alert={"warning": 0.6}))
        >>> config.failure[0].model, config.failure_policy.warning, config.failure_policy.clear
        ('data/models/ai4i', 0.6, 0.3)
        >>> config.calibrated  # a model card's calibrated levels still set these
        ('critical', 'clear')
        """
        base = cls()
        return cls(
            failure=tuple(Attachment(str(ml.model_path(m)), p) for p, m in ml.failure.items()),
            rul=tuple(Attachment(str(ml.model_path(m)), p) for p, m in ml.rul.items()),
            every_ms=ml.every_ms,
            anomaly=ml.anomaly,
            detector_params={**base.detector_params, "probation": ml.anomaly_probation_s},
            failure_policy=_override(base.failure_policy, ml.failure_alert, "failure_alert"),
            rul_policy=_override(base.rul_policy, ml.rul_alert, "rul_alert"),
            anomaly_policy=_override(base.anomaly_policy, ml.anomaly_alert, "anomaly_alert"),
            calibrated=tuple(k for k in base.calibrated if k not in ml.failure_alert),
        )


def _override(policy: AlertPolicy, values: Mapping[str, float], name: str) -> AlertPolicy:
    kinds = {f.name: type(getattr(policy, f.name)) for f in fields(policy)}
    unknown = set(values) - set(kinds)
    if unknown:
        raise ConfigError(f"ml.{name}: unknown keys {sorted(unknown)}")
    return replace(policy, **{key: kinds[key](value) for key, value in values.items()})


def _calibrated(
    policy: AlertPolicy, levels: Mapping[str, float], keys: Sequence[str]
) -> AlertPolicy:
    """``policy`` with a model card's alert levels for ``keys``, kept in order."""

    def level(key: str, default: float) -> float:
        return float(levels[key]) if key in keys and key in levels else default

    warning = level("warning", policy.warning)
    critical = max(level("critical", policy.critical), warning)
    clear = min(level("clear", policy.clear), warning)
    return replace(policy, warning=warning, critical=critical, clear=clear)


@dataclass
class _Interval:
    """What one machine's models produced since the last write."""

    bucket: int = -1
    last_ts: int = 0
    risks: list[float] = field(default_factory=list)
    anomalies: dict[str, float] = field(default_factory=dict)


class _RiskModel:
    """A failure model bound to one machine's tags."""

    def __init__(self, model: Any, columns: dict[str, Callable[[Mapping[str, float]], float]]):
        self.model = model
        self.columns = columns

    @classmethod
    def bind(cls, model: Any, tags: list[str]) -> _RiskModel | None:
        plan = model.plan_
        by_role = find_roles(tags)
        role_of = {column: role for role, column in plan.roles.items()}
        columns: dict[str, Callable[[Mapping[str, float]], float]] = {}
        for column in plan.inputs:
            role = role_of.get(column)
            if column in tags:  # a model learned on this plant's own tags
                columns[column] = _reader(column, None)
            elif role is not None and role in by_role:
                columns[column] = _reader(by_role[role], plan.kelvin.get(role))
            elif column in plan.defaults:
                columns[column] = _constant(plan.defaults[column])
            else:
                return None
        return cls(model, columns)

    def risks(self, rows: Sequence[Mapping[str, float]]) -> npt.NDArray[np.float64]:
        frame = pd.DataFrame({c: [read(r) for r in rows] for c, read in self.columns.items()})
        proba = self.model.predict_proba(frame)
        return np.asarray(proba[:, -1], dtype=float)


class _RulModel:
    """A remaining-useful-life model following one machine's current life."""

    def __init__(self, model: Any, tracker: LifeTracker) -> None:
        self.model = model
        self.tracker = tracker

    @classmethod
    def bind(cls, model: Any, tags: list[str], bucket_ms: int) -> _RulModel | None:
        needed = {model.time, *model.normalizer_.inputs}
        if not needed <= set(tags):
            return None
        return cls(model, LifeTracker(model.time, bucket_ms))

    def update(self, ts_ms: int, values: Mapping[str, float]) -> float | None:
        """The RUL at the end of each completed bucket of production, else None."""
        life = self.tracker.add(ts_ms, values)
        if life is None:
            return None
        return float(self.model.predict(life.rename(columns={LIFE: self.model.unit}))[-1])


def _reader(tag: str, kelvin: bool | None) -> Callable[[Mapping[str, float]], float]:
    shift = 0.0
    if kelvin is not None:
        tag_is_kelvin = tag.lower().endswith(("_k", "[k]"))
        shift = _KELVIN if kelvin and not tag_is_kelvin else 0.0
        shift = -_KELVIN if tag_is_kelvin and not kelvin else shift
    return lambda values: float(values.get(tag, np.nan)) + shift


def _constant(value: float | str) -> Callable[[Mapping[str, float]], Any]:
    return lambda values: value


_Bound = TypeVar("_Bound", _RiskModel, _RulModel)


class LiveScorer:
    """Scores live metrics per machine and raises alerts (a ``RecordStream``)."""

    def __init__(
        self,
        historian: Historian,
        config: ScoringConfig | None = None,
        *,
        models: Mapping[str, Any] | None = None,
        on_alert: Callable[[Alert], None] | None = None,
    ) -> None:
        self.config = config or ScoringConfig()
        self._historian = historian
        self.book = AlertBook(historian, on_alert=on_alert)
        self._lock = threading.Lock()
        self._models = dict(models or {})
        self._states: dict[str, int] = {}
        self._risk: dict[str, list[_RiskModel]] = {}
        self._risk_policy: dict[str, AlertPolicy] = {}
        self._levels: dict[str, Mapping[str, float]] = {}
        self._rul: dict[str, list[_RulModel]] = {}
        self._detectors: dict[str, MultiDetector] = {}
        self._intervals: dict[str, _Interval] = {}
        self._latest: dict[str, dict[str, Any]] = {}
        self._watched_tags: dict[str, bool] = {}

    def attach(
        self,
        *,
        failure: tuple[Attachment, ...] | None = None,
        rul: tuple[Attachment, ...] | None = None,
        models: Mapping[str, Any] | None = None,
    ) -> None:
        """Score with these failure and RUL models from now on (the others stay as they are).

        ``models`` holds already loaded models by the attachments' paths. Machines bind to
        the new models on their next record; anomaly detectors keep what they learned.
        """
        with self._lock:
            if failure is not None:
                self.config = replace(self.config, failure=failure)
                self._risk.clear()
                self._risk_policy.clear()
            if rul is not None:
                self.config = replace(self.config, rul=rul)
                self._rul.clear()
            self._models.update(models or {})
            for path in models or {}:
                self._levels.pop(path, None)  # read the new model's card

    def _model(self, path: str) -> Any:
        if path not in self._models:
            self._models[path], card = load_model(Path(path))
            self._levels[path] = card.options.get("alert", {})
        return self._models[path]

    def _alert_levels(self, path: str) -> Mapping[str, float]:
        """The alert levels calibrated for the model at ``path`` (its card), if any."""
        if path not in self._levels:
            try:
                self._levels[path] = read_card(Path(path)).options.get("alert", {})
            except AndonError:  # a model handed over without a registry card
                self._levels[path] = {}
        return self._levels[path]

    def failure_policy(self, asset: str) -> AlertPolicy:
        """The failure-risk alert policy of ``asset``: the settings' levels, and those its
        model's card calibrated for the levels the settings leave open."""
        with self._lock:
            return self._risk_policy.get(asset, self.config.failure_policy)

    # -- the stream --------------------------------------------------------------------

    def publish(self, records: list[Record]) -> None:
        """Score a batch just written by the ingestion pipeline."""
        rows: dict[str, list[Metrics]] = {}
        for record in sorted(records, key=lambda r: r.ts_ms):
            if isinstance(record, StateChange):
                self._states[record.asset] = record.code
            elif isinstance(record, Metrics) and self._producing(record.asset):
                rows.setdefault(record.asset, []).append(record)
        samples: list[Sample] = []
        with self._lock:
            for asset, metrics in rows.items():
                samples += self._score(asset, metrics)
        if samples:
            self._historian.write(WriteBatch([], samples, [], [], []))

    def _producing(self, asset: str) -> bool:
        if not self.config.only_running:
            return True
        code = self._states.get(asset)
        return code is None or state_category(code) in _PRODUCING

    def _score(self, asset: str, metrics: list[Metrics]) -> list[Sample]:
        risks = self._risks(asset, metrics)
        detector = self._detector(asset) if self.config.anomaly else None
        samples: list[Sample] = []
        for i, record in enumerate(metrics):
            interval = self._intervals.setdefault(asset, _Interval())
            bucket = record.ts_ms // self.config.every_ms
            if bucket != interval.bucket and interval.bucket >= 0:
                samples += self._flush(asset, interval)
                interval = self._intervals[asset] = _Interval()
            interval.bucket, interval.last_ts = bucket, record.ts_ms
            if risks is not None:
                interval.risks.append(float(risks[i]))
            if detector is not None:
                self._watch(detector, record.values, interval)
            samples += self._remaining_life(asset, record)
        return samples

    def _remaining_life(self, asset: str, record: Metrics) -> list[Sample]:
        if asset not in self._rul:
            bucket = self.config.rul_every_ms
            self._rul[asset] = self._bind(
                asset,
                self.config.rul,
                lambda model: _RulModel.bind(model, list(record.values), bucket),
            )
        samples = []
        for model in self._rul[asset]:
            rul = model.update(record.ts_ms, record.values)
            if rul is not None:
                samples.append(Sample(asset, RUL_TAG, record.ts_ms, rul))
                self._latest.setdefault(asset, {"anomaly": {}})["rul"] = rul
                self.book.observe(asset, "rul", "", record.ts_ms, rul, self.config.rul_policy)
        return samples

    def _watch(
        self, detector: MultiDetector, values: dict[str, float], interval: _Interval
    ) -> None:
        watched = {k: v for k, v in values.items() if self._watched(k)}
        for tag, score in detector.score_many(watched).items():
            interval.anomalies[tag] = max(interval.anomalies.get(tag, 0.0), score)
        detector.learn_one(watched)

    def _watched(self, tag: str) -> bool:
        known = self._watched_tags.get(tag)
        if known is None:
            config = self.config
            known = self._watched_tags[tag] = any(
                fnmatch.fnmatch(tag, p) for p in config.anomaly_tags
            ) and not any(fnmatch.fnmatch(tag, p) for p in config.anomaly_exclude)
        return known

    def _detector(self, asset: str) -> MultiDetector:
        if asset not in self._detectors:
            config = self.config
            self._detectors[asset] = MultiDetector(config.detector, config.detector_params)
        return self._detectors[asset]

    def _risks(self, asset: str, metrics: list[Metrics]) -> npt.NDArray[np.float64] | None:
        if asset not in self._risk:
            tags = list(metrics[0].values)
            self._risk[asset] = self._bind(
                asset, self.config.failure, lambda model: _RiskModel.bind(model, tags)
            )
            policy = self.config.failure_policy
            for attachment in self.config.failure:
                levels = self._alert_levels(attachment.model)
                if fnmatch.fnmatch(asset, attachment.pattern) and levels:
                    policy = _calibrated(policy, levels, self.config.calibrated)
                    break  # the first model that scores the machine sets its levels
            self._risk_policy[asset] = policy
        bound = self._risk[asset]
        if not bound:
            return None
        rows = [m.values for m in metrics]
        return np.asarray(np.max([m.risks(rows) for m in bound], axis=0), dtype=np.float64)

    def _bind(
        self,
        asset: str,
        attachments: tuple[Attachment, ...],
        bind: Callable[[Any], _Bound | None],
    ) -> list[_Bound]:
        bound = []
        for attachment in attachments:
            if not fnmatch.fnmatch(asset, attachment.pattern):
                continue
            model = bind(self._model(attachment.model))
            if model is None:
                _logger.warning("%s lacks the inputs of model %s", asset, attachment.model)
            else:
                bound.append(model)
        return bound

    def _flush(self, asset: str, interval: _Interval) -> list[Sample]:
        ts, samples = interval.last_ts, []
        latest = self._latest.setdefault(asset, {"anomaly": {}})
        if interval.risks:
            risk = float(np.mean(interval.risks))
            samples.append(Sample(asset, RISK_TAG, ts, risk))
            latest.update(failure_risk=risk, ts_ms=ts)
            policy = self._risk_policy.get(asset, self.config.failure_policy)
            self.book.observe(asset, "failure_risk", "", ts, risk, policy)
        for tag, score in interval.anomalies.items():
            samples.append(Sample(asset, f"{ANOMALY_PREFIX}{tag}", ts, score))
            latest["anomaly"][tag] = score
            self.book.observe(asset, "anomaly", tag, ts, score, self.config.anomaly_policy)
        return samples

    # -- reading -----------------------------------------------------------------------

    def health(self, asset: str) -> dict[str, Any]:
        """The latest risk and anomaly scores of ``asset``, and its open alerts."""
        with self._lock:
            latest = dict(self._latest.get(asset, {"anomaly": {}}))
        latest["anomaly"] = dict(latest.get("anomaly", {}))
        latest["open_alerts"] = [a.to_dict() for a in self.book.alerts(asset=asset, open_only=True)]
        return latest
