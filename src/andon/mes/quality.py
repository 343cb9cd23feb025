"""Quality records: inspections per lot/order, defect Pareto, yield and ISO 22400-2 ratios.

An :class:`Inspection` is one inspection of a quantity of parts: how many were inspected,
how many passed (good), were sent to rework, or scrapped (``good + rework + scrap ==
inspected``), the defects found by type (attribute data) and measured characteristics
(variable data, for SPC and capability). A re-inspection of reworked parts is recorded with
``first_pass=False``. Its id is the natural key: recording the same id again replaces the
record, so a replayed message or a corrected entry never counts twice.

Quantities and ratios (ISO 22400-2, over the inspections selected by a filter):

- PQ, produced quantity = parts inspected at first pass; GQ, good quantity = parts passed,
  at first pass or after rework; SQ, scrap quantity = parts scrapped at any inspection;
  RQ, rework quantity = parts sent to rework at first pass.
- Quality ratio = GQ / PQ, scrap ratio = SQ / PQ, rework ratio = RQ / PQ.
- First pass yield FPY = GP / IP: good parts at first pass / parts inspected at first pass.
- A zero denominator gives ``None``, never a fake 100 %.

Every record or replacement is written to the MES audit trail (:mod:`andon.mes.audit`) in
the same transaction, with who did it.

Tables (``quality_inspections``, ``quality_defects``, ``quality_measurements``) use SQL
common to DuckDB and PostgreSQL, through ``Historian.sql`` and ``Historian.transaction``.

>>> s = summarize(inspected_first=100, good_first=90, good=96, scrap=4, rework_first=7)
>>> s.first_pass_yield, s.quality_ratio, s.scrap_ratio, s.rework_ratio
(0.9, 0.96, 0.04, 0.07)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from andon.errors import InvalidRequest
from andon.historian.protocol import Historian, SqlRunner
from andon.mes import audit, store

__all__ = [
    "Inspection",
    "ParetoRow",
    "QualityFilter",
    "QualitySummary",
    "create_tables",
    "defect_pareto",
    "inspections",
    "measurements",
    "pareto",
    "quality_summary",
    "record_inspection",
    "summarize",
]

_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS quality_inspections (
        id          VARCHAR PRIMARY KEY,
        ts_ms       BIGINT NOT NULL,
        lot         VARCHAR,
        order_id    VARCHAR,
        asset       VARCHAR,
        product     VARCHAR,
        inspected   BIGINT NOT NULL,
        good        BIGINT NOT NULL,
        rework      BIGINT NOT NULL,
        scrap       BIGINT NOT NULL,
        first_pass  BOOLEAN NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS quality_defects (
        inspection_id  VARCHAR NOT NULL,
        defect         VARCHAR NOT NULL,
        count          BIGINT NOT NULL,
        PRIMARY KEY (inspection_id, defect)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS quality_measurements (
        inspection_id   VARCHAR NOT NULL,
        characteristic  VARCHAR NOT NULL,
        seq             INTEGER NOT NULL,
        value           DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (inspection_id, characteristic, seq)
    )
    """,
)
_INSPECTION_COLUMNS = (
    "id, ts_ms, lot, order_id, asset, product, inspected, good, rework, scrap, first_pass"
)


@dataclass(frozen=True, slots=True)
class Inspection:
    """One inspection of ``inspected`` parts of a lot/order (see the module docstring)."""

    id: str
    ts_ms: int
    inspected: int
    good: int
    rework: int = 0
    scrap: int = 0
    lot: str | None = None
    order: str | None = None
    asset: str | None = None
    product: str | None = None
    first_pass: bool = True
    defects: dict[str, int] = field(default_factory=dict)
    measurements: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise InvalidRequest("an inspection needs an id")
        quantities = (self.inspected, self.good, self.rework, self.scrap)
        if min(quantities) < 0 or any(count < 0 for count in self.defects.values()):
            raise InvalidRequest(f"inspection {self.id}: quantities must not be negative")
        if self.good + self.rework + self.scrap != self.inspected:
            raise InvalidRequest(
                f"inspection {self.id}: good {self.good} + rework {self.rework} + scrap "
                f"{self.scrap} must equal inspected {self.inspected}"
            )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class QualityFilter:
    """Which inspections: by lot, order, asset (and everything below it), product, time."""

    lot: str | None = None
    order: str | None = None
    asset: str | None = None
    product: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None

    def where(self, alias: str = "i") -> tuple[str, list[object]]:
        """A SQL condition on ``quality_inspections`` (as ``alias``) and its parameters."""
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (
            ("lot", self.lot),
            ("order_id", self.order),
            ("product", self.product),
        ):
            if value is not None:
                clauses.append(f"{alias}.{column} = ?")
                params.append(value)
        if self.asset is not None:
            clauses.append(f"({alias}.asset = ? OR {alias}.asset LIKE ?)")
            params += [self.asset, self.asset.rstrip("/") + "/%"]
        if self.start_ms is not None:
            clauses.append(f"{alias}.ts_ms >= ?")
            params.append(self.start_ms)
        if self.end_ms is not None:
            clauses.append(f"{alias}.ts_ms < ?")
            params.append(self.end_ms)
        return (" AND ".join(clauses) or "TRUE", params)


