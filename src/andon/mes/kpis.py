"""OEE and KPIs of any asset over any windows, from the historian and the MES tables.

For an asset (a cell, or a line, area, site to roll up) and one or more windows, each cell's
machine timeline is read once, a little wider than the windows (``policy.lookaround_ms``) so
stops at the edges are sized exactly. Over it are laid, in this order, the operator
annotations whose reason re-classifies time, then the plant's shift calendar (breaks and
time outside shifts are planned downtime). While an order runs on a cell, the ideal cycle time
of its product there (``products.set_cycle_time``) applies; otherwise the cell's own. Late
scrap corrections move good parts to scrap. Each window of each cell is then computed
exactly and the roll-ups add times and quantities (never a mean of ratios), so ``--by shift``
totals equal the whole period computed at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from andon.errors import InvalidRequest, NotFound
from andon.historian.protocol import AssetInfo, Historian
from andon.mes.calendar import By, Calendar, Window, load_calendar
from andon.mes.corrections import late_scrap
from andon.mes.downtime import overlays
from andon.mes.history import CellHistory, read_history
from andon.mes.oee import OeeResult, from_account, rollup
from andon.mes.orders import runs_between
from andon.mes.policy import DEFAULT_POLICY, OeePolicy
from andon.mes.products import cycle_times
from andon.mes.states import account
from andon.mes.timeline import Resolution, Timeline, resolve
from andon.namespace import ancestors, is_under

__all__ = ["Breakdown", "Period", "cells_of", "oee_by", "oee_for_asset"]

Segment = tuple[int, int, float | None]
"""``[start_ms, end_ms)`` of one cell with the ideal cycle time that applies there."""


@dataclass(frozen=True, slots=True)
class Period:
    """One window of a breakdown and its result."""

    label: str
    result: OeeResult

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, **self.result.to_dict()}


@dataclass(frozen=True, slots=True)
class Breakdown:
    """OEE per period (shift, hour, day, week) and the exact total of the periods."""

    asset: str
    by: str
    total: OeeResult
    periods: tuple[Period, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "asset": self.asset,
            "by": self.by,
            "total": self.total.to_dict(),
            "periods": [p.to_dict() for p in self.periods],
        }


@dataclass(frozen=True, slots=True)
class _Options:
    policy: OeePolicy
    cycle_override: float | None
    calendar: Calendar
    fast: bool


def cells_of(assets: Iterable[AssetInfo], root: str) -> list[AssetInfo]:
    """Assets at or below ``root`` with no descendant among them (the machines)."""
    under = [info for info in assets if is_under(info.path, root)]
    if not under:
        raise NotFound(f"no asset at or below {root!r}")
    parents = {parent for info in under for parent in ancestors(info.path)}
    return [info for info in under if info.path not in parents]


def _cycle_for(
    cell: AssetInfo, product: str | None, table: dict[tuple[str, str], float]
) -> float | None:
    if product is not None:
        for path in [cell.path, *reversed(ancestors(cell.path))]:
            if (path, product) in table:
                return table[(path, product)]
    return cell.ideal_cycle_time_s


def _segments(
    db: Historian, cells: list[AssetInfo], lo: int, hi: int, options: _Options
) -> dict[str, list[Segment]]:
    """Per cell, ``[lo, hi)`` cut where orders start and end, with each piece's cycle time."""
    if options.cycle_override is not None:
        return {c.path: [(lo, hi, options.cycle_override)] for c in cells}
    runs = runs_between(db, [c.path for c in cells], lo, hi)
    table = cycle_times(db, [c.path for c in cells]) if runs else {}
    out: dict[str, list[Segment]] = {}
    for cell in cells:
        mine = [(r, p) for r, p in runs if is_under(cell.path, r.asset)]
        cuts = sorted(
            {lo, hi} | {t for r, _ in mine for t in (r.start_ms, r.end_ms or hi) if lo < t < hi}
        )
        pieces: list[Segment] = []
        for a, b in pairwise(cuts):
            product = next((p for r, p in mine if r.start_ms <= a and (r.end_ms or hi) >= b), None)
            pieces.append((a, b, _cycle_for(cell, product, table)))
        out[cell.path] = _merge(pieces)
    return out


def _merge(pieces: list[Segment]) -> list[Segment]:
    """Adjacent pieces with the same cycle time become one (fewer windows, same numbers)."""
    merged: list[Segment] = []
    for piece in pieces:
        if merged and merged[-1][2] == piece[2] and merged[-1][1] == piece[0]:
            merged[-1] = (merged[-1][0], piece[1], piece[2])
        else:
            merged.append(piece)
    return merged


def _cell_window(
    cell: str,
    timeline: Timeline,
    history: CellHistory,
    pieces: list[Segment],
    scrap: list[tuple[int, int]],
    options: _Options,
    resolution: Resolution,
) -> OeeResult:
    results = []
    for a, b, cycle in pieces:
        time = account(timeline, a, b, options.policy, resolution)
        produced, good, bad = history.quantities(a, b)
        moved = min(sum(q for ts, q in scrap if a <= ts < b), good)
        results.append(
            from_account(
                cell,
                time,
                (produced, good - moved, bad + moved),
                a,
                b,
                ideal_cycle_time_s=cycle,
                policy=options.policy,
            )
        )
    return results[0] if len(results) == 1 else rollup(cell, results)


def _within(pieces: list[Segment], start: int, end: int) -> list[Segment]:
    clipped = [(max(a, start), min(b, end), c) for a, b, c in pieces]
    return [piece for piece in clipped if piece[1] > piece[0]]


