"""``andon sim``: the virtual factory on MQTT (JSON and Sparkplug B), OPC UA and Modbus.

Live: ``andon sim --scenario demo --broker mqtt://127.0.0.1:1883 --opcua 4840 --modbus 5020``
serves all four protocols at once (JSON and Sparkplug B on the broker; ``--no-sparkplug``
leaves Sparkplug out), paced at ``--speed``. Backfill:
``andon sim --backfill 7d --out week.jsonl`` (or ``--db plant.duckdb``) simulates the last
seven days as fast as possible and exits.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from andon import sim
from andon.cli.demo import PipelineSink
from andon.config import broker_address
from andon.errors import AndonError, ConfigError
from andon.historian import AssetInfo, open_historian
from andon.ingest import Pipeline
from andon.signals import parse_ts

__all__ = ["SimOptions", "parse_duration", "run_sim", "simulate"]

_logger = logging.getLogger(__name__)
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PROGRESS_EVERY = 3600  # simulated seconds between backfill progress lines


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``15m``, ``12h`` or ``7d``.

    >>> parse_duration("7d"), parse_duration("1.5h"), parse_duration("90")
    (604800.0, 5400.0, 90.0)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if match is None:
        raise ConfigError(f"duration {text!r}: expected a number with s, m, h or d (e.g. 7d)")
    return float(match.group(1)) * _UNITS_S[match.group(2) or "s"]


@dataclass(frozen=True)
class SimOptions:
    """The options of ``andon sim``."""

    scenario: str = "demo"
    broker: str | None = "mqtt://127.0.0.1:1883"
    sparkplug: bool | None = None  # None: Sparkplug B whenever there is a broker
    opcua: int | None = None
    modbus: int | None = None
    host: str = "127.0.0.1"
    speed: float = 1.0
    seed: int = 42
    duration_s: float | None = None
    start: str | None = None
    backfill_s: float | None = None
    out: Path | None = None
    db: str | None = None
    faults: tuple[str, ...] = field(default_factory=tuple)
    qos: int = 1


def run_sim(options: SimOptions, console: Console) -> None:
    """Run ``andon sim`` with ``options`` until its duration elapses or Ctrl-C."""
    if options.sparkplug is True and options.broker is None:
        raise ConfigError("--sparkplug publishes on the broker: give a --broker")
    if options.backfill_s is not None:
        _backfill(options, console)
    else:
        _live(options, console)


def _start_ms(options: SimOptions) -> int:
    now = int(time.time()) * 1000
    if options.backfill_s is not None:
        return now - int(options.backfill_s * 1000)
    return now if options.start is None else parse_ts(options.start)


def _factory(options: SimOptions) -> sim.Factory:
    return sim.Factory(sim.load_scenario(options.scenario), options.seed, _start_ms(options))


# -- backfill ------------------------------------------------------------------------------


def _backfill(options: SimOptions, console: Console) -> None:
    if (options.out is None) == (options.db is None):
        raise ConfigError("--backfill needs exactly one of --out FILE.jsonl or --db FILE")
    factory = _factory(options)
    until = factory.now_ms + int((options.backfill_s or 0) * 1000)
    with _backfill_sink(options, factory) as (sink, summary):
        console.print(f"backfilling {len(factory.machines)} machines from {_clock(factory.now_ms)}")
        started = time.monotonic()
        sim.run(factory, sink, until_ms=until, on_step=_progress(console))
        seconds = time.monotonic() - started
    console.print(f"backfilled to {_clock(factory.now_ms)} in {seconds:.1f} s: {summary()}")


@contextlib.contextmanager
def _backfill_sink(
    options: SimOptions, factory: sim.Factory
) -> Iterator[tuple[sim.Sink, Callable[[], str]]]:
    if options.out is not None:
        with options.out.open("wb") as stream:
            recorder = sim.JsonlRecorder(stream)
            yield recorder, lambda: f"{recorder.written:,} messages in {options.out}"
        return
    historian = open_historian(str(options.db))
    try:
        historian.upsert_assets(
            [AssetInfo(m.path, m.ideal_cycle_time_s, m.name) for m in factory.machines]
        )
        with Pipeline(historian) as pipeline:
            yield PipelineSink(pipeline), lambda: _ingested(pipeline, options.db)
            pipeline.flush()
    finally:
        historian.close()


def _ingested(pipeline: Pipeline, db: str | None) -> str:
    stats = pipeline.stats
    return f"{stats.samples_written:,} samples, {stats.rejected} rejected, into {db}"


def _progress(console: Console) -> Callable[[sim.Factory], None]:
    def report(factory: sim.Factory) -> None:
        if factory.now_ms % (_PROGRESS_EVERY * 1000) == 0:
            console.print(f"  {_clock(factory.now_ms)}", end="\r" if console.is_terminal else "\n")

    return report


def _clock(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


# -- live ------------------------------------------------------------------------------------


def _live(options: SimOptions, console: Console) -> None:
    factory = _factory(options)
    plan = sim.FaultPlan.parse(options.faults)
    with contextlib.ExitStack() as stack:
        sinks = _mqtt_sinks(options, factory, plan, stack, console)
        sinks += _server_sinks(options, factory, stack, console)
        if not sinks:
            raise ConfigError("nothing to serve: give a --broker, --opcua or --modbus")
        until = (
            None if options.duration_s is None else factory.now_ms + int(options.duration_s * 1000)
        )
        console.print(
            f"{len(factory.machines)} machines at speed {options.speed:g}  (Ctrl-C stops)"
        )
        with contextlib.suppress(KeyboardInterrupt):
            sim.run(factory, sim.Fanout(*sinks), until_ms=until, speed=options.speed)


def _mqtt_sinks(
    options: SimOptions,
    factory: sim.Factory,
    plan: sim.FaultPlan,
    stack: contextlib.ExitStack,
    console: Console,
) -> list[sim.Sink]:
    if options.broker is None:
        return []
    host, port = broker_address(options.broker)
    publisher = sim.MqttPublisher(
        host, port, client_id=f"andon-sim-{options.seed}", qos=options.qos
    )
    stack.enter_context(publisher)
    json_sink: sim.Sink = publisher
    if plan != sim.FaultPlan():
        json_sink = sim.FaultInjector(publisher, plan, seed=options.seed)
        console.print(f"faults: {plan}")
    sinks = [json_sink]
    console.print(f"MQTT JSON on {options.broker} under andon/v1/{factory.scenario.enterprise}/")
    if options.sparkplug is not False:
        node = sim.SparkplugPublisher(factory.catalog, host, port)
        stack.enter_context(node)
        sinks.append(node)
        console.print(f"Sparkplug B on {options.broker}: {node.topic('NBIRTH')}")
    return sinks


def _server_sinks(
    options: SimOptions, factory: sim.Factory, stack: contextlib.ExitStack, console: Console
) -> list[sim.Sink]:
    if options.opcua is None and options.modbus is None:
        return []
    snapshot = sim.Snapshot(factory.catalog)
    if options.opcua is not None:
        from andon.sim.opcua import OpcUaServer  # asyncua takes a second to import

        server = stack.enter_context(
            OpcUaServer(factory.catalog, snapshot, options.host, options.opcua)
        )
        console.print(f"OPC UA on {server.url}")
    if options.modbus is not None:
        from andon.sim.modbus import ModbusServer

        stack.enter_context(ModbusServer(factory.catalog, snapshot, options.host, options.modbus))
        console.print(f"Modbus TCP on {options.host}:{options.modbus}, unit 1 (see REGISTERS.md)")
    return [snapshot]


def print_modbus_map(scenario: str, seed: int) -> None:
    """Write the Modbus register map of ``scenario`` as CSV to standard output."""
    from andon.sim.modbus import register_map

    factory = sim.Factory(sim.load_scenario(scenario), seed, 0)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["address", "words", "type", "order", "asset", "name", "unit", "scale"])
    for r in register_map(factory.catalog):
        writer.writerow([r.address, r.words, r.type, r.order, r.asset, r.name, r.unit, r.scale])


# -- the command -------------------------------------------------------------------------------


def simulate(
    scenario: Annotated[str, typer.Option(help="demo, stamping, large, or a YAML file")] = "demo",
    broker: Annotated[
        str, typer.Option(help="MQTT broker mqtt://host:port, or 'none' for no MQTT")
    ] = "mqtt://127.0.0.1:1883",
    sparkplug: Annotated[
        bool | None,
        typer.Option(
            "--sparkplug/--no-sparkplug",
            help="publish Sparkplug B (spBv1.0) beside the JSON; default: on with a broker",
        ),
    ] = None,
    opcua: Annotated[int | None, typer.Option(help="serve OPC UA on this port (e.g. 4840)")] = None,
    modbus: Annotated[int | None, typer.Option(help="serve Modbus TCP on this port")] = None,
    host: Annotated[str, typer.Option(help="address the OPC UA and Modbus servers bind")] = (
        "127.0.0.1"
    ),
    speed: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same plant history)")] = 42,
    duration: Annotated[
        float | None, typer.Option(help="simulated seconds to run; default forever")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="simulated start, ISO-8601 or epoch ms; default now")
    ] = None,
    backfill: Annotated[
        str | None, typer.Option(help="simulate this much history up to now (7d, 12h) and exit")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="backfill to this JSON Lines file")] = None,
    db: Annotated[str | None, typer.Option(help="backfill into this historian (DuckDB)")] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="faults in the MQTT JSON stream, NAME=VALUE: duplicate, malformed (shares of "
            "messages), skew_ms, reset_every_s, drop_every_s, pause_every_s with pause_s"
        ),
    ] = None,
    qos: Annotated[int, typer.Option(help="MQTT QoS of the JSON messages", min=0, max=2)] = 1,
    modbus_map: Annotated[
        bool, typer.Option("--modbus-map", help="print the Modbus register map as CSV and exit")
    ] = False,
) -> None:
    """Run the virtual factory on MQTT (JSON, Sparkplug B), OPC UA and Modbus."""
    try:
        if modbus_map:
            print_modbus_map(scenario, seed)
            return
        options = SimOptions(
            scenario=scenario,
            broker=None if broker.lower() == "none" else broker,
            sparkplug=sparkplug,
            opcua=opcua,
            modbus=modbus,
            host=host,
            speed=speed,
            seed=seed,
            duration_s=duration,
            start=start,
            backfill_s=None if backfill is None else parse_duration(backfill),
            out=out,
            db=db,
            faults=tuple(fault or ()),
            qos=qos,
        )
        run_sim(options, Console())
    except AndonError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from exc
