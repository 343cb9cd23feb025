"""Downtime: stops derived from the state timeline, operator annotations, the reason Pareto.

Operator annotations are MES rows laid over the machine timeline, never edits of it. An
annotation gives ``[start_ms, end_ms)`` of one asset a reason from the reason tree; several
annotations split one stop into several reasons. Rules, each tested:

- an annotation lies within one stop of the machine's timeline (a stop still open extends
  to the future) and has a positive length;
- annotations of one asset never overlap: an overlapping one is rejected with
  :class:`~andon.errors.InvalidRequest` naming the annotation it collides with, so
  availability can never go negative from double-counted operator entries;
- a reason with a ``state_code`` re-classifies the annotated time for OEE (see
  :mod:`andon.mes.reasons`); every annotation names its part of the stop in the Pareto.

>>> from andon.historian import DuckDBHistorian, WriteBatch
>>> from andon.signals import StateChange
>>> db = DuckDBHistorian(":memory:")
>>> batch = WriteBatch.empty()
>>> batch.states += [StateChange("a/s/ar/l/m", 0, 10000), StateChange("a/s/ar/l/m", 600_000, 30000),
...                  StateChange("a/s/ar/l/m", 1_800_000, 10000)]
>>> _ = db.write(batch)
>>> note = annotate(db, "a/s/ar/l/m", [(600_000, 1_200_000, "bearing", None),
...                                     (1_200_000, 1_800_000, "no_material", None)], actor="ann")
>>> [(e.reason, e.seconds) for e in pareto(stops(db, "a/s/ar/l/m", 0, 3_600_000))]
[('bearing', 600.0), ('no_material', 600.0)]
>>> annotate(db, "a/s/ar/l/m", [(900_000, 1_000_000, "spindle", None)], actor="ann")
Traceback (most recent call last):
andon.errors.InvalidRequest: annotation [900000, 1000000) of a/s/ar/l/m overlaps annotation #1
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from andon.errors import InvalidRequest, NotFound
from andon.historian.protocol import Historian, SqlRunner
from andon.mes import audit, store
from andon.mes.policy import DEFAULT_POLICY, OeePolicy
from andon.mes.reasons import ReasonTree, load_reasons
from andon.mes.stops import Stop, stops_of
from andon.mes.timeline import Interval, Timeline
from andon.namespace import validate_path
from andon.signals import STATE_NAMES, state_category

__all__ = [
    "Annotation",
    "DowntimeEvent",
    "ParetoRow",
    "annotate",
    "delete_annotation",
    "list_annotations",
    "overlays",
    "pareto",
    "stops",
]

_COLUMNS = "id, asset, start_ms, end_ms, reason, note, actor, created_ms"
Piece = tuple[int, int, str, str | None]
"""``(start_ms, end_ms, reason, note)`` of one annotation to make."""


@dataclass(frozen=True, slots=True)
class Annotation:
    """An operator's reason for ``[start_ms, end_ms)`` of ``asset``."""

    id: int
    asset: str
    start_ms: int
    end_ms: int
    reason: str
    note: str | None
    actor: str
    created_ms: int

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "asset": self.asset,
            "start": self.start_ms,
            "end": self.end_ms,
            "reason": self.reason,
            "note": self.note,
            "actor": self.actor,
            "created": self.created_ms,
        }


@dataclass(frozen=True, slots=True)
class DowntimeEvent:
    """One stop of a machine, with the time of each reason inside the asked window."""

    asset: str
    start_ms: int
    end_ms: int | None
    micro: bool
    code: int
    state: str
    reason: str | None
    seconds: float
    by_reason: dict[str, float] = field(hash=False)
    annotations: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "asset": self.asset,
            "start": self.start_ms,
            "end": self.end_ms,
            "micro": self.micro,
            "code": self.code,
            "state": self.state,
            "reason": self.reason,
            "seconds": self.seconds,
            "by_reason": dict(self.by_reason),
            "annotations": list(self.annotations),
        }


@dataclass(frozen=True, slots=True)
class ParetoRow:
    """Stops and time of one reason, largest first."""

    reason: str
    stops: int
    seconds: float

    def to_dict(self) -> dict[str, object]:
        return {"reason": self.reason, "stops": self.stops, "seconds": self.seconds}


