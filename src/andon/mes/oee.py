"""Overall equipment effectiveness after ISO 22400-2, exact to the millisecond.

For an asset and a half-open window ``[start_ms, end_ms)``:

- POT, planned operation time, is the window itself. The shift calendar plugs in here: a
  calendar yields the POT windows of a period, ``compute_oee`` runs once per window, and
  :func:`rollup` adds them up exactly (times and quantities are sums, ratios are recomputed).
- PBT, planned busy time = POT - planned downtime - time without data.
- APT, actual production time = time in producing states (micro-stops included by default).
- Downtime (availability loss) = PBT - APT, every state the policy does not call planned or
  producing, unknown codes included.
- Availability = APT / PBT; performance = ideal cycle time x PQ / APT (may exceed 1 and is
  reported as such, a sign the ideal cycle time is too slow); quality = GQ / PQ;
  OEE = availability x performance x quality.
- A zero denominator or a missing ideal cycle time gives ``None``, never a fake 100 %;
  OEE is ``None`` when any factor is.

How states become time is in :mod:`andon.mes.states`, how totals become quantities in
:mod:`andon.mes.production`; each module states its edge-case policies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

from andon.errors import InvalidRequest, NotFound
from andon.historian.protocol import AssetInfo, Historian
from andon.mes.production import count_deltas
from andon.mes.states import DEFAULT_POLICY, OeePolicy, TimeAccount, account
from andon.namespace import ancestors, is_under
from andon.signals import STATE_CODES, STATE_NAMES, CountUpdate, StateChange

__all__ = ["OeeResult", "compute_oee", "oee_for_asset", "rollup"]


@dataclass(frozen=True, slots=True)
class OeeResult:
    """OEE of one asset (or a roll-up of several) over ``[start_ms, end_ms)``.

    Times are in seconds, quantities in parts. ``time_by_state`` maps each state name
    (``signals.STATE_NAMES``, or ``str(code)`` for sub-codes and unknown codes) to its time
    and sums to ``pot_s - no_data_s``. ``machines`` counts the cells behind the numbers.
    """

    asset: str
    start_ms: int
    end_ms: int
    pot_s: float
    planned_downtime_s: float
    no_data_s: float
    pbt_s: float
    apt_s: float
    downtime_s: float
    stops: int
    produced: int
    good: int
    scrap: int
    ideal_cycle_time_s: float | None
    ideal_time_s: float | None
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    time_by_state: dict[str, float] = field(hash=False)
    machines: int

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict whose keys are exactly the field names (``None`` stays null)."""
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["time_by_state"] = dict(self.time_by_state)
        return out


@dataclass(frozen=True, slots=True)
class _Sums:
    """The additive part of a result: what a roll-up adds up before recomputing ratios."""

    pot_s: float
    planned_downtime_s: float
    no_data_s: float
    pbt_s: float
    apt_s: float
    downtime_s: float
    stops: int
    produced: int
    good: int
    scrap: int
    ideal_time_s: float | None
    time_by_state: dict[str, float]