def _evaluate(
    db: Historian, asset: str, windows: Sequence[Window], options: _Options
) -> list[OeeResult]:
    for window in windows:
        if window.end_ms <= window.start_ms:
            raise InvalidRequest(
                f"empty window: end {window.end_ms} is not after start {window.start_ms}"
            )
    cells = cells_of(db.assets(), asset)
    if not windows:
        return []
    paths = [c.path for c in cells]
    lo, hi = min(w.start_ms for w in windows), max(w.end_ms for w in windows)
    margin = options.policy.lookaround_ms
    segments = _segments(db, cells, lo, hi, options)
    bounds = {t for w in windows for t in (w.start_ms, w.end_ms)}
    bounds |= {t for pieces in segments.values() for a, b, _ in pieces for t in (a, b)}
    history = read_history(db, paths, (lo - margin, hi + margin), sorted(bounds), fast=options.fast)
    laid = overlays(db, paths, lo - margin, hi + margin)
    planned = options.calendar.planned(lo - margin, hi + margin)
    scrap = late_scrap(db, paths, lo, hi)
    timelines = {
        path: history[path].timeline.overlay(laid.get(path, [])).overlay(planned) for path in paths
    }
    # Resolved once per cell: each window then looks only at its own states.
    resolutions = {path: resolve(timeline, options.policy) for path, timeline in timelines.items()}
    out = []
    for window in windows:
        per_cell = [
            _cell_window(
                path,
                timelines[path],
                history[path],
                _within(segments[path], window.start_ms, window.end_ms),
                scrap.get(path, []),
                options,
                resolutions[path],
            )
            for path in paths
        ]
        single = len(per_cell) == 1 and per_cell[0].asset == asset
        out.append(per_cell[0] if single else rollup(asset, per_cell))
    return out


def _options(
    db: Historian,
    policy: OeePolicy,
    ideal_cycle_time_s: float | None,
    calendar: Calendar | None,
    fast: bool,
) -> _Options:
    if ideal_cycle_time_s is not None and not ideal_cycle_time_s > 0:
        raise InvalidRequest(f"ideal cycle time must be positive, got {ideal_cycle_time_s}")
    return _Options(policy, ideal_cycle_time_s, calendar or load_calendar(db), fast)


def oee_for_asset(
    historian: Historian,
    asset: str,
    start_ms: int,
    end_ms: int,
    *,
    policy: OeePolicy = DEFAULT_POLICY,
    ideal_cycle_time_s: float | None = None,
    calendar: Calendar | None = None,
    fast: bool = True,
) -> OeeResult:
    """OEE of a cell, or the roll-up of every cell under a line, area, site or enterprise.

    The cells are the historian's assets at or below ``asset`` that have no descendant among
    them. ``ideal_cycle_time_s`` overrides every cell's and product's ideal cycle time.
    ``calendar`` defaults to the plant's stored one (24/7 when none is). A single cell gives
    its own numbers, labelled with ``asset``. Raises :class:`~andon.errors.InvalidRequest` for
    an empty window and :class:`~andon.errors.NotFound` when no asset lies at or below
    ``asset``.

    >>> from andon.historian import DuckDBHistorian, WriteBatch
    >>> from andon.signals import CountUpdate, StateChange
    >>> db, m = DuckDBHistorian(":memory:"), "acme/p1/a/l1/m1"
    >>> batch = WriteBatch.empty()
    >>> batch.states += [StateChange(m, 0, 10000), StateChange(m, 2_700_000, 180000)]
    >>> batch.counts += [CountUpdate(m, 0, 0, 0, 0), CountUpdate(m, 2_699_000, 2000, 1980, 20)]
    >>> _ = db.write(batch)
    >>> r = oee_for_asset(db, m, 0, 3_600_000, ideal_cycle_time_s=1.0)
    >>> r.availability, round(r.performance, 4), r.quality, r.failures
    (0.75, 0.7407, 0.99, 1)
    """
    options = _options(historian, policy, ideal_cycle_time_s, calendar, fast)
    return _evaluate(historian, asset, [Window("", start_ms, end_ms)], options)[0]


def oee_by(
    historian: Historian,
    asset: str,
    start_ms: int,
    end_ms: int,
    by: By,
    *,
    policy: OeePolicy = DEFAULT_POLICY,
    ideal_cycle_time_s: float | None = None,
    calendar: Calendar | None = None,
    fast: bool = True,
) -> Breakdown:
    """OEE of ``asset`` per shift, hour, day or week within ``[start_ms, end_ms)``.

    Windows follow the plant calendar's time zone (days of 23 or 25 hours on DST changes) and
    are clipped to the range; ``total`` is the exact roll-up of the periods (for ``shift``,
    the time outside shifts is in no period). Raises :class:`~andon.errors.InvalidRequest`
    for an empty range or when the range holds no period.
    """
    if end_ms <= start_ms:
        raise InvalidRequest(f"empty window: end {end_ms} is not after start {start_ms}")
    options = _options(historian, policy, ideal_cycle_time_s, calendar, fast)
    windows = options.calendar.windows(by, start_ms, end_ms)
    if not windows:
        raise InvalidRequest(f"no {by} between {start_ms} and {end_ms} in the plant calendar")
    results = _evaluate(historian, asset, windows, options)
    periods = tuple(Period(w.label, r) for w, r in zip(windows, results, strict=True))
    return Breakdown(asset, by, rollup(asset, results), periods)
