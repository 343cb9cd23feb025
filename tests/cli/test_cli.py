"""The ``andon`` command as a user types it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from andon.cli import app
from andon.historian import AssetInfo, DuckDBHistorian, WriteBatch
from andon.signals import CountUpdate, StateChange

runner = CliRunner()
T0 = 1_763_712_000_000
M1 = "acme/p1/mach/l1/m1"


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    import typer.main

    command = typer.main.get_command(group)  # type: ignore[arg-type]
    found = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        found.append((*prefix, name))
        found.extend((*prefix, name, inner) for inner in getattr(sub, "commands", {}))
    return found


@pytest.mark.parametrize("command", _commands(app), ids=lambda c: " ".join(c) or "andon")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "plant.duckdb"
    historian = DuckDBHistorian(path)
    batch = WriteBatch.empty()
    batch.states += [StateChange(M1, T0, 10000), StateChange(M1, T0 + 1_800_000, 180000)]
    batch.counts += [CountUpdate(M1, T0, 0, 0, 0), CountUpdate(M1, T0 + 1_799_000, 80, 78, 2)]
    historian.write(batch)
    historian.upsert_assets([AssetInfo(M1, 20.0)])
    historian.close()
    return path


def test_oee_json_gives_the_iso_22400_elements(db: Path) -> None:
    args = [
        "oee",
        "--db",
        str(db),
        "--asset",
        M1,
        "--from",
        "2025-11-21T08:00:00Z",
        "--to",
        "2025-11-21T09:00:00Z",
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["availability"] == pytest.approx(0.5)
    assert body["performance"] == pytest.approx(80 * 20 / 1800)
    assert body["quality"] == pytest.approx(78 / 80)


def test_oee_table_for_people(db: Path) -> None:
    args = ["oee", "--db", str(db), "--asset", M1, "--from", str(T0), "--to", str(T0 + 3_600_000)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "50.0 %" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday", "--to", "2025-11-21T09:00:00Z"], "--from"),
        (["--from", "2025-11-21T09:00:00Z", "--to", "2025-11-21T08:00:00Z"], "after"),
    ],
)
def test_bad_input_is_one_clear_line(db: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["oee", "--db", str(db), "--asset", M1, *args])
    assert result.exit_code == 1
    assert "error:" in result.output
    assert message in result.output


def test_missing_database_is_reported(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "oee",
            "--db",
            str(tmp_path / "none.duckdb"),
            "--asset",
            M1,
            "--from",
            str(T0),
            "--to",
            str(T0 + 1000),
        ],
    )
    assert result.exit_code == 1
    assert "no historian" in result.output