def _annotation(row: tuple[object, ...]) -> Annotation:
    ident, asset, start, end, reason, note, actor, created = row
    return Annotation(
        int(str(ident)),
        str(asset),
        int(str(start)),
        int(str(end)),
        str(reason),
        None if note is None else str(note),
        str(actor),
        int(str(created)),
    )


def list_annotations(db: Historian, assets: Sequence[str], lo: int, hi: int) -> list[Annotation]:
    """Annotations of ``assets`` that overlap ``[lo, hi)``, by asset and time."""
    if not assets or not store.ready(db):
        return []
    marks = ", ".join("?" for _ in assets)
    rows = db.sql(
        f"SELECT {_COLUMNS} FROM mes_annotations WHERE asset IN ({marks}) "
        "AND start_ms < ? AND end_ms > ? ORDER BY asset, start_ms",
        [*assets, hi, lo],
    )
    return [_annotation(row) for row in rows]


def overlays(
    db: Historian, assets: Sequence[str], lo: int, hi: int, tree: ReasonTree | None = None
) -> dict[str, list[Interval]]:
    """Per asset, the annotated intervals whose reason re-classifies time for OEE."""
    found = list_annotations(db, assets, lo, hi)
    if not found:
        return {}
    reasons = tree or load_reasons(db)
    out: dict[str, list[Interval]] = {}
    for note in found:
        code = reasons.get(note.reason).state_code if note.reason in reasons else None
        if code is not None:
            out.setdefault(note.asset, []).append((note.start_ms, note.end_ms, code, note.reason))
    return out


def _check_pieces(asset: str, pieces: Sequence[Piece], tree: ReasonTree) -> None:
    validate_path(asset)
    if not pieces:
        raise InvalidRequest("nothing to annotate")
    ordered = sorted(pieces)
    for start, end, reason, _ in ordered:
        if end <= start:
            raise InvalidRequest(f"annotation [{start}, {end}) is empty")
        tree.get(reason)
    for (_, end, _, _), (start, _, _, _) in pairwise(ordered):
        if start < end:
            raise InvalidRequest("the annotations overlap each other")


def _check_stop(db: Historian, asset: str, pieces: Sequence[Piece], policy: OeePolicy) -> None:
    lo, hi = min(p[0] for p in pieces), max(p[1] for p in pieces)
    margin = policy.lookaround_ms
    timeline = db.state_timeline(asset, lo - margin, hi + margin)
    for start, end, _, _ in pieces:
        inside = [
            s
            for s in stops_of(timeline, start, end, policy)
            if s.start_ms <= start and (s.end_ms is None or end <= s.end_ms)
        ]
        if not inside:
            raise InvalidRequest(
                f"annotation [{start}, {end}) of {asset} does not lie within one stop"
            )


def _check_free(tx: SqlRunner, asset: str, pieces: Sequence[Piece]) -> None:
    for start, end, _, _ in pieces:
        rows = tx.sql(
            "SELECT id FROM mes_annotations WHERE asset = ? AND start_ms < ? AND end_ms > ? "
            "ORDER BY id LIMIT 1",
            [asset, end, start],
        )
        if rows:
            raise InvalidRequest(
                f"annotation [{start}, {end}) of {asset} overlaps annotation #{rows[0][0]}"
            )


def annotate(
    db: Historian,
    asset: str,
    pieces: Sequence[Piece],
    *,
    actor: str,
    policy: OeePolicy = DEFAULT_POLICY,
) -> list[Annotation]:
    """Annotate (or split) a stop of ``asset``: all ``pieces`` are stored, or none."""
    tree = load_reasons(db)
    _check_pieces(asset, pieces, tree)
    _check_stop(db, asset, pieces, policy)
    now = int(time.time() * 1000)
    made = []
    with store.transaction(db) as tx:
        _check_free(tx, asset, pieces)
        ident = store.next_id(tx, "mes_annotations")
        for offset, (start, end, reason, note) in enumerate(sorted(pieces)):
            row = Annotation(ident + offset, asset, start, end, reason, note, actor, now)
            tx.sql(
                f"INSERT INTO mes_annotations ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [row.id, asset, start, end, reason, note, actor, now],
            )
            audit.append(tx, actor, "create", "annotation", str(row.id), None, row.to_dict())
            made.append(row)
    return made


