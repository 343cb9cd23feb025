"""Alerts: severity, hysteresis, de-duplication, replay and restart, on DuckDB and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from andon.historian import DuckDBHistorian, PostgresHistorian
from andon.ml.alerts import Alert, AlertBook, AlertPolicy

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
    finally:
        historian.close()
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
