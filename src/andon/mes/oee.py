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
from typing import Any, cast

from andon.errors import InvalidRequest
from andon.mes.losses import LossBar, waterfall
from andon.mes.production import count_deltas
from andon.mes.states import DEFAULT_POLICY, OeePolicy, TimeAccount, account
from andon.mes.timeline import Timeline
from andon.signals import STATE_CODES, STATE_NAMES, CountUpdate, StateChange

__all__ = ["OeeResult", "Quantities", "compute_oee", "from_account", "rollup"]

Quantities = tuple[int, int, int]
"""(produced, good, scrap) of a window."""


@dataclass(frozen=True, slots=True)
class OeeResult:
    """OEE of one asset (or a roll-up of several) over ``[start_ms, end_ms)``.

    Times are in seconds, quantities in parts. ``time_by_state`` maps each state name
    (``signals.STATE_NAMES``, or ``str(code)`` for sub-codes and unknown codes) to its time
    and sums to ``pot_s - no_data_s``. ``machines`` counts the cells behind the numbers.
    ``micro_stop_s`` is inside ``apt_s`` or ``downtime_s`` as the policy says;
    ``breakdown_s`` and ``setup_s`` are parts of ``downtime_s``. ``ideal_good_s`` is the ideal
    time of the good parts. Derived: ``scrap_ratio`` = scrap / produced, ``teep`` =
    ``ideal_good_s`` / (POT - no data), ``mtbf_s`` = APT / failures, ``mttr_s`` = breakdown time
    / failures (``None`` without failures), and the loss ``waterfall``.
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
    micro_stops: int
    micro_stop_s: float
    micro_stops_in_apt: bool
    breakdown_s: float
    setup_s: float
    failures: int
    ideal_good_s: float | None
    scrap_ratio: float | None
    teep: float | None
    mtbf_s: float | None
    mttr_s: float | None
    waterfall: tuple[LossBar, ...]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict whose keys are exactly the field names (``None`` stays null)."""
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["time_by_state"] = dict(self.time_by_state)
        out["waterfall"] = [bar.to_dict() for bar in self.waterfall]
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
    micro_stop_s: float
    breakdown_s: float
    setup_s: float
    stops: int
    micro_stops: int
    failures: int
    produced: int
    good: int
    scrap: int
    ideal_time_s: float | None
    ideal_good_s: float | None
    time_by_state: dict[str, float]


