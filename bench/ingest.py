"""Ingest throughput: MQTT messages through a real broker into DuckDB and PostgreSQL.

Phases, each in a fresh process so its peak RSS is its own:
- raw: a paho subscriber that only counts messages (the ceiling of a Python MQTT client);
- andon -> DuckDB and andon -> PostgreSQL: the same subscription feeding andon's pipeline
  (decode, validate, dedupe, batch, write), timed until the last sample is committed;
- bare writes: the same rows written with no pipeline at all, an Arrow insert into DuckDB
  and a binary COPY into a plain PostgreSQL table (the ceiling of each database here).

Wall-clock rates depend on what else the machine runs; the CPU time of each phase's process
(µs per message, samples per CPU-second) does much less, so both are printed. The PostgreSQL
server's own CPU is not in it.

Mode ``live`` (default) publishes while the worker consumes (true end to end, the publisher
shares the 2 cores); mode ``drain`` queues every message at the broker first and then
measures how fast the worker empties it (the worker's own capacity).

    .venv/bin/python bench/ingest.py [--messages 200000] [--values 10] [--mode live|drain]
        [--historian both|duckdb|postgresql] [--pg postgresql://postgres@127.0.0.1/test]

PostgreSQL runs in a schema of its own, dropped afterwards. The last line is
``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import paho.mqtt.client as paho
import psycopg
import pyarrow as pa
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from andon.broker import EmbeddedBroker
from andon.config import IngestSettings, broker_address
from andon.connect import MqttSource, MqttSubscription
from andon.historian import DuckDBHistorian, PostgresHistorian
from andon.historian.postgres import copy_buffer
from andon.ingest import Pipeline

PUB_QOS = 0  # live mode; drain mode publishes with QoS 1 (brokers do not queue QoS 0)
ASSETS = [f"acme/plant1/area{a}/line{a}/machine{m}" for a in range(2) for m in range(10)]
T0 = 1_763_700_000_000


def payloads(n: int, values: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        asset = ASSETS[i % len(ASSETS)]
        body = {
            "ts": T0 + (i // len(ASSETS)) * 1000,
            "seq": i // len(ASSETS),
            "values": {f"tag{k}_c": 20.0 + (i * 7 + k) % 97 * 0.5 for k in range(values)},
        }
        out.append((f"andon/v1/{asset}/metrics", orjson.dumps(body)))
    return out


def publish(url: str, n: int, values: int, started: Any, qos: int = 1) -> None:
    messages = payloads(n, values)
    host, port = broker_address(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    started.set()
    pending: deque[paho.MQTTMessageInfo] = deque()
    for topic, payload in messages:
        pending.append(client.publish(topic, payload, qos=qos))
        if qos and len(pending) > 20_000:  # paho's 16-bit message ids must not wrap in flight
            pending.popleft().wait_for_publish(timeout=600)
    for info in pending:
        info.wait_for_publish(timeout=600)
    client.disconnect()
    client.loop_stop()


def subscription(url: str, client_id: str) -> MqttSubscription:
    host, port = broker_address(url)
    return MqttSubscription(host, port, client_id=client_id, session_expiry_s=600)


def register_session(url: str, client_id: str) -> None:
    """Create a persistent session and leave, so the broker queues messages for it."""
    host, port = broker_address(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 600
    client.connect(host, port, clean_start=False, properties=props)
    client.loop_start()
    client.subscribe("andon/v1/#", qos=1)
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()


def open_target(kind: str, tmp: str, pg_url: str, schema: str) -> Any:
    if kind == "duckdb":
        return DuckDBHistorian(Path(tmp) / "bench.duckdb")
    if kind == "postgresql":
        return PostgresHistorian(pg_url, schema=schema)
    return None


def run_phase(kind: str, args: argparse.Namespace, url: str, schema: str, out: Any) -> None:
    n, values, mode = args.messages, args.values, args.mode
    client_id = f"bench-{kind}-{time.time_ns()}"
    done = threading.Event()
    tmp = tempfile.TemporaryDirectory()
    historian = open_target(kind, tmp.name, args.pg, schema)
    pipeline = Pipeline(historian, IngestSettings()) if historian else None
    count = 0

    def count_only(_topic: str, _payload: bytes) -> None:
        nonlocal count
        count += 1
        if count == n:
            done.set()

    handler = pipeline.submit if pipeline else count_only
    if pipeline:
        pipeline.start()
    ctx = mp.get_context("spawn")
    started = ctx.Event()
    qos = PUB_QOS if mode == "live" else 1
    publisher = ctx.Process(target=publish, args=(url, n, values, started, qos))
    if mode == "drain":
        register_session(url, client_id)
        publisher.start()
        publisher.join()
    source = MqttSource(subscription(url, client_id), handler)
    t_start, cpu_start = time.perf_counter(), _cpu_s()
    source.start()
    if mode == "live":
        publisher.start()
        started.wait(30)
        t_start, cpu_start = time.perf_counter(), _cpu_s()
    if pipeline:
        while source.messages < n:
            time.sleep(0.01)
        pipeline.flush()
    else:
        done.wait(600)
    elapsed, cpu = time.perf_counter() - t_start, _cpu_s() - cpu_start
    source.stop()
    if mode == "live":
        publisher.join()
    written = pipeline.stats.samples_written if pipeline else count * values
    if pipeline:
        pipeline.close()
    if historian:
        historian.close()
    tmp.cleanup()
    out.put(_result(kind, elapsed, source.messages, written, cpu))


def _cpu_s() -> float:
    """CPU seconds of this process (all its threads, DuckDB's included; not the PG server)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _result(
    kind: str, seconds: float, messages: int, samples: int, cpu: float = 0.0
) -> dict[str, float | str]:
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "kind": kind,
        "seconds": seconds,
        "messages": messages,
        "samples": samples,
        "cpu_s": cpu,
        "rss_mb": rss_mb,
    }