def delete_annotation(db: Historian, ident: int, *, actor: str) -> Annotation:
    """Remove annotation ``ident`` (the machine timeline is untouched); audited."""
    with store.transaction(db) as tx:
        rows = tx.sql(f"SELECT {_COLUMNS} FROM mes_annotations WHERE id = ?", [ident])
        if not rows:
            raise NotFound(f"no annotation #{ident}")
        gone = _annotation(rows[0])
        tx.sql("DELETE FROM mes_annotations WHERE id = ?", [ident])
        audit.append(tx, actor, "delete", "annotation", str(ident), gone.to_dict(), None)
    return gone


def _machine_reasons(stop: Stop, lo: int, hi: int) -> dict[str, float]:
    """Seconds per reason (machine reason, else state name) of ``stop`` inside ``[lo, hi)``."""
    out: dict[str, float] = {}
    ends = [s.ts_ms for s in stop.states[1:]] + [stop.end_ms if stop.end_ms is not None else hi]
    for state, end in zip(stop.states, ends, strict=True):
        ms = min(end, hi) - max(state.ts_ms, lo)
        if ms > 0:
            name = state.reason or STATE_NAMES.get(state_category(state.code), str(state.code))
            out[name] = out.get(name, 0.0) + ms / 1000
    return out


def _event(asset: str, stop: Stop, notes: list[Annotation], lo: int, hi: int) -> DowntimeEvent:
    by_reason = _machine_reasons(stop, lo, hi)
    mine = [n for n in notes if n.start_ms < (stop.end_ms or hi) and n.end_ms > stop.start_ms]
    for note in mine:  # the operator's reason replaces the machine's for its piece
        a, b = max(note.start_ms, lo), min(note.end_ms, hi, stop.end_ms or hi)
        if b > a:
            for name, seconds in _machine_reasons(stop, a, b).items():
                by_reason[name] = round(by_reason.get(name, 0.0) - seconds, 3)
            by_reason[note.reason] = round(by_reason.get(note.reason, 0.0) + (b - a) / 1000, 3)
    by_reason = {k: v for k, v in by_reason.items() if v > 0}
    main = max(by_reason, key=lambda k: by_reason[k]) if by_reason else stop.reason
    state = STATE_NAMES.get(state_category(stop.code), str(stop.code))
    seconds = round(sum(by_reason.values()), 3)
    ids = tuple(n.id for n in mine)
    return DowntimeEvent(
        asset,
        stop.start_ms,
        stop.end_ms,
        stop.micro,
        stop.code,
        state,
        main,
        seconds,
        by_reason,
        ids,
    )


def stops(
    db: Historian,
    asset: str,
    start_ms: int,
    end_ms: int,
    *,
    policy: OeePolicy = DEFAULT_POLICY,
    timeline: Timeline | None = None,
    micro: bool = True,
) -> list[DowntimeEvent]:
    """The stops of one machine overlapping ``[start_ms, end_ms)`` with their reasons."""
    if end_ms <= start_ms:
        raise InvalidRequest("'to' must be after 'from'")
    margin = policy.lookaround_ms
    if timeline is None:
        timeline = Timeline.of(db.state_timeline(asset, start_ms - margin, end_ms + margin))
    notes = list_annotations(db, [asset], start_ms, end_ms)
    events = [
        _event(asset, stop, notes, start_ms, end_ms)
        for stop in stops_of(timeline, start_ms, end_ms, policy)
        if micro or not stop.micro
    ]
    return [e for e in events if e.seconds > 0]


def pareto(events: Sequence[DowntimeEvent]) -> list[ParetoRow]:
    """Time and number of stops per reason, largest time first."""
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    for event in events:
        for reason, s in event.by_reason.items():
            seconds[reason] = seconds.get(reason, 0.0) + s
            counts[reason] = counts.get(reason, 0) + 1
    rows = [ParetoRow(r, counts[r], round(seconds[r], 3)) for r in seconds]
    return sorted(rows, key=lambda row: (-row.seconds, row.reason))
