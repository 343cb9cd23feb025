"""Alerts: severity, hysteresis, de-duplication, replay and restart, on DuckDB and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from andon.historian import DuckDBHistorian, PostgresHistorian
from andon.ml.alerts import Alert, AlertBook, AlertPolicy, acknowledge, event_of

M1 = "acme/p1/mach/l1/cnc1"
RISK = AlertPolicy(warning=0.5, critical=0.8, clear=0.3, confirm=3, clear_after_ms=2000)


@pytest.fixture
def historian() -> Iterator[DuckDBHistorian]:
    h = DuckDBHistorian(":memory:")
    yield h
    h.close()


def _feed(
    book: AlertBook, values: list[float], policy: AlertPolicy = RISK, t0: int = 0
) -> list[Alert]:
    changes = []
    for i, value in enumerate(values):
        changed = book.observe(M1, "failure_risk", "", t0 + i * 1000, value, policy)
        if changed is not None:
            changes.append(changed)
    return changes


def test_an_alert_needs_confirmation(historian: DuckDBHistorian) -> None:
    book = AlertBook(historian)
    assert _feed(book, [0.9, 0.9, 0.1, 0.9, 0.9, 0.1]) == []
    assert book.alerts() == []


def test_one_alert_per_episode_escalated_then_cleared_with_hysteresis(
    historian: DuckDBHistorian,
) -> None:
    raised: list[Alert] = []
    book = AlertBook(historian, on_alert=raised.append)
    values = [0.6, 0.6, 0.6, 0.7, 0.9, 0.6, 0.4, 0.45, 0.2, 0.2, 0.2, 0.25]
    changes = _feed(book, values)
    assert [(c.severity, c.closed_ms) for c in changes] == [
        ("warning", None),  # opened at the third reading
        ("critical", None),  # escalated, same episode
        ("critical", 10000),  # 0.4, 0.45 are not below clear: calm from 8 s, closed 2 s later
    ]
    assert raised == changes
    [stored] = book.alerts()
    assert (stored.opened_ms, stored.peak, stored.closed_ms) == (2000, 0.9, 10000)


def test_a_second_episode_is_a_second_alert(historian: DuckDBHistorian) -> None:
    book = AlertBook(historian)
    _feed(book, [0.6] * 3 + [0.1] * 4 + [0.9] * 3)
    alerts = book.alerts()
    assert [a.severity for a in alerts] == ["critical", "warning"]  # newest first
    assert alerts[1].closed_ms is not None
    assert alerts[0].closed_ms is None


def test_replaying_the_same_readings_rewrites_the_same_rows(historian: DuckDBHistorian) -> None:
    values = [0.6] * 4 + [0.1] * 4
    _feed(AlertBook(historian), values)
    _feed(AlertBook(historian), values)
    assert len(AlertBook(historian).alerts()) == 1


def test_an_open_alert_survives_a_restart(historian: DuckDBHistorian) -> None:
    _feed(AlertBook(historian), [0.6] * 4)
    book = AlertBook(historian)  # a new process: the open alert is resumed, not duplicated
    changes = _feed(book, [0.7, 0.9, 0.9], t0=10_000)
    assert [c.severity for c in changes] == ["critical"]
    assert len(book.alerts(open_only=True)) == 1


def test_low_is_bad_for_remaining_useful_life(historian: DuckDBHistorian) -> None:
    rul = AlertPolicy(50, 20, clear=70, confirm=1, clear_after_ms=0, higher_is_worse=False)
    book = AlertBook(historian)
    changes = [book.observe(M1, "rul", "", i, v, rul) for i, v in enumerate([90, 40, 15, 60, 80])]
    assert [c.severity if c else None for c in changes] == [
        None,
        "warning",
        "critical",
        None,
        "critical",
    ]
    assert book.alerts()[0].closed_ms == 4


def test_alerts_filter_by_asset_and_state(historian: DuckDBHistorian) -> None:
    book = AlertBook(historian)
    policy = AlertPolicy(warning=0.5, critical=0.8, clear=0.3, confirm=1, clear_after_ms=0)
    book.observe(M1, "anomaly", "torque_nm", 1, 0.995, policy)
    book.observe("acme/p1/form/l2/press1", "anomaly", "force_kn", 2, 0.99, policy)
    book.observe("acme/p1/form/l2/press1", "anomaly", "force_kn", 3, 0.0, policy)
    assert [a.asset for a in book.alerts(asset="acme/p1/mach")] == [M1]
    assert [a.tag for a in book.alerts(open_only=True)] == ["torque_nm"]
    assert [a.tag for a in book.alerts(since_ms=3)] == ["force_kn"]


def test_listeners_hear_what_happened(historian: DuckDBHistorian) -> None:
    heard: list[str] = []
    book = AlertBook(historian)
    book.subscribe(lambda alert: heard.append(event_of(alert)))
    book.subscribe(lambda alert: 1 / 0)  # a failing listener does not stop the others
    _feed(book, [0.6, 0.6, 0.6, 0.9, 0.1, 0.1, 0.1, 0.1])
    assert heard == ["raised", "escalated", "cleared"]


def test_an_acknowledgement_is_kept_through_updates_and_restarts(tmp_path: Path) -> None:
    path = tmp_path / "plant.duckdb"
    first = DuckDBHistorian(path)
    _feed(AlertBook(first), [0.6] * 4)
    [alert] = AlertBook(first).alerts()
    acked = acknowledge(first, alert.id, "user:ann", 50_000)
    assert acked is not None
    assert (acked.acked_ms, acked.acked_by, acked.closed_ms) == (50_000, "user:ann", None)
    assert event_of(acked) == "acknowledged"
    again = acknowledge(first, alert.id, "user:bob", 60_000)  # the first one stays
    assert again is not None
    assert (again.acked_ms, again.acked_by) == (50_000, "user:ann")
    assert acknowledge(first, "no|such|alert|1", "user:ann", 1) is None
    first.close()
    second = DuckDBHistorian(path)  # a restart: the book resumes the open alert
    try:
        book = AlertBook(second)
        _feed(book, [0.9, 0.9, 0.1, 0.1, 0.1, 0.1], t0=10_000)  # escalated, then cleared
        [stored] = book.alerts()
        assert (stored.severity, stored.acked_by, stored.acked_ms) == (
            "critical",
            "user:ann",
            50_000,
        )
        assert stored.closed_ms is not None
        assert stored.to_dict()["acked_by"] == "user:ann"
    finally:
        second.close()


def test_a_table_from_before_acknowledgements_gets_the_columns(
    historian: DuckDBHistorian,
) -> None:
    historian.sql(
        "CREATE TABLE alerts (id VARCHAR PRIMARY KEY, asset VARCHAR NOT NULL, "
        "kind VARCHAR NOT NULL, tag VARCHAR NOT NULL, severity VARCHAR NOT NULL, "
        "opened_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, closed_ms BIGINT, "
        "value DOUBLE PRECISION NOT NULL, peak DOUBLE PRECISION NOT NULL, message VARCHAR NOT NULL)"
    )
    historian.sql(
        "INSERT INTO alerts VALUES ('a|failure_risk||1', 'a', 'failure_risk', '', 'warning', "
        "1, 1, NULL, 0.6, 0.6, 'old')"
    )
    book = AlertBook(historian)
    [old] = book.alerts()
    assert (old.message, old.acked_ms) == ("old", None)
    assert acknowledge(historian, old.id, "key:1", 5) is not None
    assert book.alerts()[0].acked_by == "key:1"


@pytest.mark.integration
def test_alerts_on_postgresql() -> None:
    url = os.environ.get("ANDON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    schema = f"ml_{uuid.uuid4().hex[:12]}"
    historian = PostgresHistorian(url, schema=schema)
    try:
        book = AlertBook(historian)
        _feed(book, [0.6, 0.6, 0.6, 0.9, 0.1, 0.1, 0.1, 0.1])
        _feed(AlertBook(historian), [0.6, 0.6, 0.6, 0.9, 0.1, 0.1, 0.1, 0.1])
        [alert] = AlertBook(historian).alerts()
        assert (alert.severity, alert.peak, alert.closed_ms) == ("critical", 0.9, 6000)
        acked = acknowledge(historian, alert.id, "user:ann", 7000)
        assert acked is not None
        assert AlertBook(historian).alerts()[0].acked_by == "user:ann"
    finally:
        historian.close()
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
