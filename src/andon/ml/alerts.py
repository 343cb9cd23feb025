"""Alerts from live model outputs: severity, hysteresis and de-duplication, kept in the historian.

A signal (a machine's failure risk, a tag's anomaly score) is watched under a policy.
An alert **opens** when the signal reaches ``warning`` for ``confirm`` observations in a
row, becomes **critical** at ``critical``, and **closes** only after the signal has stayed
below ``clear`` (lower than ``warning``: hysteresis) for ``clear_after_ms``. While an alert
is open, further high values update it instead of raising new ones (de-duplication): one
row of the ``alerts`` table per episode, keyed by asset, kind, tag and opening time, so a
replayed batch rewrites the same row. For signals where low is bad (remaining useful
life), the policy says ``higher_is_worse=False``.

Someone who has seen an alert **acknowledges** it (:func:`acknowledge`): who and when are
stored with the alert and survive restarts; the alert stays open until its signal clears.
Listeners (``on_alert``, :meth:`AlertBook.subscribe`) hear of each opening, escalation and
closing; :func:`event_of` names which one it was.

>>> from andon.historian import DuckDBHistorian
>>> book = AlertBook(DuckDBHistorian(":memory:"))
>>> policy = AlertPolicy(warning=0.5, critical=0.8, clear=0.3, confirm=2, clear_after_ms=0)
>>> [book.observe("a/b/c/d/cnc1", "failure_risk", "", t, v, policy) is not None
...  for t, v in enumerate([0.6, 0.7, 0.9, 0.2])]
[False, True, True, True]
>>> [(a.severity, a.peak, a.closed_ms) for a in book.alerts()]
[('critical', 0.9, 3)]
>>> acknowledge(book.runner, book.alerts()[0].id, "user:ann", 5).acked_by
'user:ann'
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from andon.historian.protocol import SqlRunner

__all__ = [
    "Alert",
    "AlertBook",
    "AlertPolicy",
    "acknowledge",
    "alerts",
    "create_table",
    "event_of",
    "openings",
]

_logger = logging.getLogger(__name__)

_TABLE = """
CREATE TABLE IF NOT EXISTS alerts (
    id          VARCHAR PRIMARY KEY,
    asset       VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    tag         VARCHAR NOT NULL,
    severity    VARCHAR NOT NULL,
    opened_ms   BIGINT NOT NULL,
    updated_ms  BIGINT NOT NULL,
    closed_ms   BIGINT,
    value       DOUBLE PRECISION NOT NULL,
    peak        DOUBLE PRECISION NOT NULL,
    message     VARCHAR NOT NULL,
    acked_ms    BIGINT,
    acked_by    VARCHAR
)
"""
# Tables created before acknowledgements existed get the columns on first use.
_ACK_COLUMNS = (
    "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS acked_ms BIGINT",
    "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS acked_by VARCHAR",
)
_STORED = "id, asset, kind, tag, severity, opened_ms, updated_ms, closed_ms, value, peak, message"
_COLUMNS = f"{_STORED}, acked_ms, acked_by"
_SEVERITY_RANK = {"warning": 1, "critical": 2}
_PREPARED: weakref.WeakSet[SqlRunner] = weakref.WeakSet()  # historians whose table is ready


def create_table(runner: SqlRunner) -> None:
    """Create the ``alerts`` table if it does not exist (adding newer columns to old ones).

    Done once per historian: reads (the overview asks at every data tick) then skip it.
    """
    if runner in _PREPARED:
        return
    runner.sql(_TABLE)
    if not runner.sql(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'alerts' AND column_name = 'acked_by'"
    ):
        for statement in _ACK_COLUMNS:
            runner.sql(statement)
    _PREPARED.add(runner)


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """When a signal raises, escalates and clears an alert."""

    warning: float
    critical: float
    clear: float
    confirm: int = 3
    clear_after_ms: int = 60_000
    higher_is_worse: bool = True

    def level(self, value: float) -> str | None:
        """``"critical"``, ``"warning"`` or None for a value."""
        sign = 1.0 if self.higher_is_worse else -1.0
        if sign * value >= sign * self.critical:
            return "critical"
        if sign * value >= sign * self.warning:
            return "warning"
        return None

    def calm(self, value: float) -> bool:
        """Below the clearing level (on the good side of it)."""
        return value < self.clear if self.higher_is_worse else value > self.clear


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert episode."""

    asset: str
    kind: str
    tag: str
    severity: str
    opened_ms: int
    updated_ms: int
    closed_ms: int | None
    value: float
    peak: float
    message: str
    acked_ms: int | None = None
    acked_by: str | None = None

    @property
    def id(self) -> str:
        return f"{self.asset}|{self.kind}|{self.tag}|{self.opened_ms}"

    def row(self) -> list[Any]:
        """The stored columns but the acknowledgement (which only :func:`acknowledge` sets)."""
        return [
            self.id,
            self.asset,
            self.kind,
            self.tag,
            self.severity,
            self.opened_ms,
            self.updated_ms,
            self.closed_ms,
            self.value,
            self.peak,
            self.message,
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "asset": self.asset,
            "kind": self.kind,
            "tag": self.tag,
            "severity": self.severity,
            "opened_ms": self.opened_ms,
            "updated_ms": self.updated_ms,
            "closed_ms": self.closed_ms,
            "open": self.closed_ms is None,
            "value": self.value,
            "peak": self.peak,
            "message": self.message,
            "acked_ms": self.acked_ms,
            "acked_by": self.acked_by,
        }