def _ratio(numerator: float | None, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when either is missing or zero-divided."""
    if numerator is None or denominator == 0:
        return None
    return numerator / denominator


def _result(
    asset: str, window: tuple[int, int], sums: _Sums, cycle_s: float | None, machines: int
) -> OeeResult:
    availability = _ratio(sums.apt_s, sums.pbt_s)
    performance = _ratio(sums.ideal_time_s, sums.apt_s)
    quality = _ratio(sums.good, sums.produced)
    oee = None
    if availability is not None and performance is not None and quality is not None:
        oee = availability * performance * quality
    return OeeResult(
        asset=asset,
        start_ms=window[0],
        end_ms=window[1],
        pot_s=sums.pot_s,
        planned_downtime_s=sums.planned_downtime_s,
        no_data_s=sums.no_data_s,
        pbt_s=sums.pbt_s,
        apt_s=sums.apt_s,
        downtime_s=sums.downtime_s,
        stops=sums.stops,
        produced=sums.produced,
        good=sums.good,
        scrap=sums.scrap,
        ideal_cycle_time_s=cycle_s,
        ideal_time_s=sums.ideal_time_s,
        availability=availability,
        performance=performance,
        quality=quality,
        oee=oee,
        time_by_state=sums.time_by_state,
        machines=machines,
    )


def _check_window(start_ms: int, end_ms: int) -> None:
    if end_ms <= start_ms:
        raise InvalidRequest(f"empty window: end {end_ms} is not after start {start_ms}")


def _check_cycle(ideal_cycle_time_s: float | None) -> None:
    if ideal_cycle_time_s is not None and not (
        math.isfinite(ideal_cycle_time_s) and ideal_cycle_time_s > 0
    ):
        raise InvalidRequest(f"ideal cycle time must be positive, got {ideal_cycle_time_s}")


def _state_key(code: int) -> str:
    return STATE_NAMES.get(code, str(code))


def _state_order(name: str) -> tuple[int, str]:
    """Sort state names by their code, so dicts read from running to planned maintenance."""
    if name in STATE_CODES:
        return (STATE_CODES[name], name)
    try:
        return (int(name), name)
    except ValueError:
        return (2**62, name)


def _seconds(ms: int) -> float:
    return ms / 1000


def _time_sums(time: TimeAccount) -> dict[str, float]:
    return {
        "pot_s": _seconds(time.pot_ms),
        "planned_downtime_s": _seconds(time.planned_ms),
        "no_data_s": _seconds(time.no_data_ms),
        "pbt_s": _seconds(time.pbt_ms),
        "apt_s": _seconds(time.producing_ms),
        "downtime_s": _seconds(time.downtime_ms),
    }


def compute_oee(
    asset: str,
    states: Sequence[StateChange],
    counts: Sequence[CountUpdate],
    start_ms: int,
    end_ms: int,
    *,
    ideal_cycle_time_s: float | None,
    policy: OeePolicy = DEFAULT_POLICY,
) -> OeeResult:
    """OEE of one cell over ``[start_ms, end_ms)`` from its state timeline and count totals.

    ``states`` may start before the window (the state carried in) and ``counts`` may start
    with the last reading before it, as the historian returns them; neither needs to be
    sorted. The records' own ``asset`` fields are not checked. Raises
    :class:`~andon.errors.InvalidRequest` for an empty window or a non-positive cycle time.

    A worked ISO 22400 example: an 8 h shift (POT 480 min) with a 30 min break (planned) and a
    47 min equipment failure, 1,000 parts made at an ideal 20 s each, 20 of them scrap:
    PBT = 450 min, APT = 403 min, so A = 403/450, P = 1000 x 20 s / 24180 s, Q = 980/1000,
    and OEE = 980 x 20 s / 27000 s (good parts' ideal time over planned busy time).

    >>> import math
    >>> from andon.signals import CountUpdate, StateChange
    >>> t0, minute = 1_736_143_200_000, 60_000    # 2025-01-06 06:00 UTC
    >>> def at(m, code):
    ...     return StateChange("acme/p1/a/l1/cnc1", t0 + m * minute, code)
    >>> timeline = [at(-10, 40000), at(0, 10000), at(120, 150000), at(150, 10000),
    ...             at(300, 180000), at(347, 10000)]
    >>> totals = [CountUpdate("acme/p1/a/l1/cnc1", t0 - minute, 5000, 4950, 50),
    ...           CountUpdate("acme/p1/a/l1/cnc1", t0 + 479 * minute, 6000, 5930, 70)]
    >>> r = compute_oee("acme/p1/a/l1/cnc1", timeline, totals, t0, t0 + 480 * minute,
    ...                 ideal_cycle_time_s=20.0)
    >>> r.pot_s, r.planned_downtime_s, r.pbt_s, r.apt_s, r.downtime_s, r.stops
    (28800.0, 1800.0, 27000.0, 24180.0, 2820.0, 1)
    >>> r.produced, r.good, r.scrap, r.ideal_time_s
    (1000, 980, 20, 20000.0)
    >>> [round(x, 4) for x in (r.availability, r.performance, r.quality, r.oee)]
    [0.8956, 0.8271, 0.98, 0.7259]
    >>> math.isclose(r.oee, 980 * 20 / 27000)
    True
    >>> r.time_by_state
    {'running': 24180.0, 'break': 1800.0, 'equipment_failure': 2820.0}
    """
    _check_window(start_ms, end_ms)
    _check_cycle(ideal_cycle_time_s)
    time = account(states, start_ms, end_ms, policy)
    produced, good, scrap = count_deltas(counts, start_ms, end_ms)
    sums = _Sums(
        **_time_sums(time),
        stops=time.stops,
        produced=produced,
        good=good,
        scrap=scrap,
        ideal_time_s=None if ideal_cycle_time_s is None else ideal_cycle_time_s * produced,
        time_by_state={_state_key(c): _seconds(ms) for c, ms in sorted(time.by_code.items())},
    )
    return _result(asset, (start_ms, end_ms), sums, ideal_cycle_time_s, machines=1)


_TIME_FIELDS = ("pot_s", "planned_downtime_s", "no_data_s", "pbt_s", "apt_s", "downtime_s")


def _add_seconds(values: Iterable[float]) -> float:
    """Sum of millisecond-exact seconds, rounded back to the millisecond (no float drift)."""
    return round(math.fsum(values), 3)


def _merge_states(results: Sequence[OeeResult]) -> dict[str, float]:
    merged: dict[str, list[float]] = {}
    for result in results:
        for name, seconds in result.time_by_state.items():
            merged.setdefault(name, []).append(seconds)
    return {name: _add_seconds(merged[name]) for name in sorted(merged, key=_state_order)}


def _machines(results: Sequence[OeeResult]) -> int:
    """Cells behind the results; several windows of one asset count it once."""
    per_asset: dict[str, int] = {}
    for result in results:
        per_asset[result.asset] = max(per_asset.get(result.asset, 0), result.machines)
    return sum(per_asset.values())


def _common_cycle(results: Sequence[OeeResult]) -> float | None:
    cycles = {result.ideal_cycle_time_s for result in results}
    return cycles.pop() if len(cycles) == 1 else None


def _ideal_time(results: Sequence[OeeResult], cycle_s: float | None, produced: int) -> float | None:
    """Summed ideal time; unknown (``None``) as soon as one part has no ideal cycle time."""
    ideal = [result.ideal_time_s for result in results]
    if any(seconds is None for seconds in ideal):
        return None
    if cycle_s is not None:
        return cycle_s * produced  # the same product a whole-window computation makes
    return math.fsum(seconds for seconds in ideal if seconds is not None)


def rollup(asset: str, results: Sequence[OeeResult]) -> OeeResult:
    """One result for a line, area or site, or for several windows of one machine.

    Times and quantities are summed and the ratios recomputed from the sums: availability =
    sum(APT) / sum(PBT), performance = sum(ideal time) / sum(APT), quality = sum(GQ) / sum(PQ).
    This weights each machine by its time and output; it is never the mean of OEEs. The window
    spans from the earliest start to the latest end; ``ideal_cycle_time_s`` is kept only when
    every part shares it; one part without an ideal cycle time makes the ideal time and the
    performance of the whole ``None``. Raises :class:`~andon.errors.InvalidRequest` when
    ``results`` is empty.

    >>> from andon.signals import CountUpdate, StateChange
    >>> def machine(name, changes, parts):
    ...     states = [StateChange(name, ts, code) for ts, code in changes]
    ...     counts = [CountUpdate(name, -1, 0, 0, 0), CountUpdate(name, 0, parts, parts, 0)]
    ...     return compute_oee(name, states, counts, 0, 3_600_000, ideal_cycle_time_s=1.0)
    >>> a = machine("l1/m1", [(0, 10000)], 3600)  # ran the whole hour at ideal speed
    >>> b = machine("l1/m2", [(0, 150000), (1_800_000, 10000), (1_980_000, 180000)], 180)
    >>> line = rollup("l1", [a, b])  # b: 30 min break, 3 min running, 27 min failure
    >>> a.oee, round(b.oee, 9), round(line.oee, 9), line.machines  # not the mean 0.55
    (1.0, 0.1, 0.7, 2)
    """
    if not results:
        raise InvalidRequest(f"nothing to roll up for {asset!r}")
    cycle_s = _common_cycle(results)
    produced = sum(result.produced for result in results)
    times = {name: _add_seconds(getattr(r, name) for r in results) for name in _TIME_FIELDS}
    sums = _Sums(
        **times,
        stops=sum(result.stops for result in results),
        produced=produced,
        good=sum(result.good for result in results),
        scrap=sum(result.scrap for result in results),
        ideal_time_s=_ideal_time(results, cycle_s, produced),
        time_by_state=_merge_states(results),
    )
    window = (min(r.start_ms for r in results), max(r.end_ms for r in results))
    return _result(asset, window, sums, cycle_s, _machines(results))


def _cells(assets: Iterable[AssetInfo], root: str) -> list[AssetInfo]:
    """Assets at or below ``root`` with no descendant among them (the machines)."""
    under = [info for info in assets if is_under(info.path, root)]
    if not under:
        raise NotFound(f"no asset at or below {root!r}")
    parents = {parent for info in under for parent in ancestors(info.path)}
    return [info for info in under if info.path not in parents]


def oee_for_asset(
    historian: Historian,
    asset: str,
    start_ms: int,
    end_ms: int,
    *,
    policy: OeePolicy = DEFAULT_POLICY,
    ideal_cycle_time_s: float | None = None,
) -> OeeResult:
    """OEE of a cell, or the roll-up of every cell under a line, area, site or enterprise.

    The cells are the historian's assets at or below ``asset`` that have no descendant among
    them. Each cell's ideal cycle time is its asset attribute unless ``ideal_cycle_time_s``
    overrides it for all. A single cell gives its own numbers, labelled with ``asset``.
    Raises :class:`~andon.errors.InvalidRequest` for an empty window and
    :class:`~andon.errors.NotFound` when no asset lies at or below ``asset``.
    """
    _check_window(start_ms, end_ms)
    results = [
        compute_oee(
            cell.path,
            historian.state_timeline(cell.path, start_ms, end_ms),
            historian.count_totals(cell.path, start_ms, end_ms),
            start_ms,
            end_ms,
            ideal_cycle_time_s=(
                cell.ideal_cycle_time_s if ideal_cycle_time_s is None else ideal_cycle_time_s
            ),
            policy=policy,
        )
        for cell in _cells(historian.assets(), asset)
    ]
    if len(results) == 1 and results[0].asset == asset:
        return results[0]
    return rollup(asset, results)