@dataclass(frozen=True, slots=True)
class QualitySummary:
    """Quantities and ISO 22400-2 ratios of a set of inspections."""

    inspected_first: int
    good_first: int
    produced: int
    good: int
    scrap: int
    rework: int
    first_pass_yield: float | None
    quality_ratio: float | None
    scrap_ratio: float | None
    rework_ratio: float | None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ParetoRow:
    """One defect type: its count, share of all defects and cumulative share."""

    defect: str
    count: int
    share: float
    cumulative: float


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def summarize(
    *, inspected_first: int, good_first: int, good: int, scrap: int, rework_first: int
) -> QualitySummary:
    """The ratios from the summed quantities (PQ is the first-pass inspected quantity)."""
    produced = inspected_first
    return QualitySummary(
        inspected_first=inspected_first,
        good_first=good_first,
        produced=produced,
        good=good,
        scrap=scrap,
        rework=rework_first,
        first_pass_yield=_ratio(good_first, inspected_first),
        quality_ratio=_ratio(good, produced),
        scrap_ratio=_ratio(scrap, produced),
        rework_ratio=_ratio(rework_first, produced),
    )


def pareto(counts: Mapping[str, int]) -> list[ParetoRow]:
    """Defect types by count, largest first (ties by name), with cumulative shares.

    >>> [(r.defect, r.count, r.cumulative) for r in pareto({"scratch": 6, "dent": 3, "stain": 1})]
    [('scratch', 6, 0.6), ('dent', 3, 0.9), ('stain', 1, 1.0)]
    """
    total = sum(counts.values())
    rows: list[ParetoRow] = []
    running = 0
    for defect, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        running += count
        share = count / total if total else 0.0
        rows.append(ParetoRow(defect, count, share, running / total if total else 0.0))
    return rows


def create_tables(runner: SqlRunner) -> None:
    """Create the quality tables if they do not exist."""
    for statement in _TABLES:
        runner.sql(statement)


def _tables_exist(historian: SqlRunner) -> bool:
    rows = historian.sql(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_name = 'quality_inspections' AND table_schema = current_schema()"
    )
    return bool(rows and rows[0][0])


def record_inspection(historian: Historian, inspection: Inspection, *, actor: str) -> bool:
    """Store (or replace) one inspection with its defects and measurements, atomically, with
    an entry in the MES audit trail; True when it replaced an earlier record of that id."""
    create_tables(historian)
    i = inspection
    with store.transaction(historian) as tx:
        before = _stored(tx, i.id)
        for table, key in (
            ("quality_defects", "inspection_id"),
            ("quality_measurements", "inspection_id"),
            ("quality_inspections", "id"),
        ):
            tx.sql(f"DELETE FROM {table} WHERE {key} = ?", [i.id])
        tx.sql(
            f"INSERT INTO quality_inspections ({_INSPECTION_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                i.id,
                i.ts_ms,
                i.lot,
                i.order,
                i.asset,
                i.product,
                i.inspected,
                i.good,
                i.rework,
                i.scrap,
                i.first_pass,
            ],
        )
        for defect, count in i.defects.items():
            tx.sql("INSERT INTO quality_defects VALUES (?, ?, ?)", [i.id, defect, count])
        rows = [
            (i.id, name, seq, float(value))
            for name, values in i.measurements.items()
            for seq, value in enumerate(values)
        ]
        if rows:
            placeholders = ", ".join("(?, ?, ?, ?)" for _ in rows)
            params = [item for row in rows for item in row]
            tx.sql(f"INSERT INTO quality_measurements VALUES {placeholders}", params)
        action = "record" if before is None else "replace"
        audit.append(tx, actor, action, "inspection", i.id, before, i.to_dict())
    return before is not None


