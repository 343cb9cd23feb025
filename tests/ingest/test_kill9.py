"""``kill -9`` mid-stream, restart: every sample lands exactly once (DuckDB, a real broker).

Real processes: ``andon ingest`` as a subprocess against a Mosquitto of our own (its queue for
an absent session is large, unlike a stock broker's 1000). The worker acknowledges a message
only once its batch is committed, so what it held in memory when killed comes back from the
broker; what it had committed but not yet acknowledged comes back too and the historian
ignores it. A worker that acknowledged on receipt loses its open batch here.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from andon.broker import EmbeddedBroker

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ASSETS = [f"acme/p1/a/l1/m{m}" for m in range(4)]
T0 = 1_763_700_000_000
MESSAGES = 4000  # x 3 values
VALUES = 3
WRITTEN = re.compile(r"written ([\d,]+)")


def wait_for(condition: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


class Andon:
    """``andon ingest`` in a process of its own, its output in a file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.log = log
        self.start = log.stat().st_size if log.exists() else 0
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "andon", "ingest", *args], stdout=out, stderr=out
            )
        try:
            wait_for(lambda: "ingesting from" in self.output())
        except BaseException:
            self.end()
            raise

    def end(self) -> None:
        """Kill the process if it still runs (a failed test leaves nothing behind)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def output(self) -> str:
        return self.log.read_bytes()[self.start :].decode("utf-8", "replace")

    def written(self) -> int:
        """Samples this process has stored (its last status line)."""
        found = WRITTEN.findall(self.output())
        return int(found[-1].replace(",", "")) if found else 0


def publish(port: int, killed: threading.Event, done: threading.Event) -> None:
    """``MESSAGES`` QoS 1 messages, about 2000 a second, each with distinct (tag, ts).

    The last quarter waits for the kill, so that the stream goes on across it however
    slow a loaded machine makes the worker.
    """
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="kill9-pub", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = []
    for i in range(MESSAGES):
        asset = ASSETS[i % len(ASSETS)]
        n = i // len(ASSETS)
        body = {"ts": T0 + n * 1000, "seq": n, "values": {f"v{k}": float(i + k) for k in range(3)}}
        infos.append(client.publish(f"andon/v1/{asset}/metrics", orjson.dumps(body), qos=1))
        if i % 100 == 99:
            time.sleep(0.05)
        if i == MESSAGES * 3 // 4:
            killed.wait(120)
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()
    done.set()


def stored(db: Path) -> tuple[int, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT count(*), count(DISTINCT (tag_id, ts)) FROM samples").fetchall()
    return int(row[0][0]), int(row[0][1])


def test_kill_9_mid_stream_loses_nothing_and_stores_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "k.duckdb"
    log = tmp_path / "andon.log"
    expected = MESSAGES * VALUES
    workers: list[Andon] = []
    with EmbeddedBroker(kind="mosquitto", max_queued=100_000) as broker:
        args = ["--broker", broker.url, "--db", str(db), "--client-id", "andon-kill9"]
        args += ["--every", "0.1"]
        try:
            first = Andon(args, log)
            workers.append(first)
            killed, published = threading.Event(), threading.Event()
            publisher = threading.Thread(
                target=publish, args=(broker.port, killed, published), daemon=True
            )
            publisher.start()
            wait_for(lambda: first.written() >= 1500)  # some batches are committed ...
            first.process.send_signal(signal.SIGKILL)  # ... and more are in memory
            first.process.wait(timeout=30)
            killed.set()
            committed = stored(db)[0]
            assert 0 < committed < expected
            second = Andon(args, log)
            workers.append(second)
            publisher.join(timeout=120)
            assert published.is_set()
            wait_for(lambda: second.written() >= expected - committed)
            time.sleep(0.5)  # anything extra would land now
            second.process.send_signal(signal.SIGTERM)
            assert second.process.wait(timeout=30) == 0, second.output()
        finally:
            for worker in workers:
                worker.end()
    assert stored(db) == (expected, expected), log.read_text()
    assert second.written() == expected - committed
