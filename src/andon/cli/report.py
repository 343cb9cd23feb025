"""``andon report``: the shift report of an asset as HTML or PDF, from the historian file."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from andon.api.deps import data_now
from andon.errors import AndonError
from andon.historian import DuckDBHistorian
from andon.web.report import build_report
from andon.web.report_render import render_html, render_pdf

__all__ = ["report"]

_err = Console(stderr=True)


def report(
    asset: Annotated[str, typer.Option(help="machine path, or a line/area to roll up")],
    shift: Annotated[
        str, typer.Option(help="YYYY-MM-DD/NAME: the plant calendar's shift starting that day")
    ],
    format: Annotated[
        Literal["html", "pdf"], typer.Option("--format", help="html or pdf")
    ] = "html",
    out: Annotated[Path | None, typer.Option(help="file to write; '-' for standard output")] = None,
    db: Annotated[Path, typer.Option(help="DuckDB file")] = Path("data/andon.duckdb"),
) -> None:
    """Write the shift report: KPIs, losses, longest stops, downtime Pareto, scrap."""
    try:
        if not db.exists():
            raise AndonError(f"no historian at {db}")
        historian = DuckDBHistorian(db, read_only=True)
        try:
            now = max(int(time.time() * 1000), data_now(historian))
            made = build_report(historian, asset, shift, now)
        finally:
            historian.close()
        body = render_pdf(made) if format == "pdf" else render_html(made).encode()
    except AndonError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    if out is not None and str(out) == "-":
        sys.stdout.buffer.write(body)
        return
    target = out or Path(
        f"shift-report-{asset.rsplit('/', 1)[-1]}-{made.shift.replace('/', '-')}.{format}"
    )
    target.write_bytes(body)
    _err.print(f"wrote {target} ({len(body):,} bytes)")
