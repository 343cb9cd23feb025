"""Ingest throughput: MQTT messages through a real broker into the DuckDB historian.

Two phases, each in a fresh process so its peak RSS is its own:
- raw: a paho subscriber that only counts messages (the ceiling of a Python MQTT client);
- andon: the same subscription feeding andon's pipeline (decode, validate, dedupe, batch,
  Arrow write into DuckDB), timed until the last sample is committed.

Mode ``live`` (default) publishes while the worker consumes (true end to end, the publisher
shares the 2 cores); mode ``drain`` queues every message at the broker first and then
measures how fast the worker empties it (the worker's own capacity).

    .venv/bin/python bench/ingest.py [--messages 200000] [--values 10] [--mode live|drain]

The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import threading
import time
from pathlib import Path

import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from andon.broker import EmbeddedBroker
from andon.config import IngestSettings, broker_address
from andon.connect import MqttSource, MqttSubscription
from andon.historian import DuckDBHistorian
from andon.ingest import Pipeline

PUB_QOS = 0
ASSETS = [f"acme/plant1/area{a}/line{a}/machine{m}" for a in range(2) for m in range(10)]


def payloads(n: int, values: int) -> list[tuple[str, bytes]]:
    t0 = 1_763_700_000_000
    out = []
    for i in range(n):
        asset = ASSETS[i % len(ASSETS)]
        body = {
            "ts": t0 + (i // len(ASSETS)) * 1000,
            "seq": i // len(ASSETS),
            "values": {f"tag{k}_c": 20.0 + (i * 7 + k) % 97 * 0.5 for k in range(values)},
        }
        out.append((f"andon/v1/{asset}/metrics", orjson.dumps(body)))
    return out


def publish(url: str, n: int, values: int, started: mp.Event, qos: int = 1) -> None:  # type: ignore[valid-type]
    messages = payloads(n, values)
    host, port = broker_address(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    started.set()
    last = None
    for topic, payload in messages:
        last = client.publish(topic, payload, qos=qos)
    assert last is not None
    last.wait_for_publish(timeout=600)
    client.disconnect()
    client.loop_stop()


def subscription(url: str, client_id: str) -> MqttSubscription:
    host, port = broker_address(url)
    return MqttSubscription(host, port, client_id=client_id, session_expiry_s=600)


def register_session(url: str, client_id: str) -> None:
    """Create a persistent session and leave, so the broker queues messages for it."""
    host, port = broker_address(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 600
    client.connect(host, port, clean_start=False, properties=props)
    client.loop_start()
    client.subscribe("andon/v1/#", qos=1)[1]
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()


def run_phase(kind: str, url: str, n: int, values: int, mode: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    client_id = f"bench-{kind}-{time.time_ns()}"
    done = threading.Event()
    tmp = tempfile.TemporaryDirectory()
    historian = DuckDBHistorian(Path(tmp.name) / "bench.duckdb") if kind == "andon" else None
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
    started = mp.get_context("spawn").Event()
    if mode == "drain":
        register_session(url, client_id)
        publisher = mp.get_context("spawn").Process(
            target=publish, args=(url, n, values, started, PUB_QOS)
        )
        publisher.start()
        publisher.join()
    source = MqttSource(subscription(url, client_id), handler)
    t_start = time.perf_counter()
    source.start()
    if mode == "live":
        publisher = mp.get_context("spawn").Process(
            target=publish, args=(url, n, values, started, PUB_QOS)
        )
        publisher.start()
        started.wait(30)
        t_start = time.perf_counter()
    if pipeline:
        while source.messages < n:
            time.sleep(0.01)
        pipeline.flush()
    else:
        done.wait(600)
    elapsed = time.perf_counter() - t_start
    source.stop()
    if mode == "live":
        publisher.join()
    written = pipeline.stats.samples_written if pipeline else count * values
    if pipeline:
        pipeline.close()
    if historian:
        historian.close()
    tmp.cleanup()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put(
        {
            "kind": kind,
            "seconds": elapsed,
            "messages": source.messages,
            "samples": written,
            "rss_mb": rss_mb,
        }
    )


def measure(kind: str, url: str, n: int, values: int, mode: str) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    process = ctx.Process(target=run_phase, args=(kind, url, n, values, mode, out))
    process.start()
    result: dict[str, float] = out.get(timeout=900)
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--values", type=int, default=10, help="values per metrics message")
    parser.add_argument("--mode", choices=["live", "drain"], default="live")
    parser.add_argument("--broker", help="mqtt://host:port; default: a private mosquitto")
    args = parser.parse_args()
    broker = None
    url = args.broker
    if url is None:
        broker = EmbeddedBroker(kind="mosquitto", max_queued=args.messages * 2)
        broker.start()
        url = broker.url
    try:
        raw = measure("raw", url, args.messages, args.values, args.mode)
        andon = measure("andon", url, args.messages, args.values, args.mode)
    finally:
        if broker:
            broker.stop()
    raw_rate = raw["messages"] / raw["seconds"]
    andon_msgs = andon["messages"] / andon["seconds"]
    andon_samples = andon["samples"] / andon["seconds"]
    expected = args.messages * args.values
    print(f"mode {args.mode}, {args.messages:,} messages x {args.values} values via {url}")
    print(
        f"raw subscriber : {raw_rate:10,.0f} msg/s  ({raw['seconds']:.2f} s, "
        f"peak RSS {raw['rss_mb']:.0f} MB)"
    )
    print(
        f"andon -> DuckDB: {andon_msgs:10,.0f} msg/s = {andon_samples:,.0f} samples/s  "
        f"({andon['seconds']:.2f} s, peak RSS {andon['rss_mb']:.0f} MB, "
        f"{andon['samples']:,.0f}/{expected:,} samples written)"
    )
    print(
        f"RESULT mode={args.mode} messages={args.messages} values={args.values} "
        f"samples_per_s={andon_samples:.0f} andon_msgs_per_s={andon_msgs:.0f} "
        f"raw_msgs_per_s={raw_rate:.0f} ratio={andon_msgs / raw_rate:.3f} "
        f"samples_written={andon['samples']:.0f} expected={expected} "
        f"peak_rss_mb={andon['rss_mb']:.0f} raw_peak_rss_mb={raw['rss_mb']:.0f}"
    )


if __name__ == "__main__":
    main()
