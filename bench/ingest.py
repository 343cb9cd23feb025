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
measures how fast the worker empties it (the worker's own capacity); mode ``soak`` publishes
``--rate`` messages a second for ``--minutes`` and prints the worker's RSS every
``--rss-every`` seconds with the slope of the second half (MB per minute; flat is ~0).
``--diagnose`` adds, on each soak line, where the resident memory is: anonymous vs file-backed
pages (shared libraries), glibc's heap in use and free-but-kept (``mallinfo2``), the messages
held in memory unacknowledged, DuckDB's WAL and, with ``--trace-malloc``, Python's own heap
(tracemalloc, slow: it changes the rates) with the sites that grew most at the end.

The andon phases run the worker as ``andon ingest`` does: QoS 1 acknowledged after commit,
DuckDB's buffer pool capped at the ingest service's limit, its file reopened as the service
reopens it. Peak RSS is the high-water mark of the phase's own process (``ru_maxrss``); the
resident size is also sampled every ``--rss-every`` seconds.

    .venv/bin/python bench/ingest.py [--messages 200000] [--values 10]
        [--mode live|drain|soak] [--minutes 10] [--rate 3000]
        [--historian both|duckdb|postgresql] [--pg postgresql://postgres@127.0.0.1/test]
        [--diagnose] [--trace-malloc]

PostgreSQL runs in a schema of its own, dropped afterwards. The last line is
``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import multiprocessing as mp
import queue
import resource
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections import deque
from collections.abc import Callable
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
from andon.ingest.service import DUCKDB_MEMORY_LIMIT, DUCKDB_REOPEN

PUB_QOS = 0  # live mode; drain mode publishes with QoS 1 (brokers do not queue QoS 0)
ASSETS = [f"acme/plant1/area{a}/line{a}/machine{m}" for a in range(2) for m in range(10)]
T0 = 1_763_700_000_000


def payloads(n: int, values: int, first: int = 0) -> list[tuple[str, bytes]]:
    out = []
    for i in range(first, first + n):
        asset = ASSETS[i % len(ASSETS)]
        body = {
            "ts": T0 + (i // len(ASSETS)) * 1000,
            "seq": i // len(ASSETS),
            "values": {f"tag{k}_c": 20.0 + (i * 7 + k) % 97 * 0.5 for k in range(values)},
        }
        out.append((f"andon/v1/{asset}/metrics", orjson.dumps(body)))
    return out


def _publisher(url: str, started: Any) -> paho.Client:
    """A connected QoS 1 publisher (1,000 in flight, no client-side queue limit), running."""
    host, port = broker_address(url)
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    started.set()
    return client


def publish_paced(url: str, n: int, values: int, started: Any, rate: float) -> None:
    """Publish ``n`` QoS 1 messages at ``rate`` a second, made a second's worth at a time."""
    client = _publisher(url, started)
    pending: deque[paho.MQTTMessageInfo] = deque()
    chunk = max(1, int(rate))
    t0 = time.perf_counter()
    for first in range(0, n, chunk):
        for topic, payload in payloads(min(chunk, n - first), values, first):
            pending.append(client.publish(topic, payload, qos=1))
            if len(pending) > 20_000:
                pending.popleft().wait_for_publish(timeout=600)
        ahead = t0 + (first + chunk) / rate - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    for info in pending:
        info.wait_for_publish(timeout=600)
    client.disconnect()
    client.loop_stop()


def publish(url: str, n: int, values: int, started: Any, qos: int = 1) -> None:
    messages = payloads(n, values)
    client = _publisher(url, started)
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
        writes, rows = DUCKDB_REOPEN
        return DuckDBHistorian(
            Path(tmp) / "bench.duckdb",
            memory_limit=DUCKDB_MEMORY_LIMIT,
            reopen_writes=writes,
            reopen_rows=rows,
        )
    if kind == "postgresql":
        return PostgresHistorian(pg_url, schema=schema)
    return None


def phase_messages(args: argparse.Namespace, kind: str = "raw") -> int:
    """Messages a phase publishes: ``--messages``, or for andon in a soak rate x length."""
    soak = args.mode == "soak" and kind in ("duckdb", "postgresql")
    return int(args.rate * args.minutes * 60) if soak else args.messages


def make_publisher(
    ctx: Any, args: argparse.Namespace, url: str, n: int, started: Any, *, paced: bool
) -> Any:
    """The publishing process of the phase (not started); ``paced`` at ``--rate``."""
    if paced:
        return ctx.Process(target=publish_paced, args=(url, n, args.values, started, args.rate))
    qos = PUB_QOS if args.mode == "live" else 1
    return ctx.Process(target=publish, args=(url, n, args.values, started, qos))


def duckdb_pool_mb(historian: DuckDBHistorian) -> float:
    """What DuckDB holds in memory (MB): it grows with the data up to its memory limit."""
    rows = historian.sql("SELECT sum(memory_usage_bytes) FROM duckdb_memory()")
    return float(rows[0][0] or 0) / 2**20


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (bytes; all arenas together)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in [
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        ]
    ]


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _MallInfo2
    return libc


class Diagnosis:
    """Where a worker's resident memory is, as one line per sample (``--diagnose``)."""

    def __init__(
        self,
        held: Callable[[], int],
        wal: Path | None,
        trace_at_s: float | None,
    ) -> None:
        self.held = held  # messages received and not acknowledged yet
        self.wal = wal
        self.trace_at_s = trace_at_s  # when to take the first tracemalloc snapshot
        self.first: tracemalloc.Snapshot | None = None
        self._libc = _libc()
        self._t0 = time.perf_counter()

    def line(self) -> str:
        status = Path("/proc/self/status").read_text(encoding="ascii").split("\n")
        kb = {row.split(":")[0]: int(row.split()[1]) for row in status if row.startswith("Rss")}
        out = f"  anon {kb['RssAnon'] / 1024:4.0f} file {kb['RssFile'] / 1024:4.0f}"
        if self._libc is not None:
            info = self._libc.mallinfo2()
            out += (
                f" | glibc used {info.uordblks / 2**20:4.0f} kept {info.fordblks / 2**20:4.0f}"
                f" mmap {info.hblkhd / 2**20:3.0f}"
            )
        out += f" | held {self.held():6,d} msgs"
        if self.wal is not None:
            size = self.wal.stat().st_size if self.wal.exists() else 0
            out += f" | WAL {size / 2**20:4.1f}"
        if tracemalloc.is_tracing():
            out += f" | py {tracemalloc.get_traced_memory()[0] / 2**20:4.0f}"
            t = time.perf_counter() - self._t0
            if self.first is None and self.trace_at_s is not None and t >= self.trace_at_s:
                self.first = tracemalloc.take_snapshot()
                out += " (snapshot)"
        return out

    def report_growth(self, top: int = 10) -> None:
        """The Python allocation sites that grew most since the first snapshot."""
        if self.first is None:
            return
        diff = tracemalloc.take_snapshot().compare_to(self.first, "lineno")
        print("  Python heap growth since the snapshot (tracemalloc):")
        for stat in diff[:top]:
            print(f"    {stat}")


def wait_for_all(source: MqttSource, n: int, stall_s: float = 60.0) -> None:
    """Until ``source`` has had ``n`` messages; raises if none come for ``stall_s``."""
    seen, since = source.messages, time.monotonic()
    while source.messages < n:
        time.sleep(0.01)
        if source.messages != seen:
            seen, since = source.messages, time.monotonic()
        elif time.monotonic() - since > stall_s:
            raise RuntimeError(f"stalled at {seen:,} of {n:,} messages")


class RssSampler:
    """The process's resident size every ``every`` seconds, in a thread (MB)."""

    def __init__(
        self, every: float, report: bool = False, probe: Callable[[], str] | None = None
    ) -> None:
        self.every = every
        self.report = report
        self.probe = probe  # more to print beside RSS (DuckDB's buffer pool, a diagnosis)
        self.samples: list[tuple[float, float]] = []  # (seconds since start, MB)
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        page = resource.getpagesize()
        while True:
            with open("/proc/self/statm", encoding="ascii") as statm:
                rss = int(statm.read().split()[1]) * page / 2**20
            t = time.perf_counter() - self._t0
            self.samples.append((t, rss))
            if self.report:
                probed = self.probe() if self.probe else ""
                print(f"  {t / 60:6.2f} min  RSS {rss:6.0f} MB{probed}", flush=True)
            if self._stop.wait(self.every):
                return


def run_phase(kind: str, args: argparse.Namespace, url: str, schema: str, out: Any) -> None:
    n, values, mode = phase_messages(args, kind), args.values, args.mode
    client_id = f"bench-{kind}-{time.time_ns()}"
    soak = mode == "soak" and kind in ("duckdb", "postgresql")
    if soak and args.trace_malloc:
        tracemalloc.start()
    tmp = tempfile.TemporaryDirectory()
    historian = open_target(kind, tmp.name, args.pg, schema)
    pipeline = Pipeline(historian, IngestSettings()) if historian else None
    count = 0

    def count_only(_topic: str, _payload: bytes) -> None:
        nonlocal count
        count += 1

    if pipeline:
        pipeline.start()
    ctx = mp.get_context("spawn")
    started = ctx.Event()
    paced = mode == "soak" and pipeline is not None
    publisher = make_publisher(ctx, args, url, n, started, paced=paced)
    if mode == "drain":
        register_session(url, client_id)
        publisher.start()
        publisher.join()
    if pipeline:  # as andon ingest runs it: PUBACK once committed
        source = MqttSource(subscription(url, client_id), pipeline.submit, manual_ack=True)
    else:
        source = MqttSource(subscription(url, client_id), count_only)
    probe, diagnosis = (
        soak_probe(args, kind, historian, pipeline, source) if pipeline and soak else (None, None)
    )
    sampler = RssSampler(args.rss_every, report=soak, probe=probe)
    with sampler:
        t_start, cpu_start = time.perf_counter(), _cpu_s()
        source.start()
        if mode != "drain":
            publisher.start()
            started.wait(30)
            t_start, cpu_start = time.perf_counter(), _cpu_s()
        wait_for_all(source, n)
        if pipeline:
            pipeline.flush()
        elapsed, cpu = time.perf_counter() - t_start, _cpu_s() - cpu_start
    source.stop()
    if mode != "drain":
        publisher.join()
    if diagnosis is not None:
        diagnosis.report_growth()
    written = pipeline.stats.samples_written if pipeline else count * values
    if pipeline:
        pipeline.close()
    if historian:
        historian.close()
    tmp.cleanup()
    result = _result(kind, elapsed, source.messages, written, cpu)
    result["rss_samples"] = sampler.samples
    out.put(result)


def soak_probe(
    args: argparse.Namespace, kind: str, historian: Any, pipeline: Pipeline, source: MqttSource
) -> tuple[Callable[[], str], Diagnosis | None]:
    """What a soak prints beside RSS: DuckDB's buffer pool, and with ``--diagnose`` more."""
    duckdb_pool = kind == "duckdb"

    def pool() -> str:
        return f"  DuckDB buffer pool {duckdb_pool_mb(historian):4.0f} MB" if duckdb_pool else ""

    if not args.diagnose:
        return pool, None
    diagnosis = Diagnosis(
        lambda: source.messages - pipeline.stats.acknowledged,
        Path(historian.path + ".wal") if duckdb_pool else None,
        args.minutes * 60 / 3 if args.trace_malloc else None,  # snapshot after the warm-up
    )
    return (lambda: pool() + diagnosis.line()), diagnosis


def _cpu_s() -> float:
    """CPU seconds of this process (all its threads, DuckDB's included; not the PG server)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _result(
    kind: str, seconds: float, messages: int, samples: int, cpu: float = 0.0
) -> dict[str, Any]:
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
    messages = phase_messages(args)
    tag_ids, stamps, values = sample_rows(messages, args.values)
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
    out.put(_result(kind, elapsed, messages, len(tag_ids)))


def measure(
    target: Any, kind: str, args: argparse.Namespace, url: str, schema: str
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    process = ctx.Process(target=target, args=(kind, args, url, schema, out))
    process.start()
    while True:  # a phase that dies says so here instead of leaving us waiting
        try:
            result: dict[str, Any] = out.get(timeout=5)
            break
        except queue.Empty:
            if not process.is_alive():
                raise RuntimeError(f"phase {kind} died (exit code {process.exitcode})") from None
    process.join()
    return result


def drop_schema(pg_url: str, schema: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--values", type=int, default=10, help="values per metrics message")
    parser.add_argument("--mode", choices=["live", "drain", "soak"], default="live")
    parser.add_argument("--minutes", type=float, default=10.0, help="soak: how long")
    parser.add_argument("--rate", type=float, default=3000.0, help="soak: messages per second")
    parser.add_argument("--rss-every", type=float, default=5.0, help="seconds between RSS samples")
    parser.add_argument("--broker", help="mqtt://host:port; default: a private mosquitto")
    parser.add_argument("--historian", choices=["both", "duckdb", "postgresql"], default="both")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--diagnose", action="store_true", help="soak: where the memory is")
    parser.add_argument(
        "--trace-malloc", action="store_true", help="soak: Python heap by site (slow)"
    )
    args = parser.parse_args()
    kinds = ["duckdb", "postgresql"] if args.historian == "both" else [args.historian]
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    broker = None
    url = args.broker
    if url is None:
        most = max(phase_messages(args, kind) for kind in ("raw", *kinds))
        broker = EmbeddedBroker(kind="mosquitto", max_queued=most * 2)
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
    print(f"mode {args.mode}, {args.values} values per message via {url}")
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
        expected = got["messages"] * args.values
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
        print(f"  RSS sampled every {args.rss_every:g} s: {rss_line(got['rss_samples'])}")
        if args.mode == "soak":
            slope = rss_slope(got["rss_samples"])
            print(f"  RSS slope over the second half: {slope:+.2f} MB/min")
            fields.append(f"{short}_rss_slope_mb_per_min={slope:.2f}")
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
    fields += [f"raw_peak_rss_mb={raw['rss_mb']:.0f}"]
    print(" ".join(fields))


def rss_slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of RSS over the second half of the run, MB per minute."""
    half = samples[len(samples) // 2 :]
    if len(half) < 2:
        return 0.0
    t, mb = np.array(half).T
    return float(np.polyfit(t / 60, mb, 1)[0])


def rss_line(samples: list[tuple[float, float]], most: int = 12) -> str:
    step = max(1, len(samples) // most)
    return ", ".join(f"{t:.0f}s {mb:.0f}" for t, mb in samples[::step])


if __name__ == "__main__":
    main()
