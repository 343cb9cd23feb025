"""Files as sources: MQTT recordings (JSONL) and sample tables (CSV, Parquet)."""

from __future__ import annotations

import base64
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from andon.connect import TableColumns, read_jsonl, read_table
from andon.connect.files import file_format
from andon.errors import ConfigError
from andon.signals import Metrics, Sample

T0 = 1_763_700_000_000
M1 = "acme/p1/a/l1/m1"
SPARKPLUG_B64 = base64.b64encode(bytes([8, 1])).decode()


def test_recordings_give_topics_and_raw_payloads(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text(
        '{"topic": "andon/v1/a/metrics", "payload": {"ts": 1, "values": {"v": 1}}}\n'
        "\n"
        '{"topic": "andon/v1/a/state", "payload": "{\\"ts\\": 2}"}\n'
        f'{{"topic": "spBv1.0/g/NDATA/n", "payload_b64": "{SPARKPLUG_B64}"}}\n'
        "not json\n"
        '{"payload": {}}\n'
        '{"topic": "t", "payload_b64": "@@"}\n',
        encoding="utf-8",
    )
    messages = list(read_jsonl(path))
    assert [(m.topic, m.payload, m.error) for m in messages[:3]] == [
        ("andon/v1/a/metrics", b'{"ts":1,"values":{"v":1}}', None),
        ("andon/v1/a/state", b'{"ts": 2}', None),
        ("spBv1.0/g/NDATA/n", b"\x08\x01", None),
    ]
    assert [(m.topic, (m.error or "")[:12]) for m in messages[3:]] == [
        ("line 5", "not JSON: in"),
        ("line 6", 'needs a "top'),
        ("t", "payload_b64 "),
    ]
    assert messages[-1].position == path.stat().st_size


def test_a_wide_csv_becomes_metrics_and_bad_rows_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "m1.csv"
    path.write_text(
        f"ts,temp_c,power_kw,label\n{T0},21.5,3,a\n{T0 + 1000},,4.5,b\nyesterday,1,1,c\n",
        encoding="utf-8",
    )
    (chunk,) = read_table(path, TableColumns(asset=M1, values=("temp_c", "power_kw")))
    assert chunk.records == [
        Metrics(M1, T0, {"temp_c": 21.5, "power_kw": 3.0}),
        Metrics(M1, T0 + 1000, {"power_kw": 4.5}),  # an empty cell is a gap, not an error
    ]
    assert chunk.rejected == [(3, "timestamp 'yesterday' is not ISO-8601")]


def test_a_long_parquet_file_becomes_samples(tmp_path: Path) -> None:
    path = tmp_path / "long.parquet"
    table = pa.table(
        {
            "time": pa.array([T0, T0 + 1000, T0 + 2000], pa.timestamp("ms")),
            "machine": [M1, M1, "acme/p1/a/l1/m2"],
            "signal": ["temp_c", "temp_c", "speed"],
            "reading": [20.0, None, 7.0],
        }
    )
    pq.write_table(table, path)
    columns = TableColumns(
        time="time", asset_column="machine", tag_column="signal", value_column="reading"
    )
    (chunk,) = read_table(path, columns)
    assert chunk.records == [
        Sample(M1, "temp_c", T0, 20.0),
        Sample("acme/p1/a/l1/m2", "speed", T0 + 2000, 7.0),
    ]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (TableColumns(), "give the asset"),
        (TableColumns(asset=M1, asset_column="m"), "give the asset"),
        (TableColumns(asset="Bad Path"), "is not [a-z0-9_-]+"),
        (TableColumns(asset=M1, tag_column="t"), "both --tag-column and --value-column"),
    ],
)
def test_column_options_that_cannot_work_are_refused(columns: TableColumns, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        columns.check()


def test_missing_columns_and_unknown_formats_are_clear(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("time,v\n1,2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no time column 'ts'"):
        list(read_table(path, TableColumns(asset=M1)))
    with pytest.raises(ConfigError, match="no column 'w'"):
        list(read_table(path, TableColumns(time="time", asset=M1, values=("w",))))
    with pytest.raises(ConfigError, match="--format"):
        file_format(tmp_path / "x.xlsx")