def _ratio(numerator: float | None, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when either is missing or zero-divided."""
    if numerator is None or denominator == 0:
        return None
    return numerator / denominator


def _result(
    asset: str,
    window: tuple[int, int],
    sums: _Sums,
    cycle_s: float | None,
    machines: int,
    micro_in_apt: bool,
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
        micro_stops=sums.micro_stops,
        micro_stop_s=sums.micro_stop_s,
        micro_stops_in_apt=micro_in_apt,
        breakdown_s=sums.breakdown_s,
        setup_s=sums.setup_s,
        failures=sums.failures,
        ideal_good_s=sums.ideal_good_s,
        scrap_ratio=_ratio(sums.scrap, sums.produced),
        teep=_ratio(sums.ideal_good_s, round(sums.pot_s - sums.no_data_s, 3)),
        mtbf_s=_ratio(sums.apt_s, sums.failures),
        mttr_s=_ratio(sums.breakdown_s, sums.failures),
        waterfall=waterfall(
            sums.pot_s,
            sums.planned_downtime_s,
            sums.no_data_s,
            sums.downtime_s,
            sums.breakdown_s,
            sums.setup_s,
            sums.micro_stop_s,
            micro_in_apt,
            sums.ideal_time_s,
            sums.ideal_good_s,
        ),
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


def _corrected(quantities: Quantities, late_scrap: int) -> Quantities:
    """Late scrap moves good parts to scrap, never below zero good parts."""
    produced, good, scrap = quantities
    moved = min(max(late_scrap, 0), good)
    return (produced, good - moved, scrap + moved)


def _ideal_of(cycle_s: float | None, parts: int) -> float | None:
    """Ideal time of ``parts``: zero parts take no time even without a known cycle time."""
    if cycle_s is None:
        return 0.0 if parts == 0 else None
    return cycle_s * parts


def from_account(
    asset: str,
    time: TimeAccount,
    quantities: Quantities,
    start_ms: int,
    end_ms: int,
    *,
    ideal_cycle_time_s: float | None,
    policy: OeePolicy = DEFAULT_POLICY,
) -> OeeResult:
    """The result of one cell and window from its time account and quantities."""
    produced, good, scrap = quantities
    cycle = ideal_cycle_time_s
    sums = _Sums(
        pot_s=_seconds(time.pot_ms),
        planned_downtime_s=_seconds(time.planned_ms),
        no_data_s=_seconds(time.no_data_ms),
        pbt_s=_seconds(time.pbt_ms),
        apt_s=_seconds(time.producing_ms),
        downtime_s=_seconds(time.downtime_ms),
        micro_stop_s=_seconds(time.micro_ms),
        breakdown_s=_seconds(time.breakdown_ms),
        setup_s=_seconds(time.setup_ms),
        stops=time.stops,
        micro_stops=time.micro_stops,
        failures=time.failures,
        produced=produced,
        good=good,
        scrap=scrap,
        ideal_time_s=_ideal_of(cycle, produced),
        ideal_good_s=_ideal_of(cycle, good),
        time_by_state={_state_key(c): _seconds(ms) for c, ms in sorted(time.by_code.items())},
    )
    micro_in_apt = policy.micro_stop_is_performance_loss
    return _result(asset, (start_ms, end_ms), sums, cycle, 1, micro_in_apt)


def compute_oee(
    asset: str,
    states: Sequence[StateChange] | Timeline,
    counts: Sequence[CountUpdate],
    start_ms: int,
    end_ms: int,
    *,
    ideal_cycle_time_s: float | None,
    policy: OeePolicy = DEFAULT_POLICY,
    late_scrap: int = 0,
) -> OeeResult:
    """OEE of one cell over ``[start_ms, end_ms)`` from its state timeline and count totals.

    ``states`` may start before the window (the state carried in) and ``counts`` may start
    with the last reading before it, as the historian returns them; neither needs to be
    sorted. States up to ``policy.lookaround_ms`` beyond the window size and back-fill its
    stops exactly (:mod:`andon.mes.stops`); :func:`~andon.mes.oee_for_asset` reads them.
    ``late_scrap`` parts found bad later (``setBadQuantity``-style) move from good to scrap.
    The records' own ``asset`` fields are not checked. Raises
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
    >>> r.failures, r.mttr_s, r.mtbf_s, r.scrap_ratio, round(r.teep, 4)
    (1, 2820.0, 24180.0, 0.02, 0.6806)
    >>> {bar.loss: bar.seconds for bar in r.waterfall}  # doctest: +NORMALIZE_WHITESPACE
    {'planned_downtime': 1800.0, 'no_data': 0.0, 'breakdowns': 2820.0,
     'setup_adjustments': 0.0, 'other_stops': 0.0, 'minor_stops': 0.0, 'speed_loss': 4180.0,
     'quality_loss': 400.0, 'fully_productive': 19600.0}
    """
    _check_window(start_ms, end_ms)
    _check_cycle(ideal_cycle_time_s)
    time = account(states, start_ms, end_ms, policy)
    quantities = _corrected(count_deltas(counts, start_ms, end_ms), late_scrap)
    return from_account(
        asset,
        time,
        quantities,
        start_ms,
        end_ms,
        ideal_cycle_time_s=ideal_cycle_time_s,
        policy=policy,
    )


_TIME_FIELDS = (
    "pot_s",
    "planned_downtime_s",
    "no_data_s",
    "pbt_s",
    "apt_s",
    "downtime_s",
    "micro_stop_s",
    "breakdown_s",
    "setup_s",
)
_COUNT_FIELDS = ("stops", "micro_stops", "failures", "produced", "good", "scrap")


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


def _ideal(parts: list[float | None], cycle_s: float | None, count: int) -> float | None:
    """Summed ideal time; unknown (``None``) as soon as one part has no ideal cycle time."""
    if any(seconds is None for seconds in parts):
        return None
    if cycle_s is not None:
        return cycle_s * count  # the same product a whole-window computation makes
    return math.fsum(seconds for seconds in parts if seconds is not None)


def rollup(asset: str, results: Sequence[OeeResult]) -> OeeResult:
    """One result for a line, area or site, or for several windows of one machine.

    Times and quantities are summed and the ratios recomputed from the sums: availability =
    sum(APT) / sum(PBT), performance = sum(ideal time) / sum(APT), quality = sum(GQ) / sum(PQ).
    This weights each machine by its time and output; it is never the mean of OEEs. The window
    spans from the earliest start to the latest end; ``ideal_cycle_time_s`` is kept only when
    every part shares it; one part without an ideal cycle time makes the ideal time and the
    performance of the whole ``None``. Raises :class:`~andon.errors.InvalidRequest` when
    ``results`` is empty or mixes micro-stop policies.

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
    in_apt = {result.micro_stops_in_apt for result in results}
    if len(in_apt) > 1:
        raise InvalidRequest("cannot roll up results computed with different micro-stop policies")
    cycle_s = _common_cycle(results)
    counts: dict[str, Any] = {n: sum(getattr(r, n) for r in results) for n in _COUNT_FIELDS}
    times = {name: _add_seconds(getattr(r, name) for r in results) for name in _TIME_FIELDS}
    sums = _Sums(
        **cast(dict[str, Any], times),
        **counts,
        ideal_time_s=_ideal([r.ideal_time_s for r in results], cycle_s, counts["produced"]),
        ideal_good_s=_ideal([r.ideal_good_s for r in results], cycle_s, counts["good"]),
        time_by_state=_merge_states(results),
    )
    window = (min(r.start_ms for r in results), max(r.end_ms for r in results))
    return _result(asset, window, sums, cycle_s, _machines(results), in_apt.pop())
