"""A small modelling layer over HiGHS (``highspy``): variables in blocks, labelled rows.

Production planning and energy scheduling build their models here and read back what a
planner needs: the solution, its status, the optimality gap, and for each labelled row its
slack and, from the LP with the integer decisions fixed, its shadow price (the change of the
objective per unit of the row's bound: what one more hour of a work centre is worth).

>>> m = ModelBuilder()
>>> x = m.variables(2, cost=[1.0, 2.0])
>>> m.row(x, [1.0, 1.0], lower=4.0, label=("demand", "a", 0))  # row index
0
>>> solution = m.solve()
>>> solution.status, solution.objective, solution.x.tolist()
('optimal', 4.0, [4.0, 0.0])
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np
import numpy.typing as npt

__all__ = ["ModelBuilder", "RowLabel", "Solution"]

_logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int64]
RowLabel = tuple[str, str, int]
"""(kind, name, period) of a constraint, e.g. ``("capacity", "press", 3)``."""

_STATUS = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnbounded: "unbounded",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kIterationLimit: "time_limit",
    highspy.HighsModelStatus.kSolutionLimit: "time_limit",
    highspy.HighsModelStatus.kInterrupt: "time_limit",
}


@dataclass(frozen=True, slots=True)
class Solution:
    """What HiGHS returned: ``x`` is empty when no feasible point was found."""

    status: str
    x: FloatArray
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float

    @property
    def feasible(self) -> bool:
        return self.x.size > 0


@dataclass
class ModelBuilder:
    """Minimise ``cost @ x`` subject to labelled rows ``lower <= A x <= upper``."""

    cost: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)
    labels: list[RowLabel | None] = field(default_factory=list)
    _starts: list[int] = field(default_factory=lambda: [0])
    _columns: list[int] = field(default_factory=list)
    _values: list[float] = field(default_factory=list)

    def variables(
        self,
        count: int,
        *,
        cost: float | Sequence[float] | FloatArray = 0.0,
        lower: float | Sequence[float] | FloatArray = 0.0,
        upper: float | Sequence[float] | FloatArray = np.inf,
        integer: bool = False,
    ) -> IndexArray:
        """Add ``count`` variables; returns their column indices."""
        first = len(self.cost)
        self.cost += np.broadcast_to(np.asarray(cost, dtype=float), (count,)).tolist()
        self.lower += np.broadcast_to(np.asarray(lower, dtype=float), (count,)).tolist()
        self.upper += np.broadcast_to(np.asarray(upper, dtype=float), (count,)).tolist()
        self.integer += [integer] * count
        return np.arange(first, first + count, dtype=np.int64)

    def row(
        self,
        columns: Sequence[int | np.int64] | IndexArray,
        coefficients: Sequence[float] | FloatArray,
        *,
        lower: float = -np.inf,
        upper: float = np.inf,
        label: RowLabel | None = None,
    ) -> int:
        """Add the row ``lower <= sum(coefficients x[columns]) <= upper``; returns its index."""
        self._columns += [int(c) for c in columns]
        self._values += [float(v) for v in coefficients]
        self._starts.append(len(self._columns))
        self.row_lower.append(lower)
        self.row_upper.append(upper)
        self.labels.append(label)
        return len(self.labels) - 1

    @property
    def num_rows(self) -> int:
        return len(self.labels)

    def activity(self, x: FloatArray) -> FloatArray:
        """``A x`` for every row."""
        starts = np.asarray(self._starts)
        products = np.asarray(self._values) * x[np.asarray(self._columns, dtype=np.int64)]
        sums = np.add.reduceat(np.r_[products, 0.0], starts[:-1]) if self.num_rows else products
        return np.where(starts[1:] > starts[:-1], sums, 0.0)

    def _lp(self, *, relax: bool, fix: FloatArray | None) -> highspy.HighsLp:
        lp = highspy.HighsLp()
        lp.num_col_ = len(self.cost)
        lp.num_row_ = self.num_rows
        lp.col_cost_ = np.asarray(self.cost)
        integer = np.asarray(self.integer, dtype=bool)
        lower, upper = np.asarray(self.lower), np.asarray(self.upper)
        if fix is not None:  # integer decisions fixed at their values: an LP around them
            lower = np.where(integer, np.round(fix), lower)
            upper = np.where(integer, np.round(fix), upper)
        lp.col_lower_, lp.col_upper_ = lower, upper
        lp.row_lower_, lp.row_upper_ = np.asarray(self.row_lower), np.asarray(self.row_upper)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.asarray(self._starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.asarray(self._columns, dtype=np.int32)
        lp.a_matrix_.value_ = np.asarray(self._values)
        if not relax and fix is None and integer.any():
            kinds = highspy.HighsVarType
            lp.integrality_ = [kinds.kInteger if i else kinds.kContinuous for i in integer]
        return lp

    def _highs(self, time_limit_s: float, mip_gap: float) -> highspy.Highs:
        highs = highspy.Highs()  # type: ignore[no-untyped-call]  # highspy's stub lacks it
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("time_limit", float(time_limit_s))
        highs.setOptionValue("mip_rel_gap", float(mip_gap))
        highs.setOptionValue("random_seed", 0)
        return highs

    def solve(
        self, *, time_limit_s: float = 60.0, mip_gap: float = 1e-4, relax: bool = False
    ) -> Solution:
        """Solve the MILP (or its LP relaxation with ``relax``; an LP when nothing is integer)."""
        highs = self._highs(time_limit_s, mip_gap)
        highs.passModel(self._lp(relax=relax, fix=None))
        started = time.perf_counter()
        highs.run()
        seconds = time.perf_counter() - started
        status = _STATUS.get(highs.getModelStatus(), "error")
        info = highs.getInfo()
        has_point = info.primal_solution_status == 2  # kSolutionStatusFeasible
        x = np.asarray(highs.getSolution().col_value) if has_point else np.empty(0)
        if status == "error":
            _logger.warning(
                "HiGHS ended with %s", highs.modelStatusToString(highs.getModelStatus())
            )
        mip = any(self.integer) and not relax
        return Solution(
            status=status,
            x=x,
            objective=float(info.objective_function_value) if has_point else None,
            bound=float(info.mip_dual_bound) if mip and has_point else None,
            gap=float(info.mip_gap) if mip and has_point else (0.0 if has_point else None),
            seconds=seconds,
        )

    def row_duals(self, x: FloatArray) -> FloatArray:
        """Shadow prices of every row in the LP with the integer variables fixed at ``x``.

        NaN when that LP does not solve (it should, since ``x`` is feasible).
        """
        highs = self._highs(60.0, 0.0)
        highs.passModel(self._lp(relax=True, fix=x))
        highs.run()
        if highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return np.full(self.num_rows, np.nan)
        return np.asarray(highs.getSolution().row_dual, dtype=np.float64)
