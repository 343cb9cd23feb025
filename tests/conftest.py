"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from andon.historian import PostgresHistorian

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
PG_URL = os.environ.get("ANDON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets`` beside the clone.

    A user's clone may not have it: those tests skip, saying why. Under CI (``CI`` set, as
    ``.ci/run`` does) a missing folder is a failure, never a silent skip.
    """
    if not SHARED_DATASETS.is_dir():
        message = f"real datasets not found at {SHARED_DATASETS} (clone beside ../shared)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_DATASETS


def _postgres_admin() -> psycopg.Connection[tuple[object, ...]]:
    """A connection to the test server; skip locally, fail under CI when it is down."""
    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")


@pytest.fixture
def pg_historian() -> Iterator[PostgresHistorian]:
    """A PostgreSQL historian in a schema of its own, dropped afterwards."""
    _postgres_admin().close()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    historian = PostgresHistorian(PG_URL, schema=schema)
    try:
        yield historian
    finally:
        historian.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards (for subprocesses)."""
    name = f"andon_t_{uuid.uuid4().hex[:10]}"
    with _postgres_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
