"""MES commands: ``andon orders ...``, ``andon trace LOT``, ``andon audit verify``, shifts,
reasons, downtime, lots, products; and the tables of ``andon oee``.

Every command opens the historian itself (``--db``); commands that change something need
write access (stop a running ``andon demo`` first, or use the API) and record ``--actor``
(default ``cli:<user>``) in the audit trail.
"""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import yaml
from rich.console import Console
from rich.table import Table

from andon import mes
from andon.config import OeeSettings
from andon.errors import AndonError, InvalidRequest
from andon.historian import DuckDBHistorian
from andon.mes import audit, downtime, genealogy, orders, products, progress, reasons
from andon.mes.calendar import By
from andon.signals import parse_ts

__all__ = ["app", "oee_report"]

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
orders_app = typer.Typer(help="Work orders: create, move through their states, progress.")
audit_app = typer.Typer(help="The hash-chained audit trail.")
shifts_app = typer.Typer(help="The plant's shift calendar.")
reasons_app = typer.Typer(help="The downtime reason tree.")
downtime_app = typer.Typer(help="Stops, their reasons, operator annotations.")
lots_app = typer.Typer(help="Material lots and genealogy links.")
products_app = typer.Typer(help="Products, BOMs, routings, ideal cycle times.")
for _name, _group in (
    ("orders", orders_app),
    ("audit", audit_app),
    ("shifts", shifts_app),
    ("reasons", reasons_app),
    ("downtime", downtime_app),
    ("lots", lots_app),
    ("products", products_app),
):
    app.add_typer(_group, name=_name, no_args_is_help=True)

_console = Console()
_err = Console(stderr=True)

Db = Annotated[Path, typer.Option(help="DuckDB file")]
DEFAULT_DB = Path("data/andon.duckdb")
AsJson = Annotated[bool, typer.Option("--json", help="print JSON")]


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


ACTOR = _default_actor()
Actor = Annotated[str, typer.Option(help="who makes the change (audit trail)")]


@contextlib.contextmanager
def _open(db: Path, *, write: bool = False) -> Iterator[DuckDBHistorian]:
    if not db.exists():
        raise AndonError(f"no historian at {db}")
    historian = DuckDBHistorian(db, read_only=not write)
    try:
        yield historian
    finally:
        historian.close()


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except AndonError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc


def _time(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise InvalidRequest(f"{option}: {exc}") from exc


def _range(start: str, end: str) -> tuple[int, int]:
    lo, hi = _time(start, "--from"), _time(end, "--to")
    if lo is None or hi is None:
        raise InvalidRequest("--from and --to are both needed")
    return lo, hi


def _json(value: object) -> None:
    _console.print_json(orjson.dumps(value).decode())


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc}") from exc


# -- andon oee ------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _oee_table(result: mes.OeeResult) -> Table:
    table = Table(title=f"OEE {result.asset}", show_header=False)
    ratios = (result.availability, result.performance, result.quality, result.oee, result.teep)
    for key, ratio in zip(
        ("availability", "performance", "quality", "oee", "teep"), ratios, strict=True
    ):
        table.add_row(key, _pct(ratio))
    for key in (
        "pot_s",
        "pbt_s",
        "apt_s",
        "downtime_s",
        "produced",
        "good",
        "scrap",
        "stops",
        "micro_stops",
        "failures",
        "mtbf_s",
        "mttr_s",
    ):
        value = getattr(result, key)
        table.add_row(key, "—" if value is None else str(value))
    for bar in result.waterfall:
        table.add_row(f"loss: {bar.loss}", "—" if bar.seconds is None else f"{bar.seconds} s")
    return table


def _periods_table(breakdown: mes.Breakdown) -> Table:
    table = Table(title=f"OEE {breakdown.asset} by {breakdown.by}")
    table.add_column("period", no_wrap=True, min_width=16)
    for column in ("A", "P", "Q", "OEE", "produced", "scrap", "stops", "downtime_s"):
        table.add_column(column, justify="right")
    rows = [(p.label, p.result) for p in breakdown.periods] + [("total", breakdown.total)]
    for label, r in rows:
        table.add_row(
            label,
            _pct(r.availability),
            _pct(r.performance),
            _pct(r.quality),
            _pct(r.oee),
            str(r.produced),
            str(r.scrap),
            str(r.stops),
            str(r.downtime_s),
        )
    return table


