"""``andon spc``: control charts and capability on a tag, a file, a quality measurement or a
machine's scrap; ``andon spc alerts`` lists what live SPC raised.

Exactly one source: ``--tag ASSET/TAG`` (historian, with ``--from``/``--to``), ``--data F``
(CSV or Parquet, ``--value COL``), ``--characteristic NAME`` (recorded inspections) or
``--scrap ASSET`` (a p chart of scrap per ``--period`` from the machine's count totals).
``--json`` prints the limits and every violation with its rule number and index.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import numpy as np
import orjson
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from andon.errors import AndonError, InvalidRequest
from andon.historian import DuckDBHistorian
from andon.mes import quality, spc
from andon.mes.spc_live import alerts as live_alerts
from andon.signals import parse_ts

__all__ = ["app", "parse_period"]

app = typer.Typer(
    help="Control charts (Nelson / Western Electric rules) and capability.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_console = Console()
_err = Console(stderr=True)
_SHOWN = 50
_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_period(text: str) -> int:
    """``"15m"``, ``"1h"``, ``"30s"``, ``"1d"`` or plain milliseconds, as milliseconds.

    >>> parse_period("15m"), parse_period("2h"), parse_period("500")
    (900000, 7200000, 500)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise InvalidRequest(f"period {text!r}: use e.g. 30s, 15m, 1h, 1d")
    return round(float(match.group(1)) * _UNITS_MS[match.group(2) or "ms"])


@dataclass(frozen=True)
class _Source:
    tag: str | None
    data: Path | None
    characteristic: str | None
    scrap: str | None