def _stored(tx: SqlRunner, inspection_id: str) -> dict[str, object] | None:
    rows = tx.sql(
        f"SELECT {_INSPECTION_COLUMNS} FROM quality_inspections WHERE id = ?", [inspection_id]
    )
    if not rows:
        return None
    defects = tx.sql(
        "SELECT defect, count FROM quality_defects WHERE inspection_id = ?", [inspection_id]
    )
    return _inspection(rows[0], {str(d): int(c) for d, c in defects}).to_dict()


def inspections(
    historian: SqlRunner, where: QualityFilter = QualityFilter(), limit: int = 1000
) -> list[Inspection]:
    """Inspections matching ``where``, newest first, with their defects (not measurements)."""
    if not _tables_exist(historian):
        return []
    condition, params = where.where()
    rows = historian.sql(
        f"SELECT {_INSPECTION_COLUMNS} FROM quality_inspections i WHERE {condition} "
        "ORDER BY i.ts_ms DESC, i.id LIMIT ?",
        [*params, limit],
    )
    ids = [row[0] for row in rows]
    defects: dict[str, dict[str, int]] = {}
    if ids:
        marks = ", ".join("?" for _ in ids)
        for inspection_id, defect, count in historian.sql(
            f"SELECT inspection_id, defect, count FROM quality_defects "
            f"WHERE inspection_id IN ({marks})",
            ids,
        ):
            defects.setdefault(inspection_id, {})[defect] = int(count)
    return [_inspection(row, defects.get(row[0], {})) for row in rows]


def _inspection(row: tuple[Any, ...], defects: dict[str, int]) -> Inspection:
    id_, ts, lot, order, asset, product, inspected, good, rework, scrap, first = row
    return Inspection(
        id=str(id_),
        ts_ms=int(ts),
        inspected=int(inspected),
        good=int(good),
        rework=int(rework),
        scrap=int(scrap),
        lot=lot,
        order=order,
        asset=asset,
        product=product,
        first_pass=bool(first),
        defects=defects,
    )


def quality_summary(historian: SqlRunner, where: QualityFilter = QualityFilter()) -> QualitySummary:
    """First pass yield, quality, scrap and rework ratios of the matching inspections."""
    sums = [0, 0, 0, 0, 0]
    if _tables_exist(historian):
        condition, params = where.where()
        row = historian.sql(
            "SELECT "
            "coalesce(sum(CASE WHEN i.first_pass THEN i.inspected ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN i.first_pass THEN i.good ELSE 0 END), 0), "
            "coalesce(sum(i.good), 0), coalesce(sum(i.scrap), 0), "
            "coalesce(sum(CASE WHEN i.first_pass THEN i.rework ELSE 0 END), 0) "
            f"FROM quality_inspections i WHERE {condition}",
            params,
        )[0]
        sums = [int(v) for v in row]
    inspected_first, good_first, good, scrap, rework_first = sums
    return summarize(
        inspected_first=inspected_first,
        good_first=good_first,
        good=good,
        scrap=scrap,
        rework_first=rework_first,
    )


def defect_pareto(historian: SqlRunner, where: QualityFilter = QualityFilter()) -> list[ParetoRow]:
    """Defect types of the matching inspections, largest count first."""
    if not _tables_exist(historian):
        return []
    condition, params = where.where()
    rows = historian.sql(
        "SELECT d.defect, sum(d.count) FROM quality_defects d "
        "JOIN quality_inspections i ON i.id = d.inspection_id "
        f"WHERE {condition} GROUP BY d.defect",
        params,
    )
    return pareto({str(defect): int(count) for defect, count in rows})


def measurements(
    historian: SqlRunner, characteristic: str, where: QualityFilter = QualityFilter()
) -> tuple[list[int], list[float]]:
    """Timestamps and values of one measured characteristic, in time order (for SPC)."""
    if not _tables_exist(historian):
        return ([], [])
    condition, params = where.where()
    rows = historian.sql(
        "SELECT i.ts_ms, m.value FROM quality_measurements m "
        "JOIN quality_inspections i ON i.id = m.inspection_id "
        f"WHERE m.characteristic = ? AND {condition} ORDER BY i.ts_ms, i.id, m.seq",
        [characteristic, *params],
    )
    return ([int(ts) for ts, _ in rows], [float(v) for _, v in rows])
