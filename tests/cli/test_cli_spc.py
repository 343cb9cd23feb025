"""``andon spc`` as a user runs it: a file, a historian tag, scrap, capability, alerts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from andon.cli import app
from andon.historian import DuckDBHistorian, WriteBatch
from andon.mes.spc_live import LiveSpc, LiveTag
from andon.signals import CountUpdate, Metrics

runner = CliRunner()
ASSET = "acme/p1/mach/l1/m1"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000


@pytest.fixture
def widths(tmp_path: Path) -> Path:
    x = np.random.default_rng(1).normal(10.0, 0.1, 60)
    x[50:] += 0.5
    path = tmp_path / "widths.csv"
    lines = ["ts,width"] + [f"{T0 + i * 60_000},{v:.5f}" for i, v in enumerate(x)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _json(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_file_with_subgroups_baseline_and_capability(widths: Path) -> None:
    body = _json(
        [
            "spc",
            "--data",
            str(widths),
            "--value",
            "width",
            "--time",
            "ts",
            "--chart",
            "xbar_r",
            "--subgroup",
            "5",
            "--baseline",
            "8",
            "--lsl",
            "9.6",
            "--usl",
            "10.4",
            "--json",
        ]
    )
    assert body["kind"] == "xbar_r"
    assert body["limits_from"] == "baseline 0..8"
    xbar = body["series"][0]  # type: ignore[index]
    assert xbar["ucl"] > xbar["center"] > xbar["lcl"]
    beyond = [v for v in body["violations"] if v["rule"] == 1 and v["series"] == "xbar"]  # type: ignore[attr-defined]
    assert [v["index"] for v in beyond] == [10, 11]  # the shifted subgroups
    assert beyond[0]["ts_ms"] == T0 + 50 * 60_000
    assert body["capability"]["cp"] > body["capability"]["pp"]  # type: ignore[index]


def test_table_output_and_western_electric(widths: Path) -> None:
    result = runner.invoke(
        app, ["spc", "--data", str(widths), "--value", "width", "--rules", "we", "--baseline", "40"]
    )
    assert result.exit_code == 0, result.output
    assert "imr chart" in result.output
    assert "violations (we)" in result.output


def test_bad_options_are_one_clear_line(widths: Path) -> None:
    result = runner.invoke(app, ["spc", "--data", str(widths), "--value", "nope"])
    assert result.exit_code == 1
    assert "has no column 'nope'" in result.output
    result = runner.invoke(app, ["spc", "--data", str(widths), "--tag", "a/b"])
    assert result.exit_code == 1
    assert "give one of" in result.output


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "plant.duckdb"
    h = DuckDBHistorian(path)
    rng = np.random.default_rng(3)
    temps = rng.normal(70, 0.5, 300)
    temps[250:] += 4
    batch = WriteBatch.empty()
    batch.metrics += [
        Metrics(ASSET, T0 + i * 1000, {"temp_c": float(v)}) for i, v in enumerate(temps)
    ]
    batch.counts += [CountUpdate(ASSET, T0 - 1, 0, 0, 0)] + [
        CountUpdate(
            ASSET,
            T0 + h * HOUR + 1000,
            100 * (h + 1),
            100 * (h + 1) - 2 * (h + 1) - 10 * (h >= 3),
            2 * (h + 1) + 10 * (h >= 3),
        )
        for h in range(6)
    ]
    h.write(batch)
    LiveSpc(h, [LiveTag(ASSET, "temp_c", baseline=25)]).publish(list(batch.metrics))
    h.close()
    return path


def test_a_historian_tag_and_the_live_alerts(db: Path) -> None:
    body = _json(
        [
            "spc",
            "--tag",
            f"{ASSET}/temp_c",
            "--from",
            str(T0),
            "--to",
            str(T0 + HOUR),
            "--baseline-to",
            str(T0 + 200_000),
            "--db",
            str(db),
            "--json",
            "--points",
        ]
    )
    assert body["limits_from"] == "baseline 0..200"
    assert len(body["series"][0]["values"]) == 300  # type: ignore[index]
    assert any(v["index"] >= 250 and v["rule"] == 1 for v in body["violations"])  # type: ignore[attr-defined]
    listed = runner.invoke(app, ["spc", "alerts", "--db", str(db), "--json"])
    assert listed.exit_code == 0, listed.output
    alerts = orjson.loads(listed.output)
    assert alerts
    assert {a["asset"] for a in alerts} == {ASSET}


def test_scrap_p_chart(db: Path) -> None:
    body = _json(
        [
            "spc",
            "--scrap",
            ASSET,
            "--chart",
            "p",
            "--period",
            "1h",
            "--from",
            str(T0),
            "--to",
            str(T0 + 6 * HOUR),
            "--db",
            str(db),
            "--json",
        ]
    )
    assert body["kind"] == "p"
    assert body["points"] == 6
    assert [v["index"] for v in body["violations"] if v["rule"] == 1] == [3]  # type: ignore[attr-defined]


def test_nab_machine_temperature(shared_datasets: Path) -> None:
    """A real industrial sensor (NAB machine temperature, 5-minute samples): I-MR of hourly
    means with limits frozen on the first 100 hours; the known failures push the hourly
    means far below the lower limit."""
    path = (
        shared_datasets
        / "nab"
        / "data"
        / "realKnownCause"
        / "machine_temperature_system_failure.csv"
    )
    body = _json(
        [
            "spc",
            "--data",
            str(path),
            "--value",
            "value",
            "--time",
            "timestamp",
            "--period",
            "1h",
            "--baseline",
            "100",
            "--only",
            "1",
            "--json",
        ]
    )
    assert body["points"] > 1800
    low = [
        v
        for v in body["violations"]
        if v["series"] == "x" and v["value"] < body["series"][0]["lcl"]
    ]  # type: ignore[index,attr-defined]
    # 2014-02-08/09, inside NAB's last labelled anomaly window, the machine runs cold
    assert any(1391817600000 <= v["ts_ms"] < 1391990400000 for v in low)