def oee_report(
    db: Path,
    asset: str,
    start_ms: int,
    end_ms: int,
    *,
    by: str | None,
    ideal_cycle_time_s: float | None,
    as_json: bool,
    console: Console,
    settings: OeeSettings | None = None,
) -> None:
    """What ``andon oee`` prints: one result, or one per shift/hour/day/week and the total.

    ``settings`` is the ``oee:`` policy of ``andon.yaml`` (the defaults when not given).
    """
    policy = mes.policy_from_settings(settings or OeeSettings())
    if by is not None and by not in ("shift", "hour", "day", "week"):
        raise InvalidRequest(f"--by {by!r}: use shift, hour, day or week")
    with _open(db) as historian:
        if by is None:
            result = mes.oee_for_asset(
                historian,
                asset,
                start_ms,
                end_ms,
                ideal_cycle_time_s=ideal_cycle_time_s,
                policy=policy,
            )
            payload: object = result.to_dict()
            table = _oee_table(result)
        else:
            period: By = by  # type: ignore[assignment]  # checked just above
            breakdown = mes.oee_by(
                historian,
                asset,
                start_ms,
                end_ms,
                period,
                ideal_cycle_time_s=ideal_cycle_time_s,
                policy=policy,
            )
            payload, table = breakdown.to_dict(), _periods_table(breakdown)
    if as_json:
        console.print_json(orjson.dumps(payload).decode())
    else:
        console.print(table)


# -- orders ---------------------------------------------------------------------------------


def _order_table(found: list[mes.Order]) -> Table:
    table = Table(title="orders")
    for column in ("id", "product", "quantity", "asset", "status", "actual start", "closed"):
        table.add_column(column)
    for o in found:
        table.add_row(
            o.id,
            o.product,
            str(o.quantity),
            o.asset,
            o.status,
            str(o.actual_start_ms or "—"),
            str(o.closed_ms or "—"),
        )
    return table


@orders_app.command("list")
def orders_list(
    db: Db = DEFAULT_DB,
    status: Annotated[str | None, typer.Option(help="only this status")] = None,
    asset: Annotated[str | None, typer.Option(help="only at or below this asset")] = None,
    as_json: AsJson = False,
) -> None:
    """The order book, newest first."""

    def _list() -> None:
        with _open(db) as h:
            found = orders.list_orders(h, status=status, asset=asset)
        _json([o.to_dict() for o in found]) if as_json else _console.print(_order_table(found))

    _run(_list)


@orders_app.command("show")
def orders_show(order_id: str, db: Db = DEFAULT_DB) -> None:
    """One order, its runs and its progress from the machine counts (JSON)."""

    def _show() -> None:
        with _open(db) as h:
            found = orders.get_order(h, order_id)
            _json({**found.to_dict(), "progress": progress.order_progress(h, found).to_dict()})

    _run(_show)


@orders_app.command("create")
def orders_create(
    order_id: str,
    product: Annotated[str, typer.Option(help="product id")],
    quantity: Annotated[int, typer.Option(help="planned quantity")],
    asset: Annotated[str, typer.Option(help="the cell or line it runs on")],
    db: Db = DEFAULT_DB,
    planned_start: Annotated[str | None, typer.Option(help="ISO-8601 or epoch ms")] = None,
    planned_end: Annotated[str | None, typer.Option(help="ISO-8601 or epoch ms")] = None,
    release: Annotated[bool, typer.Option(help="create it released")] = False,
    actor: Actor = ACTOR,
) -> None:
    """Create a work order."""

    def _create() -> None:
        with _open(db, write=True) as h:
            made = orders.create_order(
                h,
                order_id,
                product,
                quantity,
                asset,
                actor=actor,
                planned_start_ms=_time(planned_start, "--planned-start"),
                planned_end_ms=_time(planned_end, "--planned-end"),
                status="released" if release else "created",
            )
        _console.print(f"order {made.id} {made.status}")

    _run(_create)


def _mover(action: str) -> Callable[..., None]:
    def command(
        order_id: str,
        db: Db = DEFAULT_DB,
        at: Annotated[str | None, typer.Option(help="when; default now")] = None,
        actor: Actor = ACTOR,
    ) -> None:
        def _move() -> None:
            with _open(db, write=True) as h:
                moved = orders.move(h, order_id, action, actor=actor, ts_ms=_time(at, "--at"))
            _console.print(f"order {moved.id} {moved.status}")

        _run(_move)

    command.__doc__ = f"{action.capitalize()} an order (illegal moves are refused)."
    return command


for _action in orders.MOVES:
    orders_app.command(_action)(_mover(_action))


@orders_app.command("import")
def orders_import(
    start: Annotated[str, typer.Option("--from", help="ISO-8601 or epoch ms")],
    end: Annotated[str, typer.Option("--to", help="ISO-8601 or epoch ms")],
    db: Db = DEFAULT_DB,
    actor: Actor = "machine",
) -> None:
    """Create orders and runs from the machines' order_start/order_end events."""

    def _import() -> None:
        lo, hi = _range(start, end)
        with _open(db, write=True) as h:
            _json(progress.import_order_events(h, lo, hi, actor=actor).to_dict())

    _run(_import)


