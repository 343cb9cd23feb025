"""Kill andon with data waiting on disk, restart it: every sample lands exactly once.

Real processes and services: ``andon ingest`` as a subprocess, a Mosquitto of our own, and a
PostgreSQL database created for the test that we block (connections refused and cut) and
unblock. The shared server itself is never stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import paho.mqtt.client as paho
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from andon.broker import EmbeddedBroker

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PG_URL = os.environ.get("ANDON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TOPIC = "andon/v1/acme/p1/a/l1/m1/metrics"
T0 = 1_763_700_000_000


@pytest.fixture
def database() -> Iterator[str]:
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    name = f"andon_t_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def allow(name: str, allowed: bool) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
            )


def samples(url: str) -> tuple[int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT (tag_id, ts)) FROM samples").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_for(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


class Andon:
    """``andon ingest`` in a process of its own, its output in a file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "andon", "ingest", *args], stdout=out, stderr=out
            )
        wait_for(lambda: "ingesting from" in self.output())

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


def publish(port: int, seqs: range) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for seq in seqs:
        body = {"ts": T0 + seq * 1000, "seq": seq, "values": {"a": float(seq), "b": -1.0}}
        client.publish(TOPIC, orjson.dumps(body), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def test_restart_with_a_backlog_on_disk_loses_and_duplicates_nothing(
    database: str, tmp_path: Path
) -> None:
    url = urlunsplit(urlsplit(PG_URL)._replace(path=f"/{database}"))
    buffer = tmp_path / "buffer"
    with EmbeddedBroker(kind="mosquitto") as broker:
        args = ["--broker", broker.url, "--db", url, "--buffer", str(buffer)]
        args += ["--client-id", "andon-restart-test", "--every", "0.5"]
        andon = Andon(args, tmp_path / "andon.log")
        publish(broker.port, range(0, 100))
        wait_for(lambda: samples(url)[0] == 200)
        allow(database, False)  # PostgreSQL goes away mid-stream
        publish(broker.port, range(100, 200))
        wait_for(lambda: "historian DOWN" in andon.output())
        assert andon.stop() == 0  # SIGTERM: the open batch goes to disk too
        assert list(buffer.glob("*.batch")), andon.output()
        publish(broker.port, range(200, 300))  # andon is away: its session queues these
        allow(database, True)
        andon = Andon(args, tmp_path / "andon.log")
        wait_for(lambda: samples(url)[0] >= 600)
        time.sleep(0.5)  # anything extra would show up now
        assert andon.stop() == 0
    assert samples(url) == (600, 600), andon.output()
    assert not list(buffer.glob("*.batch"))
