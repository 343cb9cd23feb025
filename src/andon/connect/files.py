"""Files as sources, for backfills and replays: MQTT recordings (JSONL) and tables.

A recording has one JSON object per line, ``{"topic": ..., "payload": ...}`` (the output of
``mosquitto_sub -v`` turned into JSON); the payload is a JSON value, a string, or raw bytes
in base64 under ``payload_b64`` (Sparkplug B). Lines that are not such objects come out
with the reason, to be dead-lettered like a bad message.

A table (CSV or Parquet) holds samples, in one of two shapes, named by :class:`TableColumns`:

- wide: a time column and one column per tag (``ts, temp_c, power_kw``), the asset fixed
  or from a column;
- long: a time column, a tag column and a value column (``ts, asset, tag, value``).

Times are epoch milliseconds, timestamps (naive ones are UTC) or ISO-8601 strings. Empty
and non-numeric cells are skipped (a gap, not an error); a row whose time cannot be read is
reported with the reason.

>>> import io, tempfile, pathlib
>>> folder = tempfile.TemporaryDirectory()
>>> path = pathlib.Path(folder.name) / "m1.csv"
>>> _ = path.write_text("ts,temp_c,power_kw\\n2025-11-21T04:40:00Z,21.5,3\\n")
>>> (chunk,) = read_table(path, TableColumns(asset="acme/p1/a/l1/m1"))
>>> chunk.records[0].ts_ms, chunk.records[0].values
(1763700000000, {'temp_c': 21.5, 'power_kw': 3.0})
>>> folder.cleanup()
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from andon.errors import ConfigError, InvalidRequest
from andon.namespace import validate_path
from andon.signals import Metrics, Record, Sample, parse_ts

__all__ = ["FileMessage", "TableChunk", "TableColumns", "file_format", "read_jsonl", "read_table"]

_BATCH_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class FileMessage:
    """One recorded MQTT message, or the reason its line cannot be one."""

    topic: str
    payload: bytes
    error: str | None = None
    position: int = 0  # bytes of the file read so far (for progress bars)


@dataclass(frozen=True)
class TableColumns:
    """How a table's columns map to samples (see the module docstring)."""

    time: str = "ts"
    asset: str | None = None  # the asset of every row
    asset_column: str | None = None  # or the column naming it
    tag_column: str | None = None  # long shape: the tag column...
    value_column: str | None = None  # ...and the value column
    values: tuple[str, ...] = ()  # wide shape: these columns (default: all the others)

    def check(self) -> None:
        """Raise :class:`ConfigError` for a combination that cannot work."""
        if (self.asset is None) == (self.asset_column is None):
            raise ConfigError("give the asset (--asset PATH) or its column (--asset-column)")
        if (self.tag_column is None) != (self.value_column is None):
            raise ConfigError("the long shape needs both --tag-column and --value-column")
        if self.asset is not None:
            try:
                validate_path(self.asset)
            except InvalidRequest as exc:
                raise ConfigError(str(exc)) from exc


@dataclass
class TableChunk:
    """Records read from some rows, the rows rejected (row number, reason) and progress."""

    records: list[Record] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    rows: int = 0


def file_format(path: Path, given: str | None = None) -> str:
    """``jsonl``, ``csv`` or ``parquet``, from ``given`` or the file's extension."""
    kind = given or {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet"}.get(
        path.suffix.lower(), ""
    )
    if kind not in {"jsonl", "csv", "parquet"}:
        raise ConfigError(f"{path}: say --format jsonl|csv|parquet (unknown extension)")
    return kind


def read_jsonl(path: Path) -> Iterator[FileMessage]:
    """The messages of an MQTT recording, in file order."""
    position = 0
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            position += len(line)
            if line.strip():
                yield _message(line, number, position)


def _message(line: bytes, number: int, position: int) -> FileMessage:
    try:
        body = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return FileMessage(f"line {number}", line, f"not JSON: {exc}", position)
    topic = body.get("topic") if isinstance(body, dict) else None
    if not isinstance(topic, str) or not topic:
        return FileMessage(f"line {number}", line, 'needs a "topic" string', position)
    if "payload_b64" in body:
        try:
            return FileMessage(
                topic, base64.b64decode(body["payload_b64"], validate=True), None, position
            )
        except (binascii.Error, TypeError) as exc:
            return FileMessage(topic, line, f"payload_b64 is not base64: {exc}", position)
    payload = body.get("payload")
    raw = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
    return FileMessage(topic, raw, None, position)


def read_table(path: Path, columns: TableColumns, kind: str | None = None) -> Iterator[TableChunk]:
    """Records from a CSV or Parquet file, a chunk of rows at a time."""
    columns.check()
    row = 0
    for batch in _batches(path, file_format(path, kind)):
        chunk = _chunk(batch.to_pydict(), columns, row)
        row += chunk.rows
        yield chunk


def _batches(path: Path, kind: str) -> Iterator[pa.RecordBatch]:
    try:
        if kind == "parquet":
            yield from pq.ParquetFile(path).iter_batches(batch_size=_BATCH_ROWS)
        else:
            yield from pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=1 << 22))
    except (OSError, pa.ArrowInvalid) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def _chunk(data: dict[str, list[Any]], columns: TableColumns, first_row: int) -> TableChunk:
    if columns.time not in data:
        raise ConfigError(f"no time column {columns.time!r} (columns: {', '.join(data)})")
    chunk = TableChunk(rows=len(data[columns.time]))
    long_shape = columns.tag_column is not None
    names = _value_columns(data, columns) if not long_shape else []
    assets = data[columns.asset_column] if columns.asset_column else None
    for i, stamp in enumerate(data[columns.time]):
        try:
            ts = _ts(stamp)
            asset = validate_path(str(assets[i])) if assets is not None else columns.asset
        except (ValueError, InvalidRequest) as exc:
            chunk.rejected.append((first_row + i + 1, str(exc)))
            continue
        assert asset is not None
        if long_shape:
            _long_row(chunk, data, columns, i, asset, ts)
        else:
            values = {n: v for n in names if (v := _number(data[n][i])) is not None}
            if values:
                chunk.records.append(Metrics(asset, ts, values))
    return chunk


def _long_row(
    chunk: TableChunk,
    data: dict[str, list[Any]],
    columns: TableColumns,
    i: int,
    asset: str,
    ts: int,
) -> None:
    assert columns.tag_column is not None
    assert columns.value_column is not None
    tag, value = data[columns.tag_column][i], _number(data[columns.value_column][i])
    if tag is not None and value is not None:
        chunk.records.append(Sample(asset, str(tag), ts, value))


def _value_columns(data: dict[str, list[Any]], columns: TableColumns) -> list[str]:
    if columns.values:
        missing = [name for name in columns.values if name not in data]
        if missing:
            raise ConfigError(f"no column {missing[0]!r} (columns: {', '.join(data)})")
        return list(columns.values)
    return [name for name in data if name not in {columns.time, columns.asset_column}]


def _ts(value: Any) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return parse_ts(round(moment.timestamp() * 1000))
    if value is None:
        raise ValueError("no timestamp")
    return parse_ts(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None
