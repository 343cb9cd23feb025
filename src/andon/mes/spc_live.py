"""Live SPC: control charts evaluated on the ingest stream, alerts kept in the historian.

:class:`LiveSpc` is a :class:`~andon.signals.RecordStream`: the app hands it every batch the
ingestion pipeline has written. For each configured tag it groups values into subgroups by
count, learns frozen limits from the first ``baseline`` subgroups (or takes a known centre
and sigma), and from then on applies the run rules to each new point with the same code as
the batch charts, over a window of the recent points as long as the longest rule. A
violation becomes a row of ``spc_alerts`` (idempotent on asset, tag, time, series and rule,
so a replayed batch raises nothing twice) and a call of ``on_alert``.

Learned limits are kept in ``spc_limits`` so a restart resumes with the same limits instead
of learning new ones from a process that may have drifted. Values older than the newest
one seen for their tag (late or replayed) are skipped: the rules read points in time order.

Tables use SQL common to DuckDB and PostgreSQL, through ``Historian.sql``.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from andon.errors import InvalidRequest
from andon.historian.protocol import SqlRunner
from andon.mes.spc_constants import d2, d3
from andon.mes.spc_rules import RULE_TEXT, evaluate, max_window
from andon.signals import Metrics, Record, Sample

__all__ = ["LiveSpc", "LiveTag", "SpcAlert", "alerts", "create_tables"]

_logger = logging.getLogger(__name__)

_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS spc_alerts (
        asset     VARCHAR NOT NULL,
        tag       VARCHAR NOT NULL,
        ts_ms     BIGINT NOT NULL,
        series    VARCHAR NOT NULL,
        rule_set  VARCHAR NOT NULL,
        rule      INTEGER NOT NULL,
        value     DOUBLE PRECISION NOT NULL,
        center    DOUBLE PRECISION NOT NULL,
        lcl       DOUBLE PRECISION NOT NULL,
        ucl       DOUBLE PRECISION NOT NULL,
        message   VARCHAR NOT NULL,
        PRIMARY KEY (asset, tag, ts_ms, series, rule_set, rule)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS spc_limits (
        asset     VARCHAR NOT NULL,
        tag       VARCHAR NOT NULL,
        subgroup  INTEGER NOT NULL,
        center    DOUBLE PRECISION NOT NULL,
        sigma     DOUBLE PRECISION NOT NULL,
        points    INTEGER NOT NULL,
        PRIMARY KEY (asset, tag)
    )
    """,
)
_COLUMNS = "asset, tag, ts_ms, series, rule_set, rule, value, center, lcl, ucl, message"


@dataclass(frozen=True, slots=True)
class LiveTag:
    """A tag to watch: subgroup size, rules, and known limits or a baseline to learn them."""

    asset: str
    tag: str
    subgroup: int = 1
    rule_set: str = "nelson"
    enabled: tuple[int, ...] | None = None
    baseline: int = 25
    center: float | None = None
    sigma: float | None = None

    def __post_init__(self) -> None:
        if self.subgroup < 1 or self.baseline < 2:
            raise InvalidRequest("a live chart needs subgroup >= 1 and a baseline >= 2")
        if (self.center is None) != (self.sigma is None):
            raise InvalidRequest("give both centre and sigma, or neither")
        max_window(self.rule_set, self.enabled)  # validates the rule selection


@dataclass(frozen=True, slots=True)
class SpcAlert:
    """One rule violation on a live chart (``series`` is ``x``/``xbar``, or ``mr``/``r``)."""

    asset: str
    tag: str
    ts_ms: int
    series: str
    rule_set: str
    rule: int
    value: float
    center: float
    lcl: float
    ucl: float
    message: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def row(self) -> tuple[object, ...]:
        return (
            self.asset,
            self.tag,
            self.ts_ms,
            self.series,
            self.rule_set,
            self.rule,
            self.value,
            self.center,
            self.lcl,
            self.ucl,
            self.message,
        )


@dataclass
class _Chart:
    """State of one watched tag."""

    spec: LiveTag
    pending: list[float] = field(default_factory=list)
    learning: list[tuple[float, float]] = field(default_factory=list)  # (mean, range)
    recent: deque[float] = field(default_factory=deque)
    previous: float | None = None
    last_ts: int | None = None
    center: float | None = None
    sigma: float | None = None