def _time(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise InvalidRequest(f"{option}: {exc}") from exc


@contextlib.contextmanager
def _historian(db: Path) -> Iterator[DuckDBHistorian]:
    if not db.exists():
        raise AndonError(f"no historian at {db}")
    historian = DuckDBHistorian(db, read_only=True)
    try:
        yield historian
    finally:
        historian.close()


def _read_table(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.exists():
        raise InvalidRequest(f"no file {path}")
    reader = pd.read_parquet if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv
    frame = reader(path)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidRequest(f"{path.name} has no column {missing[0]!r}: {list(frame.columns)}")
    return frame


def _file_values(
    path: Path, value: str | None, time_col: str | None, size_col: str | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    if value is None:
        raise InvalidRequest("--data needs --value COL")
    wanted = [c for c in (value, time_col, size_col) if c is not None]
    frame = _read_table(path, wanted)
    values = pd.to_numeric(frame[value], errors="coerce").to_numpy(dtype=np.float64)
    stamps = None if time_col is None else _stamps(frame[time_col])
    sizes = None if size_col is None else frame[size_col].to_numpy(dtype=np.float64)
    return values, stamps, sizes


def _stamps(column: pd.Series) -> np.ndarray:
    """Epoch milliseconds from epoch-ms numbers or ISO-8601 text (naive text is UTC)."""
    if pd.api.types.is_numeric_dtype(column):
        return np.asarray(column, dtype=np.int64)
    try:
        moments = pd.to_datetime(column, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"time column: {exc}") from exc
    return np.asarray(moments.dt.tz_localize(None), dtype="datetime64[ms]").astype(np.int64)


def _window(start: str | None, end: str | None) -> tuple[int, int]:
    start_ms, end_ms = _time(start, "--from"), _time(end, "--to")
    if start_ms is None or end_ms is None:
        raise InvalidRequest("a historian source needs --from and --to")
    if end_ms <= start_ms:
        raise InvalidRequest("--to must be after --from")
    return start_ms, end_ms


def _split_tag(tag: str) -> tuple[str, str]:
    asset, _, name = tag.rpartition("/")
    if not asset or not name:
        raise InvalidRequest("--tag is ASSET/TAG, e.g. acme/p1/mach/l1/m1/spindle_temp_c")
    return asset, name


def _chart(
    source: _Source,
    spec: spc.ChartSpec,
    db: Path,
    window: tuple[str | None, str | None],
    columns: tuple[str | None, str | None, str | None],
) -> tuple[spc.Chart, np.ndarray]:
    """The chart and the raw values behind it (for capability)."""
    if source.data is not None:
        values, stamps, sizes = _file_values(source.data, *columns)
        return spc.chart(values, spec, ts_ms=stamps, sizes=sizes), values
    with _historian(db) as historian:
        start_ms, end_ms = _window(*window)
        if source.scrap is not None:
            return spc.scrap_chart(historian, source.scrap, start_ms, end_ms, spec), np.empty(0)
        if source.characteristic is not None:
            where = quality.QualityFilter(start_ms=start_ms, end_ms=end_ms)
            stamps_list, values_list = quality.measurements(historian, source.characteristic, where)
            if not values_list:
                raise InvalidRequest(f"no measurements of {source.characteristic!r} in the window")
            values = np.asarray(values_list)
            return spc.chart(values, spec, ts_ms=np.asarray(stamps_list)), values
        assert source.tag is not None
        asset, name = _split_tag(source.tag)
        stamps, values = spc.tag_values(historian, asset, name, start_ms, end_ms)
        if values.size == 0:
            raise InvalidRequest(f"{source.tag} has no samples in the window")
        return spc.chart(values, spec, ts_ms=stamps), values


def _limits(baseline: int | None, rolling: int | None) -> spc.Limits:
    if baseline is not None:
        return spc.Limits(baseline=(0, baseline))
    if rolling is not None:
        return spc.Limits(rolling=rolling)
    return spc.Limits()


def _enabled(only: str | None) -> tuple[int, ...] | None:
    if only is None:
        return None
    try:
        return tuple(int(part) for part in only.split(","))
    except ValueError as exc:
        raise InvalidRequest(f"--only {only!r}: rule numbers such as 1,2,5") from exc


def _print_chart(result: spc.Chart, data: dict[str, object]) -> None:
    table = Table(title=f"{result.kind} chart, limits from {result.limits.describe()}")
    for column in ("series", "centre", "LCL", "UCL"):
        table.add_column(column)
    series = data["series"]
    assert isinstance(series, list)
    for entry in series:
        cells = [_cell(entry[k]) for k in ("center", "lcl", "ucl")]
        table.add_row(entry["name"], *cells)
    _console.print(table)
    found = result.violations()
    _console.print(f"{int(result.sizes.size)} points, {len(found)} violations ({result.rule_set})")
    if found:
        listing = Table("series", "index", "rule", "value", "time")
        for v in found[:_SHOWN]:
            when = "" if v.ts_ms is None else _iso(v.ts_ms)
            listing.add_row(v.series, str(v.index), str(v.rule), f"{v.value:.6g}", when)
        _console.print(listing)
        if len(found) > _SHOWN:
            _console.print(f"... and {len(found) - _SHOWN} more (--json lists all)")


def _iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="seconds")


def _cell(value: object) -> str:
    if isinstance(value, list):
        return "varies" if any(v is not None for v in value) else "—"
    return f"{value:.6g}" if isinstance(value, float) else "—"


def _print_capability(cap: spc.Capability) -> None:
    table = Table(title=f"capability (n={cap.n}, {cap.confidence:.0%} intervals)")
    for column in ("index", "value", "interval"):
        table.add_column(column)
    for name in ("cp", "cpk", "pp", "ppk", "cpu", "cpl", "ppu", "ppl"):
        value = getattr(cap, name)
        if value is not None:
            low, high = cap.intervals[name]
            table.add_row(name, f"{value:.3f}", f"{low:.3f} .. {high:.3f}")
    _console.print(table)
    verdict = "normal" if cap.normality.normal else "NOT normal: indices are not reliable"
    _console.print(
        f"Anderson-Darling A*={cap.normality.statistic:.3f} p={cap.normality.p_value:.3g}: "
        f"{verdict}; expected {cap.ppm_overall:.0f} ppm out of spec (overall)"
    )


def _echo_json(value: object) -> None:
    """Plain indented JSON (a highlighter takes seconds on thousands of violations)."""
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


def _guarded(action: Callable[[], None]) -> None:
    try:
        action()
    except AndonError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc


@app.callback()
def spc_command(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Option(help="historian tag ASSET/TAG")] = None,
    data: Annotated[Path | None, typer.Option(help="CSV or Parquet file")] = None,
    characteristic: Annotated[str | None, typer.Option(help="a measured characteristic")] = None,
    scrap: Annotated[str | None, typer.Option(help="machine: p chart of its scrap")] = None,
    value: Annotated[str | None, typer.Option(help="--data: column of values")] = None,
    time: Annotated[str | None, typer.Option("--time", help="--data: time column")] = None,
    size: Annotated[str | None, typer.Option(help="--data: sample size column (p, np, u)")] = None,
    chart: Annotated[str, typer.Option(help=", ".join(spc.CHART_KINDS))] = "imr",
    subgroup: Annotated[int, typer.Option(help="values per subgroup")] = 1,
    period: Annotated[str | None, typer.Option(help="subgroups by time, e.g. 1h")] = None,
    baseline: Annotated[int | None, typer.Option(help="limits from the first N subgroups")] = None,
    baseline_to: Annotated[
        str | None, typer.Option(help="limits from --from up to this time")
    ] = None,
    rolling: Annotated[int | None, typer.Option(help="limits from the N subgroups before")] = None,
    rules: Annotated[str, typer.Option(help="nelson or we (Western Electric)")] = "nelson",
    only: Annotated[str | None, typer.Option(help="rule numbers to apply, e.g. 1,2,5")] = None,
    lsl: Annotated[float | None, typer.Option(help="lower specification limit")] = None,
    usl: Annotated[float | None, typer.Option(help="upper specification limit")] = None,
    start: Annotated[str | None, typer.Option("--from", help="ISO-8601 or epoch ms")] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO-8601 or epoch ms")] = None,
    db: Annotated[Path, typer.Option(help="DuckDB file")] = Path("data/andon.duckdb"),
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    points: Annotated[bool, typer.Option(help="--json: include every point")] = False,
) -> None:
    """Chart a tag, file, measurement or scrap rate; flag rule violations; capability."""
    if ctx.invoked_subcommand is not None:
        return

    def _run() -> None:
        source = _Source(tag, data, characteristic, scrap)
        if sum(x is not None for x in (tag, data, characteristic, scrap)) != 1:
            raise InvalidRequest("give one of --tag, --data, --characteristic, --scrap")
        baseline_ms = None
        if baseline_to is not None:
            baseline_ms = (_window(start, end)[0], _time(baseline_to, "--baseline-to") or 0)
        spec = spc.ChartSpec(
            kind=chart,
            subgroup=subgroup,
            period_ms=None if period is None else parse_period(period),
            limits=_limits(baseline, rolling),
            baseline_ms=baseline_ms,
            rule_set=rules,
            enabled=_enabled(only),
        )
        result, values = _chart(source, spec, db, (start, end), (value, time, size))
        cap = None
        if (lsl is not None or usl is not None) and values.size:
            groups = spc.Subgroups.by_count(values[np.isfinite(values)], max(subgroup, 1))
            cap = spc.capability(groups if subgroup > 1 else values, lsl=lsl, usl=usl)
        body = spc.to_dict(result, points=points)
        if as_json:
            if cap is not None:
                body["capability"] = cap.to_dict()
            _echo_json(body)
            return
        _print_chart(result, body)
        if cap is not None:
            _print_capability(cap)

    _guarded(_run)


@app.command("alerts")
def alerts_command(
    asset: Annotated[str | None, typer.Option(help="only this asset")] = None,
    tag: Annotated[str | None, typer.Option(help="only this tag name")] = None,
    limit: Annotated[int, typer.Option(help="newest N")] = 50,
    db: Annotated[Path, typer.Option(help="DuckDB file")] = Path("data/andon.duckdb"),
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Alerts raised by live SPC, newest first."""

    def _run() -> None:
        with _historian(db) as historian:
            found = live_alerts(historian, asset=asset, tag=tag, limit=limit)
        if as_json:
            _echo_json([a.to_dict() for a in found])
            return
        table = Table("time", "asset", "tag", "series", "rule", "value", "message")
        for a in found:
            row = (_iso(a.ts_ms), a.asset, a.tag, a.series, str(a.rule), f"{a.value:.6g}")
            table.add_row(*row, a.message)
        _console.print(table)

    _guarded(_run)