@dataclass
class _Watch:
    """Hysteresis state of one signal."""

    streak: int = 0  # consecutive observations at warning or above
    calm_since: int | None = None
    alert: Alert | None = None
    stored_ms: int = 0  # when the open alert's row was last written


class AlertBook:
    """Opens, escalates, updates and closes alerts.

    Openings, escalations and closings are written at once; the latest value and peak of
    an open alert are written at most every ``refresh_ms`` of data time (and when it closes).
    """

    def __init__(
        self,
        runner: SqlRunner,
        *,
        on_alert: Callable[[Alert], None] | None = None,
        refresh_ms: int = 60_000,
    ) -> None:
        self.runner = runner
        self.refresh_ms = refresh_ms
        self._listeners: list[Callable[[Alert], None]] = [] if on_alert is None else [on_alert]
        self._lock = threading.Lock()
        self._watches: dict[tuple[str, str, str], _Watch] = {}
        create_table(runner)
        for alert in self.alerts(open_only=True, limit=10_000):  # resume after a restart
            self._watches[(alert.asset, alert.kind, alert.tag)] = _Watch(alert=alert)

    def observe(
        self, asset: str, kind: str, tag: str, ts_ms: int, value: float, policy: AlertPolicy
    ) -> Alert | None:
        """Feed one observation; returns the alert when it opened, escalated or closed."""
        with self._lock:
            watch = self._watches.setdefault((asset, kind, tag), _Watch())
            changed = _step(watch, asset, kind, tag, ts_ms, value, policy)
            stale = watch.alert is not None and ts_ms - watch.stored_ms >= self.refresh_ms
            if changed is not None or stale:
                self._store(watch.alert if changed is None else changed)
                watch.stored_ms = ts_ms
        if changed is not None:
            _logger.info("alert %s %s: %s", changed.id, changed.severity, changed.message)
            for listener in list(self._listeners):
                try:
                    listener(changed)
                except Exception:  # a listener's failure must not stop scoring
                    _logger.exception("alert listener failed on %s", changed.id)
        return changed

    def subscribe(self, listener: Callable[[Alert], None]) -> None:
        """Call ``listener`` on every opening, escalation and closing (from the scoring thread)."""
        self._listeners.append(listener)

    def _store(self, alert: Alert | None) -> None:
        if alert is None:
            return
        updates = "severity = ?, updated_ms = ?, closed_ms = ?, value = ?, peak = ?, message = ?"
        self.runner.sql(
            f"INSERT INTO alerts ({_STORED}) VALUES ({', '.join('?' * 11)}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}",
            [
                *alert.row(),
                alert.severity,
                alert.updated_ms,
                alert.closed_ms,
                alert.value,
                alert.peak,
                alert.message,
            ],
        )

    def alerts(
        self,
        *,
        asset: str | None = None,
        open_only: bool = False,
        since_ms: int | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Stored alerts, newest first."""
        return alerts(self.runner, asset=asset, open_only=open_only, since_ms=since_ms, limit=limit)


def _step(
    watch: _Watch, asset: str, kind: str, tag: str, ts: int, value: float, policy: AlertPolicy
) -> Alert | None:
    level = policy.level(value)
    watch.streak = watch.streak + 1 if level else 0
    current = watch.alert
    if current is None:
        if level and watch.streak >= policy.confirm:
            watch.alert = Alert(
                asset, kind, tag, level, ts, ts, None, value, value, _message(kind, tag, value)
            )
            watch.calm_since = None
            return watch.alert
        return None
    worse = max(value, current.peak) if policy.higher_is_worse else min(value, current.peak)
    updated = replace(current, updated_ms=ts, value=value, peak=worse)
    escalated = level is not None and _SEVERITY_RANK[level] > _SEVERITY_RANK[current.severity]
    if level is not None and escalated:
        updated = replace(updated, severity=level, message=_message(kind, tag, value))
    watch.calm_since = (watch.calm_since or ts) if policy.calm(value) else None
    if watch.calm_since is not None and ts - watch.calm_since >= policy.clear_after_ms:
        watch.alert, watch.streak, watch.calm_since = None, 0, None
        return replace(updated, closed_ms=ts)
    watch.alert = updated
    return updated if escalated else None


def openings(readings: Iterable[tuple[int, float]], policy: AlertPolicy) -> list[int]:
    """When alerts would open on these (time, value) readings of one signal under ``policy``:
    the same steps as :meth:`AlertBook.observe`, without storing anything (to choose levels).

    >>> policy = AlertPolicy(warning=0.5, critical=0.8, clear=0.3, confirm=2, clear_after_ms=0)
    >>> openings(enumerate([0.6, 0.7, 0.2, 0.6, 0.9, 0.9]), policy)
    [1, 4]
    """
    watch, opened = _Watch(), []
    for ts, value in readings:
        before = watch.alert
        _step(watch, "", "", "", ts, value, policy)
        if before is None and watch.alert is not None:
            opened.append(ts)
    return opened


def event_of(alert: Alert) -> str:
    """What just happened to ``alert``: ``raised``, ``escalated``, ``cleared`` or ``acknowledged``
    (an alert a listener or :func:`acknowledge` just returned).

    >>> a = Alert("a/b/c/d/m", "failure_risk", "", "warning", 1, 1, None, 0.6, 0.6, "")
    >>> closed = replace(a, updated_ms=3, closed_ms=3)
    >>> event_of(a), event_of(replace(a, updated_ms=2)), event_of(closed)
    ('raised', 'escalated', 'cleared')
    """
    if alert.closed_ms is not None and alert.closed_ms == alert.updated_ms:
        return "cleared"
    if alert.acked_ms is not None:
        return "acknowledged"
    return "raised" if alert.opened_ms == alert.updated_ms else "escalated"


def acknowledge(runner: SqlRunner, alert_id: str, actor: str, ts_ms: int) -> Alert | None:
    """Record that ``actor`` has seen alert ``alert_id`` (once: the first acknowledgement
    stays); returns the stored alert, None when there is no such alert."""
    create_table(runner)
    runner.sql(
        "UPDATE alerts SET acked_ms = ?, acked_by = ? WHERE id = ? AND acked_ms IS NULL",
        [ts_ms, actor, alert_id],
    )
    rows = runner.sql(f"SELECT {_COLUMNS} FROM alerts WHERE id = ?", [alert_id])
    return _alert(rows[0]) if rows else None


def _message(kind: str, tag: str, value: float) -> str:
    subject = f"{kind.replace('_', ' ')}{f' on {tag}' if tag else ''}"
    return f"{subject}: {value:.3g}"


def alerts(
    runner: SqlRunner,
    *,
    asset: str | None = None,
    open_only: bool = False,
    since_ms: int | None = None,
    limit: int = 100,
    alert_id: str | None = None,
) -> list[Alert]:
    """Stored alerts, newest first; ``asset`` also matches the assets below it."""
    create_table(runner)
    where: list[str] = ["1 = 1"]
    params: list[Any] = []
    if alert_id is not None:
        where.append("id = ?")
        params.append(alert_id)
    if asset:
        where.append("(asset = ? OR asset LIKE ?)")
        params += [asset, f"{asset}/%"]
    if open_only:
        where.append("closed_ms IS NULL")
    if since_ms is not None:
        where.append("updated_ms >= ?")
        params.append(since_ms)
    rows = runner.sql(
        f"SELECT {_COLUMNS} FROM alerts WHERE {' AND '.join(where)} "
        "ORDER BY opened_ms DESC, id LIMIT ?",
        [*params, limit],
    )
    return [_alert(r) for r in rows]


def _alert(r: tuple[Any, ...]) -> Alert:
    return Alert(
        r[1],
        r[2],
        r[3],
        r[4],
        int(r[5]),
        int(r[6]),
        None if r[7] is None else int(r[7]),
        float(r[8]),
        float(r[9]),
        r[10],
        None if r[11] is None else int(r[11]),
        r[12],
    )
