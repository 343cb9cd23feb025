"""The ``andon`` command: demo, serve, sim, oee."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from andon import __version__
from andon.api.security import refuse_open_bind
from andon.cli import ingest, keys, report
from andon.cli import mes as mes_cli
from andon.cli import ml as ml_cli
from andon.cli import plan as plan_cli
from andon.cli import spc as spc_cli
from andon.cli.demo import DemoOptions, run_demo
from andon.cli.guard import guarded
from andon.cli.runtime import ApiServer
from andon.cli.sim import simulate as simulate_command
from andon.config import Settings
from andon.errors import AndonError
from andon.historian import DuckDBHistorian
from andon.signals import parse_ts

__all__ = ["app", "main"]

app = typer.Typer(
    name="andon",
    help="andon: an open-source MES with built-in manufacturing AI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_console = Console()
_err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        _console.print(f"andon {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log at INFO level")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print version")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=_err, show_path=False)],
    )


@app.command()
def demo(
    duration: Annotated[
        float | None, typer.Option(help="seconds to run; default until Ctrl-C")
    ] = None,
    speed: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
    backfill: Annotated[
        float, typer.Option(help="hours of history to generate first, through ingestion")
    ] = 0.0,
    db: Annotated[Path, typer.Option(help="DuckDB file")] = Path("data/demo.duckdb"),
    seed: Annotated[int, typer.Option(help="random seed of the virtual factory")] = 42,
    port: Annotated[int, typer.Option(help="HTTP port of the API and dashboard")] = 8000,
    mqtt_port: Annotated[
        int | None, typer.Option(help="port of the embedded broker; default a free one")
    ] = None,
    broker: Annotated[
        str | None, typer.Option(help="external broker mqtt://host:port instead of embedded")
    ] = None,
    scenario: Annotated[str, typer.Option(help="scenario name or YAML file")] = "demo",
) -> None:
    """Run the whole plant: broker, virtual factory, ingestion, historian, API, dashboard."""
    options = DemoOptions(
        db=db,
        port=port,
        duration=duration,
        speed=speed,
        backfill_h=backfill,
        seed=seed,
        scenario=scenario,
        broker=broker,
        mqtt_port=mqtt_port,
    )
    guarded(lambda: run_demo(options, _console))


@app.command()
def serve(
    db: Annotated[Path, typer.Option(help="DuckDB file")] = Path("data/andon.duckdb"),
    host: Annotated[
        str, typer.Option(help="address to bind; beyond loopback only once a key or user exists")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
) -> None:
    """Serve the API and dashboard over an existing historian until Ctrl-C."""

    def _serve() -> None:
        settings = Settings(db=str(db), http_host=host, http_port=port)
        historian = DuckDBHistorian(db)
        server = None
        try:
            refuse_open_bind(host, historian)
            server = ApiServer(settings, historian)
            server.start()
            _console.print(f"serving {db} on {server.url}  (Ctrl-C stops)")
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            if server is not None:
                server.stop()
            historian.close()

    guarded(_serve)


app.command("sim")(simulate_command)


@app.command()
def oee(
    asset: Annotated[str, typer.Option(help="machine path, or a line/area/site to roll up")],
    start: Annotated[str, typer.Option("--from", help="window start, ISO-8601 or epoch ms")],
    end: Annotated[str, typer.Option("--to", help="window end, ISO-8601 or epoch ms")],
    db: Annotated[Path, typer.Option(help="DuckDB file")] = Path("data/andon.duckdb"),
    ideal_cycle_time: Annotated[
        float | None, typer.Option(help="seconds per part; overrides the configured one")
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="one result per shift, hour, day or week, and the total")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON (as the API does)")] = False,
) -> None:
    """OEE of an asset over a window per ISO 22400-2 (same numbers as /api/v1/kpis)."""

    def _oee() -> None:
        start_ms, end_ms = _parse_time(start, "--from"), _parse_time(end, "--to")
        mes_cli.oee_report(
            db,
            asset,
            start_ms,
            end_ms,
            by=by,
            ideal_cycle_time_s=ideal_cycle_time,
            as_json=as_json,
            console=_console,
        )

    guarded(_oee)


def _parse_time(value: str, option: str) -> int:
    try:
        return parse_ts(value)
    except ValueError as exc:
        raise AndonError(f"{option}: {exc}") from exc


# Command groups of the other domains, one line each: app.add_typer(<module>.app, name=...).
app.add_typer(keys.app, name="keys")
app.command("report")(report.report)
app.add_typer(ingest.app)  # ingest, backfill, deadletters
app.add_typer(mes_cli.app)  # orders, trace, audit, shifts, reasons, downtime, lots, products
app.add_typer(spc_cli.app, name="spc")
app.add_typer(plan_cli.app, name="plan")
app.add_typer(ml_cli.app, name="ml")


def main() -> None:
    """Entry point of the ``andon`` console script."""
    app()
