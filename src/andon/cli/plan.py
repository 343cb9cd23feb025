"""``andon plan inventory|production|energy``: inventory policies, MILP plans, energy schedules.

Problems come from files (YAML or JSON with the schema of the API's request bodies); the
answer is a table, or ``--json``. A plan that cannot exist is a result, not a crash: the
command prints why and exits with status 2 (errors in the input exit with 1).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import orjson
import pandas as pd
import typer
import yaml
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from andon.errors import AndonError, InvalidRequest
from andon.plan import energy, inventory, production

__all__ = ["app", "load_problem"]

app = typer.Typer(
    help="Planning: inventory policies, production plans (MILP), energy-aware schedules.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_console = Console()
_err = Console(stderr=True)
INFEASIBLE_EXIT = 2
M = TypeVar("M", bound=BaseModel)

AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]
TimeLimit = Annotated[float, typer.Option(help="solver time limit, seconds")]


def load_problem(path: Path, model: type[M], **overrides: object) -> M:
    """Read a YAML/JSON problem file into ``model`` (``overrides`` replace top-level keys);
    a readable error naming the field when it is invalid."""
    if not path.exists():
        raise InvalidRequest(f"no file {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidRequest(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{path}: expected a mapping of the problem's fields")
    try:
        return model.model_validate({**raw, **overrides})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise InvalidRequest(f"{path}: {where}: {first['msg']}") from exc


def _guarded(action: Callable[[], None]) -> None:
    try:
        action()
    except AndonError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc


def _print_json(value: Any) -> None:
    """Plain indented JSON: fast on large plans, and what a pipe to ``jq`` wants."""
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


# -- inventory -------------------------------------------------------------------------------


def _column(frame: pd.DataFrame, name: str, path: Path) -> pd.Series:
    if name not in frame.columns:
        raise InvalidRequest(f"{path.name} has no column {name!r}: {list(frame.columns)}")
    return frame[name]


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InvalidRequest(f"no file {path}")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path)


def _series_by(
    path: Path, key: str | None, period: str, quantity: str, default_key: str
) -> dict[str, dict[object, float]]:
    """``{key: {period: quantity}}`` from a long table (one row per key and period).

    Periods keep the file's order (a history is written oldest first); ``""`` maps every
    period, in that order, to nothing, so callers can list them.
    """
    frame = _read(path)
    single = not key or (key == "material" and key not in frame.columns)  # one material
    keys = pd.Series([default_key] * len(frame)) if single else _column(frame, key or "", path)
    periods, amounts = _column(frame, period, path), _column(frame, quantity, path)
    out: dict[str, dict[object, float]] = {"": dict.fromkeys(periods, 0.0)}
    for k, p, q in zip(keys.astype(str), periods, pd.to_numeric(amounts), strict=True):
        bucket = out.setdefault(k, {})
        bucket[p] = bucket.get(p, 0.0) + float(q)
    return out


def _consumption(
    produced: dict[str, dict[object, float]], bom: dict[str, dict[str, float]]
) -> dict[str, list[float]]:
    """Material consumption per period: the BOM exploded over each period's production."""
    periods = list(produced.pop(""))
    per_material: dict[str, list[float]] = {}
    for k, period in enumerate(periods):
        made = {product: by_period.get(period, 0.0) for product, by_period in produced.items()}
        for material, need in inventory.explode(bom, made).items():
            per_material.setdefault(material, [0.0] * len(periods))[k] += need
    return per_material


def _inventory_table(policies: list[inventory.InventoryPolicy]) -> Table:
    table = Table(title="inventory policies (per period of the demand history)")
    columns = ("material", "mean", "sd", "SS", "ROP", "EOQ", "EOQ cost", "JIT cost")
    for column in (*columns, "EOQ fill", "JIT fill", "cheaper"):
        table.add_column(column)
    for p in policies:
        numbers = (
            p.demand_mean,
            p.demand_std,
            p.safety_stock,
            p.reorder_point,
            p.eoq,
            p.replay_eoq.cost_per_period,
            p.replay_jit.cost_per_period,
        )
        fills = (
            "—" if r.fill_rate is None else f"{r.fill_rate:.1%}"
            for r in (p.replay_eoq, p.replay_jit)
        )
        table.add_row(p.material, *(f"{v:.4g}" for v in numbers), *fills, p.cheaper)
    return table


