"""The ``andon`` command: demo, serve, sim, oee."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated, cast

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
from andon.cli.guard import guarded, stop_on_signals
from andon.cli.runtime import ApiServer, HistorianTail, live_scorer
from andon.cli.sim import simulate as simulate_command
from andon.config import load_settings
from andon.errors import AndonError
from andon.historian import DuckDBHistorian, PostgresHistorian, open_historian
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
    ml: Annotated[
        bool,
        typer.Option(
            "--ml/--no-ml",
            help="live scoring: failure risk, remaining life and anomaly alerts, with models "
            "learned from the plant's history in the background (--no-ml: none of it)",
        ),
    ] = True,
    models: Annotated[
        Path | None,
        typer.Option(
            help="model registry: learned models are stored and reused here; "
            "default 'models' beside --db"
        ),
    ] = None,
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
        ml=ml,
        models_dir=models,
    )
    with stop_on_signals():
        guarded(lambda: run_demo(options, _console))


@app.command()
def serve(
    db: Annotated[
        str | None, typer.Option(help="DuckDB file or postgresql://...; default from --config")
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(help="address to bind; beyond loopback only once a key or user exists"),
    ] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port; default from --config")] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="andon.yaml: db, http, and ml: (live scoring)"),
    ] = None,
    ml: Annotated[
        bool,
        typer.Option(
            "--ml/--no-ml",
            help="score what `andon ingest` writes (PostgreSQL) with the ml: models, "
            "learning them from the history when ml.learn is on",
        ),
    ] = True,
    duration: Annotated[
        float | None, typer.Option(help="seconds to run; default until Ctrl-C")
    ] = None,
) -> None:
    """Serve the API and dashboard over an existing historian until Ctrl-C.

    Live scoring (the config's ml: section) reads what another process writes into the
    historian every few seconds: a PostgreSQL historian with `andon ingest` beside it. A
    DuckDB file is locked by its one writer, so over DuckDB only the history on file is scored.
    """

    def _serve() -> None:
        settings = load_settings(config, db=db, http_host=host, http_port=port)
        opened = open_historian(settings.db)
        target = opened.url if isinstance(opened, PostgresHistorian) else settings.db  # no password
        # The API is typed for DuckDBHistorian today; PostgresHistorian has the same methods.
        historian = cast(DuckDBHistorian, opened)
        server, tail = None, None
        try:
            refuse_open_bind(settings.http_host, historian)
            scorer = live_scorer(settings, historian) if ml else None
            server = ApiServer(settings, historian, scorer=scorer)
            server.start()
            _console.print(f"serving {target} on {server.url}  (Ctrl-C stops)")
            if scorer is not None:
                tail = HistorianTail.from_settings(historian, scorer, settings.ml, _console.print)
                tail.start()
            threading.Event().wait(duration)
        except KeyboardInterrupt:
            pass
        finally:
            if tail is not None:
                tail.stop()
            if server is not None:
                server.stop()
            historian.close()

    with stop_on_signals():
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
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="andon.yaml: its oee: policy")
    ] = None,
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
            settings=load_settings(config).oee,
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
