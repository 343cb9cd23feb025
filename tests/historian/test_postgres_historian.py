"""What only the PostgreSQL historian does: partitions, migrations, idempotent samples,
outages that heal, and the placeholder translation of the SQL door."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import pytest

from andon.errors import HistorianUnavailable
from andon.historian import PostgresHistorian, WriteBatch, open_historian
from andon.historian.postgres import copy_buffer, to_psycopg
from andon.signals import Metrics, Sample

from .conftest import PG_URL

pytestmark = pytest.mark.integration
T0 = 1_763_700_000_000
DAY = 86_400_000
M1 = "acme/p1/mach/l1/m1"


@pytest.fixture
def pg(pg_schema: str) -> Iterator[PostgresHistorian]:
    historian = PostgresHistorian(PG_URL, schema=pg_schema)
    yield historian
    historian.close()


def batch(*metrics: Metrics, samples: tuple[Sample, ...] = ()) -> WriteBatch:
    return WriteBatch(list(metrics), list(samples), [], [], [])


def test_a_replayed_batch_writes_no_sample_twice(pg: PostgresHistorian) -> None:
    first = batch(*(Metrics(M1, T0 + i * 1000, {"v": float(i)}) for i in range(100)))
    assert pg.write(first) == 100
    assert pg.write(first) == 0  # an ambiguous commit replayed from the disk buffer
    overlap = batch(*(Metrics(M1, T0 + i * 1000, {"v": -1.0}) for i in range(90, 110)))
    assert pg.write(overlap) == 10  # only the new instants; the first value is kept
    tag = pg.tags()[0].id
    got = pg.series(tag, T0, T0 + 200_000)
    assert len(got) == 110
    assert got[95] == (T0 + 95_000, 95.0)
    assert pg.latest() == {f"{M1}/v": (T0 + 109_000, -1.0)}


def test_samples_land_in_daily_partitions_created_on_demand(pg: PostgresHistorian) -> None:
    pg.write(batch(*(Metrics(M1, T0 + d * DAY, {"v": 1.0}) for d in (-1, 0, 0, 2))))
    partitions = pg.sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'samples'::regclass ORDER BY 1"
    )
    day = T0 // DAY
    assert [name for (name,) in partitions] == [f"samples_d{d}" for d in (day - 1, day, day + 2)]


def test_migrations_run_once_and_two_workers_share_tag_ids(pg_schema: str) -> None:
    workers = [PostgresHistorian(PG_URL, schema=pg_schema) for _ in range(2)]
    try:
        results: list[int] = []

        def write(worker: PostgresHistorian, offset: int) -> None:
            metrics = [Metrics(M1, T0 + offset + i, {"a": 1.0, "b": 2.0}) for i in range(50)]
            results.append(worker.write(batch(*metrics)))

        threads = [
            threading.Thread(target=write, args=(w, i * 1000)) for i, w in enumerate(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [100, 100]
        assert [(t.asset, t.name) for t in workers[0].tags()] == [(M1, "a"), (M1, "b")]
        versions = workers[1].sql("SELECT version FROM schema_migrations ORDER BY version")
        assert versions == [(1,), (2,)]
    finally:
        for worker in workers:
            worker.close()


def test_the_schema_can_come_from_the_url(pg_schema: str) -> None:
    parts = urlsplit(PG_URL)
    url = urlunsplit(parts._replace(query=f"schema={pg_schema}"))
    historian = open_historian(url)
    assert isinstance(historian, PostgresHistorian)
    historian.write(batch(samples=(Sample(M1, "x", T0, 1.0),)))
    historian.close()
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute(f'SELECT count(*) FROM "{pg_schema}".samples').fetchone()
    assert rows == (1,)


def test_an_outage_is_unavailable_then_heals_without_a_new_historian() -> None:
    name = f"andon_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    historian = PostgresHistorian(url, connect_timeout_s=1)
    try:
        historian.write(batch(Metrics(M1, T0, {"v": 1.0})))
        _allow(name, False)
        with pytest.raises(HistorianUnavailable):
            historian.write(batch(Metrics(M1, T0 + 1000, {"v": 2.0})))
        with pytest.raises(HistorianUnavailable):
            historian.latest()
        _allow(name, True)
        historian.write(batch(Metrics(M1, T0 + 1000, {"v": 2.0})))
        assert historian.latest() == {f"{M1}/v": (T0 + 1000, 2.0)}
    finally:
        historian.close()
        _allow(name, True)
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_lazy_historian_starts_while_the_database_is_away() -> None:
    name = f"andon_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{name}"))
    try:
        _allow(name, False)
        with pytest.raises(HistorianUnavailable):
            PostgresHistorian(url, connect_timeout_s=1)
        historian = PostgresHistorian(url, connect_timeout_s=1, lazy=True)
        with pytest.raises(HistorianUnavailable):
            historian.write(batch(Metrics(M1, T0, {"v": 1.0})))
        _allow(name, True)
        assert historian.write(batch(Metrics(M1, T0, {"v": 1.0}))) == 1  # migrated now
        historian.close()
    finally:
        _allow(name, True)
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _allow(name: str, allowed: bool) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
            )


def test_the_copy_stream_matches_what_postgres_reads(pg_schema: str) -> None:
    ids = np.array([1, 2, 2**31 - 1], np.int32)
    stamps = np.array([T0, T0 + 1, 946_684_800_000 - 1], np.int64)  # one before 2000-01-01
    values = np.array([0.1, -2.5e300, 7.0])
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE t (tag_id INTEGER, ts TIMESTAMPTZ, value FLOAT8)")
        with conn.cursor() as cur, cur.copy("COPY t FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(copy_buffer(ids, stamps, values))
        rows = conn.execute(
            "SELECT tag_id, (extract(epoch FROM ts) * 1000)::bigint, value FROM t ORDER BY ts"
        ).fetchall()
    assert sorted(rows) == sorted(zip(ids.tolist(), stamps.tolist(), values.tolist(), strict=True))


@pytest.mark.parametrize(
    ("statement", "translated"),
    [
        ("SELECT ? , ?", "SELECT %s , %s"),
        ("SELECT '?' || \"a?\" FROM t WHERE x = ?", "SELECT '?' || \"a?\" FROM t WHERE x = %s"),
        ("SELECT 'it''s ?' /* ? */ , ? -- ?\n, ?", "SELECT 'it''s ?' /* ? */ , %s -- ?\n, %s"),
        ("SELECT $$?$$, $q$ ? $q$, ?", "SELECT $$?$$, $q$ ? $q$, %s"),
        ("SELECT 100 % ?", "SELECT 100 %% %s"),
    ],
)
def test_placeholders_are_translated_outside_quotes_and_comments(
    statement: str, translated: str
) -> None:
    assert to_psycopg(statement) == translated