# -- genealogy and audit ----------------------------------------------------------------------


@app.command("trace")
def trace(
    lot: str,
    db: Db = DEFAULT_DB,
    direction: Annotated[str, typer.Option(help="backward, forward or both")] = "both",
    as_json: AsJson = False,
) -> None:
    """The genealogy of a lot: what it is made of and where it went, as a graph."""

    def _trace() -> None:
        with _open(db) as h:
            graph = genealogy.trace(h, lot, direction)  # type: ignore[arg-type]  # checked inside
        if as_json:
            _json(graph.to_dict())
            return
        _console.print(f"{lot}: {len(graph.nodes)} lots, {len(graph.edges)} links")
        for edge in graph.edges:
            _console.print(
                f"  {edge.parent} -> {edge.child}  {edge.quantity:g}"
                + (f"  (order {edge.order})" if edge.order else "")
            )

    _run(_trace)


@lots_app.command("create")
def lots_create(
    lot_id: str,
    product: Annotated[str, typer.Option(help="product or material id")],
    quantity: Annotated[float, typer.Option(help="quantity in --unit")],
    db: Db = DEFAULT_DB,
    unit: Annotated[str, typer.Option(help="unit")] = "pcs",
    kind: Annotated[str, typer.Option(help="material, produced or serial")] = "material",
    order: Annotated[str | None, typer.Option(help="the order that made it")] = None,
    actor: Actor = ACTOR,
) -> None:
    """Register a lot (or a serial number)."""

    def _create() -> None:
        with _open(db, write=True) as h:
            genealogy.create_lot(
                h, mes.Lot(lot_id, product, quantity, unit, kind, order), actor=actor
            )
        _console.print(f"lot {lot_id} created")

    _run(_create)


@lots_app.command("link")
def lots_link(
    parent: str,
    child: str,
    quantity: Annotated[float, typer.Option(help="how much of PARENT went into CHILD")],
    db: Db = DEFAULT_DB,
    order: Annotated[str | None, typer.Option(help="under which order")] = None,
    actor: Actor = ACTOR,
) -> None:
    """Record that a quantity of lot PARENT went into lot CHILD."""

    def _link() -> None:
        with _open(db, write=True) as h:
            genealogy.link(h, parent, child, quantity, actor=actor, order=order)
        _console.print(f"{parent} -> {child}")

    _run(_link)


@audit_app.command("verify")
def audit_verify(
    db: Db = DEFAULT_DB,
    expect_head: Annotated[str | None, typer.Option(help="a head hash noted earlier")] = None,
    as_json: AsJson = False,
) -> None:
    """Walk the hash chain; exit 1 naming the first entry that was tampered with."""

    def _verify() -> None:
        with _open(db) as h:
            report = audit.verify(h, expect_head=expect_head)
        if as_json:
            _json(report.to_dict())
        elif report.ok:
            _console.print(f"audit trail intact: {report.entries} entries, head {report.head}")
        else:
            _err.print(
                f"[bold red]audit trail broken[/] at entry {report.first_bad}: {report.problem}"
            )
        if not report.ok:
            raise typer.Exit(1)

    _run(_verify)


