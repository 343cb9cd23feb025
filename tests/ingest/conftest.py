"""A PostgreSQL database of our own that tests may take down and bring back."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

PG_URL = os.environ.get("ANDON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class OwnDatabase:
    """A database created for one test: ``block()`` refuses and cuts every connection."""

    name: str
    url: str

    def block(self) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [self.name],
            )

    def unblock(self) -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def query(self, statement: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(statement).fetchall()


@pytest.fixture
def own_database() -> Iterator[OwnDatabase]:
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    name = f"andon_t_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    database = OwnDatabase(name, url)
    yield database
    database.unblock()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