def create_tables(runner: SqlRunner) -> None:
    """Create ``spc_alerts`` and ``spc_limits`` if they do not exist."""
    for statement in _TABLES:
        runner.sql(statement)


class LiveSpc:
    """Evaluates control charts on live records and raises alerts (a ``RecordStream``)."""

    def __init__(
        self,
        historian: SqlRunner,
        tags: Sequence[LiveTag],
        *,
        on_alert: Callable[[SpcAlert], None] | None = None,
    ) -> None:
        self._historian = historian
        self._on_alert = on_alert
        self._lock = threading.Lock()
        create_tables(historian)
        self._charts = {(t.asset, t.tag): self._start(t) for t in tags}

    def _start(self, spec: LiveTag) -> _Chart:
        state = _Chart(spec, recent=deque(maxlen=max_window(spec.rule_set, spec.enabled)))
        state.center, state.sigma = spec.center, spec.sigma
        if state.center is None:
            rows = self._historian.sql(
                "SELECT center, sigma FROM spc_limits WHERE asset = ? AND tag = ? AND subgroup = ?",
                [spec.asset, spec.tag, spec.subgroup],
            )
            if rows:
                state.center, state.sigma = float(rows[0][0]), float(rows[0][1])
        return state

    def limits(self, asset: str, tag: str) -> tuple[float, float] | None:
        """The (centre, sigma) in force for a tag, or None while still learning."""
        state = self._charts[(asset, tag)]
        if state.center is None or state.sigma is None:
            return None
        return (state.center, state.sigma)

    def publish(self, records: list[Record]) -> None:
        """Evaluate the watched tags' new values (called by the ingestion pipeline)."""
        values: dict[tuple[str, str], list[tuple[int, float]]] = {}
        for record in records:
            for key, ts, value in _values_of(record):
                if key in self._charts:
                    values.setdefault(key, []).append((ts, value))
        raised: list[SpcAlert] = []
        with self._lock:
            for key, points in values.items():
                raised += self._feed(self._charts[key], sorted(points))
        if raised:
            self._insert(raised)
            for alert in raised:
                _logger.info("SPC %s/%s: %s", alert.asset, alert.tag, alert.message)
                if self._on_alert is not None:
                    self._on_alert(alert)

    def _insert(self, raised: list[SpcAlert]) -> None:
        placeholders = ", ".join(f"({', '.join('?' * 11)})" for _ in raised)
        params = [value for alert in raised for value in alert.row()]
        self._historian.sql(
            f"INSERT INTO spc_alerts ({_COLUMNS}) VALUES {placeholders} ON CONFLICT DO NOTHING",
            params,
        )

    def _feed(self, state: _Chart, points: list[tuple[int, float]]) -> list[SpcAlert]:
        """Complete subgroups from the new values; learn limits, then check the new points
        of the batch together (one vectorised evaluation per tag and batch)."""
        fresh: list[tuple[int, float, float]] = []  # (ts, mean, spread) to check
        for ts, value in points:
            if state.last_ts is not None and ts <= state.last_ts:
                continue  # late or replayed: the rules need time order
            state.last_ts = ts
            state.pending.append(value)
            if len(state.pending) < state.spec.subgroup:
                continue
            group, state.pending = state.pending, []
            point = (ts, float(np.mean(group)), _spread(state, group))
            if state.center is None or state.sigma is None:
                self._learn(state, point[1], point[2])
            else:
                fresh.append(point)
        if not fresh:
            return []
        found = _check(state, fresh)
        state.recent.extend(mean for _, mean, _ in fresh)
        return found

    def _learn(self, state: _Chart, mean: float, spread: float) -> None:
        state.learning.append((mean, spread))
        state.recent.append(mean)
        if len(state.learning) >= state.spec.baseline:
            self._freeze(state)

    def _freeze(self, state: _Chart) -> None:
        spec = state.spec
        means = np.array([m for m, _ in state.learning])
        spreads = np.array([s for _, s in state.learning])
        spreads = spreads[np.isfinite(spreads)]
        n = 2 if spec.subgroup == 1 else spec.subgroup
        sigma = float(spreads.mean()) / d2(n) if spreads.size else 0.0
        if sigma <= 0:
            _logger.warning("SPC %s/%s: no variation in the baseline yet", spec.asset, spec.tag)
            state.learning.clear()
            return
        state.center, state.sigma = float(means.mean()), sigma
        self._historian.sql(
            "DELETE FROM spc_limits WHERE asset = ? AND tag = ?", [spec.asset, spec.tag]
        )
        self._historian.sql(
            "INSERT INTO spc_limits (asset, tag, subgroup, center, sigma, points) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [spec.asset, spec.tag, spec.subgroup, state.center, sigma, len(state.learning)],
        )
        _logger.info(
            "SPC %s/%s: limits frozen, centre %.4g sigma %.4g",
            spec.asset,
            spec.tag,
            state.center,
            sigma,
        )
        state.learning.clear()