@audit_app.command("list")
def audit_list(
    db: Db = DEFAULT_DB,
    entity: Annotated[str | None, typer.Option(help="order, annotation, lot, ...")] = None,
    key: Annotated[str | None, typer.Option(help="the entity's id")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
) -> None:
    """Audit entries in order (JSON lines)."""

    def _list() -> None:
        with _open(db) as h:
            for entry in audit.entries(h, entity=entity, key=key, limit=limit):
                _console.print(orjson.dumps(entry.to_dict()).decode(), soft_wrap=True)

    _run(_list)


# -- shifts, reasons, products ------------------------------------------------------------------


@shifts_app.command("show")
def shifts_show(db: Db = DEFAULT_DB) -> None:
    """The plant calendar (JSON)."""

    def _show() -> None:
        with _open(db) as h:
            _json(mes.load_calendar(h).to_mapping())

    _run(_show)


@shifts_app.command("load")
def shifts_load(
    file: Annotated[Path, typer.Argument(help="YAML with timezone, shifts, holidays")],
    db: Db = DEFAULT_DB,
    actor: Actor = ACTOR,
) -> None:
    """Set the plant calendar from a YAML file (a virtual-factory scenario works too)."""

    def _load() -> None:
        calendar = mes.Calendar.from_mapping(_yaml(file) or {})
        with _open(db, write=True) as h:
            mes.save_calendar(h, calendar, actor)
        _console.print(f"{len(calendar.shifts)} shifts in {calendar.timezone}")

    _run(_load)


@shifts_app.command("windows")
def shifts_windows(
    start: Annotated[str, typer.Option("--from", help="ISO-8601 or epoch ms")],
    end: Annotated[str, typer.Option("--to", help="ISO-8601 or epoch ms")],
    db: Db = DEFAULT_DB,
    by: Annotated[str, typer.Option(help="shift, hour, day or week")] = "shift",
) -> None:
    """The calendar's periods between two times, in local time."""

    def _windows() -> None:
        lo, hi = _range(start, end)
        with _open(db) as h:
            calendar = mes.load_calendar(h)
        for w in calendar.windows(by, lo, hi):  # type: ignore[arg-type]  # checked inside
            _console.print(f"{w.label}\t{w.start_ms}\t{w.end_ms}\t{w.hours:g} h")

    _run(_windows)


@reasons_app.command("show")
def reasons_show(db: Db = DEFAULT_DB) -> None:
    """The reason tree (JSON)."""

    def _show() -> None:
        with _open(db) as h:
            _json(reasons.load_reasons(h).nested())

    _run(_show)


@reasons_app.command("load")
def reasons_load(
    file: Annotated[Path, typer.Argument(help="YAML list of categories with children")],
    db: Db = DEFAULT_DB,
    actor: Actor = ACTOR,
) -> None:
    """Replace the reason tree from a YAML file."""

    def _load() -> None:
        tree = reasons.ReasonTree.from_nested(_yaml(file) or [])
        with _open(db, write=True) as h:
            reasons.save_reasons(h, tree, actor)
        _console.print(f"{len(tree.reasons)} reasons")

    _run(_load)


@products_app.command("list")
def products_list(db: Db = DEFAULT_DB) -> None:
    """Products with BOMs and routings (JSON)."""

    def _list() -> None:
        with _open(db) as h:
            _json([p.to_dict() for p in products.products(h)])

    _run(_list)


@products_app.command("load")
def products_load(
    file: Annotated[Path, typer.Argument(help="YAML: products: [...], cycle_times: [...]")],
    db: Db = DEFAULT_DB,
    actor: Actor = ACTOR,
) -> None:
    """Create or replace products and ideal cycle times from a YAML file."""

    def _load() -> None:
        data = _yaml(file) or {}
        items = [mes.Product.from_mapping(p) for p in data.get("products") or ()]
        with _open(db, write=True) as h:
            for product in items:
                products.save_product(h, product, actor=actor)
            for row in data.get("cycle_times") or ():
                products.set_cycle_time(
                    h,
                    str(row["asset"]),
                    str(row["product"]),
                    float(row["ideal_cycle_time_s"]),
                    actor=actor,
                )
        _console.print(f"{len(items)} products, {len(data.get('cycle_times') or ())} cycle times")

    _run(_load)


# -- downtime ---------------------------------------------------------------------------------


@downtime_app.command("list")
def downtime_list(
    asset: Annotated[str, typer.Option(help="a machine, or a line to list all its stops")],
    start: Annotated[str, typer.Option("--from", help="ISO-8601 or epoch ms")],
    end: Annotated[str, typer.Option("--to", help="ISO-8601 or epoch ms")],
    db: Db = DEFAULT_DB,
    micro: Annotated[bool, typer.Option(help="include micro-stops")] = False,
    as_json: AsJson = False,
) -> None:
    """Stops with their reasons and the reason Pareto."""

    def _list() -> None:
        lo, hi = _range(start, end)
        with _open(db) as h:
            events = [
                e
                for c in mes.cells_of(h.assets(), asset)
                for e in downtime.stops(h, c.path, lo, hi, micro=micro)
            ]
        rows = downtime.pareto(events)
        if as_json:
            _json({"events": [e.to_dict() for e in events], "pareto": [r.to_dict() for r in rows]})
            return
        table = Table(title=f"downtime {asset}: {len(events)} stops")
        for column in ("reason", "stops", "seconds"):
            table.add_column(column)
        for row in rows:
            table.add_row(row.reason, str(row.stops), f"{row.seconds:g}")
        _console.print(table)

    _run(_list)


@downtime_app.command("annotate")
def downtime_annotate(
    asset: Annotated[str, typer.Option(help="the machine")],
    start: Annotated[str, typer.Option("--from", help="ISO-8601 or epoch ms")],
    end: Annotated[str, typer.Option("--to", help="ISO-8601 or epoch ms")],
    reason: Annotated[str, typer.Option(help="a code of the reason tree")],
    db: Db = DEFAULT_DB,
    note: Annotated[str | None, typer.Option(help="free text")] = None,
    actor: Actor = ACTOR,
) -> None:
    """Give (part of) a stop a reason; overlapping annotations are refused."""

    def _annotate() -> None:
        lo, hi = _range(start, end)
        with _open(db, write=True) as h:
            made = downtime.annotate(h, asset, [(lo, hi, reason, note)], actor=actor)
        _console.print(f"annotation #{made[0].id}")

    _run(_annotate)