def sample_rows(n: int, values: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows andon writes for the benchmark's messages: (tag id, ts ms, value)."""
    i = np.repeat(np.arange(n), values)
    k = np.tile(np.arange(values), n)
    tag_ids = (i % len(ASSETS)) * values + k + 1
    stamps = T0 + (i // len(ASSETS)) * 1000
    return tag_ids.astype(np.int32), stamps.astype(np.int64), 20.0 + (i * 7 + k) % 97 * 0.5


def bare_writes(kind: str, args: argparse.Namespace, _url: str, schema: str, out: Any) -> None:
    """The same rows in one bulk statement: Arrow into DuckDB, binary COPY into PostgreSQL."""
    tag_ids, stamps, values = sample_rows(args.messages, args.values)
    if kind == "bare-duckdb":
        tmp = tempfile.TemporaryDirectory()
        con = duckdb.connect(str(Path(tmp.name) / "bare.duckdb"))
        con.execute("CREATE TABLE samples (tag_id INTEGER, ts TIMESTAMP, value DOUBLE)")
        t = time.perf_counter()
        table = pa.table(
            {"tag_id": tag_ids, "ts": pa.array(stamps, pa.timestamp("ms")), "value": values}
        )
        con.register("rows", table)
        con.execute("INSERT INTO samples SELECT * FROM rows")
        elapsed = time.perf_counter() - t
        con.close()
        tmp.cleanup()
    else:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute(
                "CREATE TABLE bare_samples (tag_id INTEGER, ts TIMESTAMPTZ, value DOUBLE PRECISION)"
            )
            t = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy("COPY bare_samples FROM STDIN (FORMAT BINARY)") as cp,
            ):
                cp.write(copy_buffer(tag_ids, stamps, values))
            elapsed = time.perf_counter() - t
    out.put(_result(kind, elapsed, args.messages, len(tag_ids)))


def measure(
    target: Any, kind: str, args: argparse.Namespace, url: str, schema: str
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    process = ctx.Process(target=target, args=(kind, args, url, schema, out))
    process.start()
    result: dict[str, Any] = out.get(timeout=1800)
    process.join()
    return result


def drop_schema(pg_url: str, schema: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--values", type=int, default=10, help="values per metrics message")
    parser.add_argument("--mode", choices=["live", "drain"], default="live")
    parser.add_argument("--broker", help="mqtt://host:port; default: a private mosquitto")
    parser.add_argument("--historian", choices=["both", "duckdb", "postgresql"], default="both")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    kinds = ["duckdb", "postgresql"] if args.historian == "both" else [args.historian]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    broker = None
    url = args.broker
    if url is None:
        broker = EmbeddedBroker(kind="mosquitto", max_queued=args.messages * 2)
        broker.start()
        url = broker.url
    results: dict[str, dict[str, Any]] = {}
    try:
        results["raw"] = measure(run_phase, "raw", args, url, schema)
        for kind in kinds:
            results[kind] = measure(run_phase, kind, args, url, schema)
            bare = "bare-duckdb" if kind == "duckdb" else "bare-postgresql"
            results[bare] = measure(bare_writes, bare, args, url, schema)
    finally:
        if broker:
            broker.stop()
        if "postgresql" in kinds:
            drop_schema(args.pg, schema)
    report(args, url, results, kinds)


def report(
    args: argparse.Namespace, url: str, results: dict[str, dict[str, Any]], kinds: list[str]
) -> None:
    raw = results["raw"]
    raw_rate = raw["messages"] / raw["seconds"]
    expected = args.messages * args.values
    print(f"mode {args.mode}, {args.messages:,} messages x {args.values} values via {url}")
    raw_cpu_us = raw["cpu_s"] / raw["messages"] * 1e6
    print(
        f"raw subscriber      : {raw_rate:10,.0f} msg/s  ({raw['seconds']:.2f} s, "
        f"{raw_cpu_us:.1f} CPU-µs/msg, peak RSS {raw['rss_mb']:.0f} MB)"
    )
    fields = [
        f"RESULT mode={args.mode} messages={args.messages} values={args.values}",
        f"raw_msgs_per_s={raw_rate:.0f} raw_cpu_us_per_msg={raw_cpu_us:.1f}",
    ]
    for kind in kinds:
        got = results[kind]
        bare = results["bare-duckdb" if kind == "duckdb" else "bare-postgresql"]
        msgs, samples = got["messages"] / got["seconds"], got["samples"] / got["seconds"]
        bare_rate = bare["samples"] / bare["seconds"]
        short = "duckdb" if kind == "duckdb" else "pg"
        print(
            f"andon -> {kind:<10}: {msgs:10,.0f} msg/s = {samples:,.0f} samples/s  "
            f"({got['seconds']:.2f} s, peak RSS {got['rss_mb']:.0f} MB, "
            f"{got['samples']:,.0f}/{expected:,} samples written); "
            f"{msgs / raw_rate:.2f} of the raw subscriber"
        )
        cpu_us = got["cpu_s"] / got["messages"] * 1e6
        per_cpu_s = got["samples"] / got["cpu_s"]
        print(
            f"  CPU of the andon process: {cpu_us:.1f} µs/msg (raw {raw_cpu_us:.1f}) = "
            f"{per_cpu_s:,.0f} samples per CPU-second"
        )
        print(
            f"bare {'Arrow insert' if kind == 'duckdb' else 'binary COPY '}    : "
            f"{bare_rate:10,.0f} rows/s ({bare['seconds']:.2f} s for {bare['samples']:,} rows)"
        )
        fields += [
            f"{short}_samples_per_s={samples:.0f}",
            f"{short}_msgs_per_s={msgs:.0f}",
            f"{short}_ratio={msgs / raw_rate:.3f}",
            f"{short}_samples_written={got['samples']:.0f}",
            f"{short}_bare_rows_per_s={bare_rate:.0f}",
            f"{short}_of_bare={samples / bare_rate:.3f}",
            f"{short}_peak_rss_mb={got['rss_mb']:.0f}",
            f"{short}_cpu_us_per_msg={cpu_us:.1f}",
            f"{short}_samples_per_cpu_s={per_cpu_s:.0f}",
        ]
    fields += [f"expected={expected}", f"raw_peak_rss_mb={raw['rss_mb']:.0f}"]
    print(" ".join(fields))


if __name__ == "__main__":
    main()
