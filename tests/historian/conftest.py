"""Historian backends for the contract suite: DuckDB (file, memory) and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from andon.historian import DuckDBHistorian, PostgresHistorian

PG_URL = os.environ.get("ANDON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")

Opener = Callable[[], DuckDBHistorian | PostgresHistorian]


def _pg_reachable() -> None:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh schema in the test database, dropped afterwards."""
    _pg_reachable()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield schema
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


BACKENDS = [
    "duckdb-file",
    "duckdb-memory",
    pytest.param("postgresql", marks=pytest.mark.integration),
]


@pytest.fixture(params=BACKENDS)
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the same store again on each call (memory: one store per test)."""
    opened: list[DuckDBHistorian | PostgresHistorian] = []

    def open_duckdb_file() -> DuckDBHistorian | PostgresHistorian:
        opened.append(DuckDBHistorian(tmp_path / "h.duckdb"))
        return opened[-1]

    def open_memory() -> DuckDBHistorian | PostgresHistorian:
        opened.append(DuckDBHistorian(":memory:"))
        return opened[-1]

    if request.param == "postgresql":
        schema = request.getfixturevalue("pg_schema")

        def open_pg() -> DuckDBHistorian | PostgresHistorian:
            opened.append(PostgresHistorian(PG_URL, schema=schema))
            return opened[-1]

        yield open_pg
    else:
        yield open_duckdb_file if request.param == "duckdb-file" else open_memory
    for historian in opened:
        historian.close()


@pytest.fixture
def historian(opener: Opener) -> DuckDBHistorian | PostgresHistorian:
    return opener()