def _spread(state: _Chart, group: list[float]) -> float:
    """The point's range: moving range for individuals, subgroup range otherwise."""
    if len(group) == 1:
        previous, state.previous = state.previous, group[0]
        return float("nan") if previous is None else abs(group[0] - previous)
    return max(group) - min(group)


def _check(state: _Chart, fresh: list[tuple[int, float, float]]) -> list[SpcAlert]:
    """Alerts of new points: run rules on the location chart (with the recent points before
    them, so runs continue across batches), limits on the spread."""
    spec, center, sigma = state.spec, state.center, state.sigma
    assert center is not None
    assert sigma is not None
    n = spec.subgroup
    sigma_x = sigma / np.sqrt(n)
    means = np.array([*state.recent, *(mean for _, mean, _ in fresh)])
    flags = evaluate(
        means,
        np.full(means.size, center),
        np.full(means.size, sigma_x),
        rule_set=spec.rule_set,
        enabled=spec.enabled,
    )
    first = len(state.recent)
    texts = RULE_TEXT[spec.rule_set]
    location = _Line("x" if n == 1 else "xbar", center, center - 3 * sigma_x, center + 3 * sigma_x)
    k = 2 if n == 1 else n
    dispersion = _Line(
        "mr" if n == 1 else "r",
        d2(k) * sigma,
        max(0.0, (d2(k) - 3 * d3(k)) * sigma),
        (d2(k) + 3 * d3(k)) * sigma,
    )
    found = []
    for offset, (ts, mean, spread) in enumerate(fresh):
        for rule, mask in sorted(flags.items()):
            if mask[first + offset]:
                text = f"{spec.rule_set} rule {rule}: {texts[rule]}"
                found.append(location.alert(spec, ts, rule, mean, text))
        if np.isfinite(spread) and spread > dispersion.ucl:
            text = f"{dispersion.series} beyond its UCL"
            found.append(dispersion.alert(spec, ts, 1, spread, text))
    return found


@dataclass(frozen=True, slots=True)
class _Line:
    """A chart's series name, centre and limits."""

    series: str
    center: float
    lcl: float
    ucl: float

    def alert(self, spec: LiveTag, ts: int, rule: int, value: float, text: str) -> SpcAlert:
        return SpcAlert(
            spec.asset,
            spec.tag,
            ts,
            self.series,
            spec.rule_set,
            rule,
            value,
            self.center,
            self.lcl,
            self.ucl,
            text,
        )


def _values_of(record: Record) -> list[tuple[tuple[str, str], int, float]]:
    if isinstance(record, Metrics):
        return [((record.asset, tag), record.ts_ms, v) for tag, v in record.values.items()]
    if isinstance(record, Sample):
        return [((record.asset, record.tag), record.ts_ms, record.value)]
    return []


def alerts(
    historian: SqlRunner,
    *,
    asset: str | None = None,
    tag: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int = 100,
) -> list[SpcAlert]:
    """Stored alerts, newest first, optionally for one asset/tag and time window."""
    exists = historian.sql(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'spc_alerts' AND table_schema = current_schema()"
    )
    if not exists or not exists[0][0]:
        return []
    filters = [
        ("asset = ?", asset),
        ("tag = ?", tag),
        ("ts_ms >= ?", start_ms),
        ("ts_ms < ?", end_ms),
    ]
    used = [(clause, value) for clause, value in filters if value is not None]
    where = " AND ".join(clause for clause, _ in used) or "TRUE"
    rows = historian.sql(
        f"SELECT {_COLUMNS} FROM spc_alerts WHERE {where} ORDER BY ts_ms DESC, rule LIMIT ?",
        [value for _, value in used] + [limit],
    )
    return [SpcAlert(*row) for row in rows]
