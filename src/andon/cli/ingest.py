"""``andon ingest``, ``andon backfill`` and ``andon deadletters``: data in, nothing lost.

``andon ingest`` runs every configured connector into the historian until Ctrl-C or SIGTERM,
printing live rates; batches the historian cannot take wait in a disk buffer beside it and
drain when it is back, also after a restart. ``andon backfill FILE`` sends a recording or a
table through the same pipeline (validation, dedupe, dead letters). ``andon deadletters``
lists what was rejected and replays it once the cause is fixed.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from andon.cli.guard import guarded, stop_on_signals
from andon.cli.runtime import ApiServer, HistorianTail, RateMeter, live_scorer
from andon.connect import SparkplugSession
from andon.errors import ConfigError
from andon.historian import DuckDBHistorian, Historian, open_historian
from andon.ingest import (
    DiskBuffer,
    IngestService,
    Pipeline,
    default_buffer,
    load_ingest_settings,
)
from andon.ingest.service import DUCKDB_MEMORY_LIMIT
from andon.signals import Rejected

if TYPE_CHECKING:  # loaded when used: asyncua, pymodbus and pyarrow take seconds to import
    from andon.connect.files import TableColumns

__all__ = ["app"]

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
deadletters_app = typer.Typer(help="List and replay rejected messages.", no_args_is_help=True)
app.add_typer(deadletters_app, name="deadletters")
_console = Console(soft_wrap=True)  # status lines stay whole for logs and scripts
_err = Console(stderr=True)

Db = Annotated[
    str | None, typer.Option(help="DuckDB file or postgresql://...; default from --config")
]
Config = Annotated[Path | None, typer.Option("--config", "-c", help="andon.yaml")]
Buffer = Annotated[
    Path | None, typer.Option(help="store-and-forward folder; default beside the DuckDB file")
]


@app.command()
def ingest(
    config: Config = None,
    broker: Annotated[
        str | None, typer.Option(help="mqtt://host:port of the unified namespace")
    ] = None,
    db: Db = None,
    buffer: Buffer = None,
    shared_group: Annotated[
        str | None, typer.Option(help="MQTT v5 shared subscription group (several workers)")
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(help="MQTT client id (unique per worker)")
    ] = None,
    http_port: Annotated[
        int | None, typer.Option(help="also serve the API and dashboard on this port")
    ] = None,
    every: Annotated[float, typer.Option(help="seconds between rate lines")] = 5.0,
    duration: Annotated[float | None, typer.Option(help="seconds to run; default forever")] = None,
) -> None:
    """Ingest from MQTT, Sparkplug B, OPC UA and Modbus into the historian until stopped."""

    def _run() -> None:
        settings, connect = load_ingest_settings(config, broker=broker, db=db)
        if http_port is not None:
            settings = settings.model_copy(update={"http_port": http_port})
        mqtt = connect.mqtt.model_copy(
            update={
                k: v for k, v in {"shared_group": shared_group, "client_id": client_id}.items() if v
            }
        )
        connect = connect.model_copy(update={"mqtt": mqtt})
        # The API's queries (30 days of OEE, trends) need room the bare worker does not.
        limit = DUCKDB_MEMORY_LIMIT if http_port is None else "512MB"
        service = IngestService(
            settings, connect, buffer or default_buffer(settings.db), memory_limit=limit
        )
        with service, contextlib.ExitStack() as api:
            if http_port is not None:
                _serve_api(service, api)
            _report(service, every, duration)
        _stopped(service)

    guarded(_run)


@app.command()
def backfill(
    file: Annotated[Path, typer.Argument(help="JSONL recording, CSV or Parquet file")],
    db: Db = None,
    config: Config = None,
    file_format_: Annotated[
        str | None, typer.Option("--format", help="jsonl|csv|parquet; default from the extension")
    ] = None,
    asset: Annotated[str | None, typer.Option(help="tables: the asset of every row")] = None,
    asset_column: Annotated[
        str | None, typer.Option(help="tables: column naming the asset")
    ] = None,
    time_column: Annotated[str, typer.Option(help="tables: the time column")] = "ts",
    tag_column: Annotated[str | None, typer.Option(help="long tables: the tag column")] = None,
    value_column: Annotated[str | None, typer.Option(help="long tables: the value column")] = None,
    values: Annotated[
        str | None, typer.Option(help="wide tables: value columns, comma-separated")
    ] = None,
    buffer: Buffer = None,
) -> None:
    """Import a file through the ingestion pipeline (validation, dedupe, dead letters)."""

    def _run() -> None:
        from andon.connect.files import TableColumns, file_format

        settings, connect = load_ingest_settings(config, db=db)
        if not file.is_file():
            raise ConfigError(f"no file {file}")
        kind = file_format(file, file_format_)
        columns = TableColumns(
            time=time_column,
            asset=asset,
            asset_column=asset_column,
            tag_column=tag_column,
            value_column=value_column,
            values=tuple(v.strip() for v in values.split(",")) if values else (),
        )
        if kind != "jsonl":
            columns.check()
        historian = open_historian(settings.db)
        try:
            disk = DiskBuffer(buffer or default_buffer(settings.db))
            with Pipeline(historian, settings.ingest, buffer=disk) as pipeline:
                if kind == "jsonl":
                    _backfill_jsonl(pipeline, file, SparkplugSession(connect.sparkplug))
                else:
                    _backfill_table(pipeline, file, columns, kind)
                pipeline.drain(timeout_s=600)
                _summary(pipeline)
        finally:
            historian.close()

    guarded(_run)


@deadletters_app.command("list")
def deadletters_list(
    db: Db = None,
    config: Config = None,
    limit: Annotated[int, typer.Option(help="newest N")] = 50,
    source: Annotated[str | None, typer.Option(help="only this source")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines, payload in base64")] = False,
) -> None:
    """Rejected messages, newest first, with the reason and the raw payload."""

    def _run() -> None:
        settings, _ = load_ingest_settings(config, db=db)
        historian = open_historian(settings.db, read_only=True)
        try:
            letters = _select(historian, limit, source, None)
        finally:
            historian.close()
        if as_json:
            for letter in letters:
                typer.echo(orjson.dumps(_letter_json(letter)).decode())
        else:
            _console.print(_letters_table(letters))

    guarded(_run)


@deadletters_app.command("replay")
def deadletters_replay(
    db: Db = None,
    config: Config = None,
    limit: Annotated[int, typer.Option(help="at most N letters, oldest of the newest N")] = 10_000,
    source: Annotated[str | None, typer.Option(help="only this source")] = None,
    topic_prefix: Annotated[str | None, typer.Option(help="only topics starting so")] = None,
    dry_run: Annotated[bool, typer.Option(help="say what would pass; change nothing")] = False,
) -> None:
    """Send dead letters through the pipeline again; those accepted leave the list."""

    def _run() -> None:
        settings, _ = load_ingest_settings(config, db=db)
        historian = open_historian(settings.db)
        try:
            letters = _select(historian, limit, source, topic_prefix)
            if dry_run:
                _dry_run(letters)
                return
            with Pipeline(historian, settings.ingest) as pipeline:
                result = pipeline.replay(letters)
        finally:
            historian.close()
        _console.print(
            f"replayed {len(result.accepted)} of {len(letters)}; "
            f"{len(result.still_rejected)} still rejected"
        )
        for letter in result.still_rejected[:10]:
            _console.print(f"  {letter.topic}: {letter.error}")

    guarded(_run)


def _serve_api(service: IngestService, stack: contextlib.ExitStack) -> None:
    # The API is typed for DuckDBHistorian today; PostgresHistorian has the same methods.
    historian = cast(DuckDBHistorian, service.historian)
    scorer = live_scorer(service.settings, historian)
    server = ApiServer(service.settings, historian, service.pipeline, scorer=scorer)
    server.start()
    stack.callback(server.stop)
    _console.print(f"API and dashboard on {server.url}")
    if scorer is not None:  # live scoring of what this worker writes (the ml: settings)
        tail = HistorianTail.from_settings(historian, scorer, service.settings.ml, _console.print)
        tail.start()
        stack.callback(tail.stop)  # before the server's stop: callbacks run last-in first


def _report(service: IngestService, every: float, duration: float | None) -> None:
    _console.print(f"ingesting from {', '.join(service.names)} into {service.target}")
    meter, samples_meter = RateMeter(), RateMeter()
    deadline = None if duration is None else time.monotonic() + duration
    with stop_on_signals(), contextlib.suppress(KeyboardInterrupt):
        while deadline is None or time.monotonic() < deadline:
            wait = every if deadline is None else min(every, deadline - time.monotonic())
            time.sleep(max(wait, 0.0))
            stats = service.pipeline.stats
            _console.print(
                f"{meter.rate(stats.received):9,.0f} msg/s  "
                f"{samples_meter.rate(stats.samples_written):10,.0f} samples/s  "
                f"written {stats.samples_written:,}  "
                f"rejected {stats.rejected:,}  duplicates {stats.duplicates:,}  "
                f"buffered {stats.buffered_batches:,}  "
                f"historian {'up' if stats.historian_available else 'DOWN'}"
            )


def _stopped(service: IngestService) -> None:
    stats = service.pipeline.stats
    _console.print(
        f"stopped: {stats.samples_written:,} samples written, {stats.rejected} rejected, "
        f"{stats.duplicates} duplicates, {stats.buffered_batches} batches left in the buffer"
    )


def _backfill_jsonl(pipeline: Pipeline, file: Path, sparkplug: SparkplugSession) -> None:
    from andon.connect.files import read_jsonl

    with _progress(file.stat().st_size, "bytes") as advance:
        for message in read_jsonl(file):
            if message.error is not None:
                pipeline.reject(
                    "backfill", f"{file.name}:{message.topic}", message.payload, message.error
                )
            elif message.topic.startswith("spBv1.0/"):
                result = sparkplug.handle(message.topic, message.payload)
                pipeline.submit_records(result.records, source="backfill")
                if result.rejected is not None:
                    pipeline.reject("backfill", message.topic, message.payload, result.rejected)
            else:
                pipeline.submit(message.topic, message.payload, source="backfill")
            advance(message.position)


def _backfill_table(pipeline: Pipeline, file: Path, columns: TableColumns, kind: str) -> None:
    from andon.connect.files import read_table

    with _progress(_rows_in(file, kind), "rows") as advance:
        done = 0
        for chunk in read_table(file, columns, kind):
            pipeline.submit_records(chunk.records, source="backfill")
            for row, reason in chunk.rejected:
                pipeline.reject("backfill", f"{file.name}:row {row}", b"", reason)
            done += chunk.rows
            advance(done)


def _rows_in(file: Path, kind: str) -> int | None:
    if kind == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(file).metadata.num_rows)
    with open(file, "rb") as handle:
        return max(
            0, sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1
        )


@contextlib.contextmanager
def _progress(total: int | None, unit: str) -> Iterator[Callable[[int], None]]:
    columns = (
        TextColumn(f"backfill ({unit})"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=_err, transient=True) as progress:
        task = progress.add_task("backfill", total=total)
        yield lambda done: progress.update(task, completed=done)


def _summary(pipeline: Pipeline) -> None:
    stats = pipeline.stats
    _console.print(
        f"backfill: {stats.received:,} messages, {stats.samples_written:,} samples written, "
        f"{stats.duplicates:,} duplicates, {stats.rejected:,} dead-lettered "
        f"(andon deadletters list), {stats.buffered_batches} batches still buffered"
    )


def _select(
    historian: Historian, limit: int, source: str | None, prefix: str | None
) -> list[Rejected]:
    return [
        letter
        for letter in historian.dead_letters(limit)
        if (source is None or letter.source == source)
        and (prefix is None or letter.topic.startswith(prefix))
    ]


def _dry_run(letters: list[Rejected]) -> None:
    from andon.errors import PayloadRejected
    from andon.ingest import Decoder

    decoder, passing = Decoder(), 0
    for letter in letters:
        with contextlib.suppress(PayloadRejected):
            decoder.decode(letter.topic, letter.payload)
            passing += 1
    _console.print(f"{passing} of {len(letters)} would be accepted now (dry run: nothing changed)")


def _letter_json(letter: Rejected) -> dict[str, Any]:
    return {
        "received_ms": letter.received_ms,
        "source": letter.source,
        "topic": letter.topic,
        "error": letter.error,
        "payload_b64": base64.b64encode(letter.payload).decode(),
    }


def _letters_table(letters: list[Rejected]) -> Table:
    table = Table(title=f"{len(letters)} dead letters (newest first)")
    for column in ("received (UTC)", "source", "topic", "reason", "payload"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        received = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(letter.received_ms / 1000))
        preview = letter.payload[:60].decode("utf-8", "replace")
        table.add_row(received, letter.source, letter.topic, letter.error, preview)
    return table