@app.command("inventory")
def inventory_command(
    lead_time: Annotated[float, typer.Option(help="replenishment lead time, periods")],
    order_cost: Annotated[float, typer.Option(help="cost of one order")],
    holding_cost: Annotated[float, typer.Option(help="cost of holding a unit one period")],
    demand: Annotated[
        Path | None, typer.Option(help="demand history: CSV/Parquet, one row per period")
    ] = None,
    produced: Annotated[
        Path | None, typer.Option(help="production history (with --bom): consumption")
    ] = None,
    bom: Annotated[Path | None, typer.Option(help="YAML {product: {component: qty}}")] = None,
    key: Annotated[str | None, typer.Option(help="material (or product) column")] = "material",
    period: Annotated[str, typer.Option(help="period column")] = "period",
    quantity: Annotated[str, typer.Option(help="quantity column")] = "quantity",
    service_level: Annotated[float, typer.Option(help="cycle service level")] = 0.95,
    lead_time_std: Annotated[float, typer.Option(help="lead time std deviation")] = 0.0,
    jit_order_cost: Annotated[
        float | None, typer.Option(help="cost of one JIT delivery (default: order cost)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Safety stock, reorder point, EOQ and an EOQ vs JIT comparison per material."""

    def _run() -> None:
        histories = _histories(demand, produced, bom, key, period, quantity)
        policies = [
            inventory.inventory_policy(
                material,
                values,
                lead_time=lead_time,
                order_cost=order_cost,
                holding_cost=holding_cost,
                service_level=service_level,
                lead_time_std=lead_time_std,
                jit_order_cost=jit_order_cost,
            )
            for material, values in sorted(histories.items())
        ]
        if as_json:
            _print_json([p.to_dict() for p in policies])
        else:
            _console.print(_inventory_table(policies))

    _guarded(_run)


def _histories(
    demand: Path | None,
    produced: Path | None,
    bom: Path | None,
    key: str | None,
    period: str,
    quantity: str,
) -> dict[str, list[float]]:
    if (demand is None) == (produced is None):
        raise InvalidRequest("give --demand, or --produced with --bom")
    if demand is not None:
        series = _series_by(demand, key, period, quantity, demand.stem)
        order = list(series.pop(""))
        return {m: [s.get(p, 0.0) for p in order] for m, s in series.items()}
    if bom is None:
        raise InvalidRequest("--produced needs --bom (the bill of materials)")
    assert produced is not None
    bill = yaml.safe_load(bom.read_text(encoding="utf-8")) if bom.exists() else None
    if not isinstance(bill, dict):
        raise InvalidRequest(f"{bom}: expected {{product: {{component: quantity}}}}")
    made = _series_by(produced, key if key != "material" else "product", period, quantity, "")
    return _consumption(made, {str(p): dict(c) for p, c in bill.items()})


# -- production ----------------------------------------------------------------------------


def _production_tables(plan: production.ProductionPlan) -> list[Table]:
    made = Table("product", *plan.periods, title="production per period")
    for name, values in plan.production.items():
        made.add_row(name, *(f"{v:.6g}" for v in values))
    load = Table("work centre", *plan.periods, title="load (hours)")
    for name, values in plan.load_hours.items():
        load.add_row(name, *(f"{v:.4g}" for v in values))
    binding = Table("binding constraint", "shadow price", title="binding constraints")
    for b in plan.binding[:20]:
        binding.add_row(b.text, "—" if b.shadow_price is None else f"{b.shadow_price:.4g}")
    return [made, load, binding]


@app.command("production")
def production_command(
    input_file: Annotated[Path, typer.Option("--input", help="plan.yaml: products, centres")],
    time_limit: TimeLimit = 60.0,
    gap: Annotated[float, typer.Option(help="relative optimality gap to stop at")] = 1e-4,
    as_json: AsJson = False,
) -> None:
    """The cost-minimal production plan (MILP with setups) and its binding constraints."""

    def _run() -> None:
        problem = load_problem(input_file, production.ProductionProblem)
        plan = production.plan_production(problem, time_limit_s=time_limit, mip_gap=gap)
        if as_json:
            _print_json(plan.to_dict())
        elif plan.cost is not None:
            for table in _production_tables(plan):
                _console.print(table)
            _console.print(plan.message)
            base = plan.baseline
            if base.get("cost") is not None:
                _console.print(f"lot-for-lot would cost {base['cost']:.6g}")
        if plan.cost is None:
            _err.print(f"[bold red]{plan.status}:[/] {plan.message}")
            raise typer.Exit(INFEASIBLE_EXIT)

    _guarded(_run)


# -- energy --------------------------------------------------------------------------------


def _forecast(path: Path, column: str) -> list[float]:
    values = pd.to_numeric(_column(_read(path), column, path), errors="coerce").to_numpy()
    if not np.all(np.isfinite(values)):
        raise InvalidRequest(f"{path.name}: {column} has missing or non-numeric values")
    return [float(v) for v in values]


@app.command("energy")
def energy_command(
    input_file: Annotated[Path, typer.Option("--input", help="jobs.yaml: tariff, jobs, limits")],
    forecast: Annotated[
        Path | None, typer.Option(help="energy forecast CSV/Parquet, one row per period")
    ] = None,
    forecast_column: Annotated[str, typer.Option(help="kWh column of the forecast")] = "kwh",
    time_limit: TimeLimit = 60.0,
    as_json: AsJson = False,
) -> None:
    """Place energy-intensive jobs by tariff and forecast; saving against earliest start."""

    def _run() -> None:
        extra = {} if forecast is None else {"forecast_kwh": _forecast(forecast, forecast_column)}
        problem = load_problem(input_file, energy.EnergyProblem, **extra)
        result = energy.schedule_energy(problem, time_limit_s=time_limit)
        if as_json:
            _print_json(result.to_dict())
        elif result.cost is not None:
            table = Table("job", "resource", "start", "periods", "kWh", "cost", title="schedule")
            for run in result.jobs:
                periods = f"{run.start_period}..{run.end_period}"
                costs = (f"{run.energy_kwh:.6g}", f"{run.cost:.6g}")
                table.add_row(run.name, run.resource, run.start or "", periods, *costs)
            _console.print(table)
            _console.print(result.message)
            naive = result.naive
            broken = "" if naive.feasible else f", and breaks: {'; '.join(naive.problems)}"
            _console.print(f"naive (earliest start) would cost {naive.cost:.6g}{broken}")
        if result.cost is None:
            _err.print(f"[bold red]{result.status}:[/] {result.message}")
            raise typer.Exit(INFEASIBLE_EXIT)

    _guarded(_run)
