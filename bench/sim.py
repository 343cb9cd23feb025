"""Virtual factory throughput: how large a plant andon sim keeps up with, and on which protocols.

Phases, each in a fresh process so its peak RSS is its own:
- factory: the scenario stepped as fast as possible, messages thrown away (the simulation's
  own ceiling, in simulated seconds per second and machine x tag values per second);
- baseline: a bare paho client publishing the same messages, built beforehand, with the same
  QoS as fast as it can (the ceiling of publishing from Python, measured in this run);
- mqtt: the scenario paced at ``--speed`` publishing JSON to the broker, a subscriber in
  another process counting what arrives;
- all: the same plus Sparkplug B on the broker and the OPC UA and Modbus servers, with an
  OPC UA and a Modbus client polling once per second.

"Keeps up" means the paced run never fell behind its schedule by more than one second and
finished its simulated span in the expected wall time. The paced phases also report the
cores the simulator kept busy (CPU seconds per wall second): on a machine loaded by other
work, a share under 1.0 says it keeps up whenever it gets one core to itself. The broker is
the system Mosquitto.

    .venv/bin/python bench/sim.py [--scenario large] [--speed 60] [--seconds 60] [--qos 1]

The last line is ``RESULT key=value ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from andon import sim
from andon.broker import free_port, wait_for_port
from andon.sim.messages import Message

BROKER = ("127.0.0.1", 1883)
START = 1_763_700_000_000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _values(messages: list[Message]) -> int:
    """Tag values in a batch (machines x tags): the entries of the metrics messages."""
    return sum(p.count(b",") - 1 for t, p in messages if t.endswith("/metrics"))


def _factory(scenario: str) -> sim.Factory:
    return sim.Factory(sim.load_scenario(scenario), seed=42, start_ms=START)


def phase_factory(scenario: str, steps: int) -> dict[str, float]:
    factory = _factory(scenario)
    messages = values = 0
    started = time.perf_counter()
    for _ in range(steps):
        batch = factory.step()
        messages += len(batch)
        values += _values(batch)
    seconds = time.perf_counter() - started
    return {
        "machines": len(factory.machines),
        "speed": steps / seconds,
        "messages_s": messages / seconds,
        "values_s": values / seconds,
        "values_per_step": values / steps,
        "rss_mb": _rss_mb(),
    }


def phase_baseline(scenario: str, steps: int, qos: int) -> dict[str, float]:
    """Pre-built messages through a bare paho client, network driven in the same thread.

    The same counting subscriber runs as in the paced phases, so both share the cores alike.
    """
    factory = _factory(scenario)
    messages = [m for _ in range(steps) for m in factory.step()]
    subscriber = _Subscriber(f"andon/v1/{factory.scenario.enterprise}/{factory.scenario.site}")
    acked = 0

    def on_publish(*_: object) -> None:
        nonlocal acked
        acked += 1

    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-base-{uuid.uuid4().hex}",
        protocol=paho.MQTTv311,
    )
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect(*BROKER)
    while not client.is_connected():
        client.loop(0.05)
    started = time.perf_counter()
    for i, (topic, payload) in enumerate(messages):
        client.publish(topic, payload, qos=qos)
        if i % 200 == 199:
            client.loop(0.0)
    while acked < len(messages):
        client.loop(0.01)
    seconds = time.perf_counter() - started
    client.disconnect()
    received = subscriber.stop()
    return {"messages_s": len(messages) / seconds, "received": received, "rss_mb": _rss_mb()}


class _Lag:
    """Tracks how far the paced run falls behind its schedule."""

    def __init__(self, speed: float) -> None:
        self.speed, self.origin, self.worst, self.steps = speed, time.monotonic(), 0.0, 0
        self.values = 0

    def __call__(self, factory: sim.Factory) -> None:
        self.steps += 1
        due = self.origin + self.steps / self.speed
        self.worst = max(self.worst, time.monotonic() - due)


def _count_messages(prefix: str, ready: Any, stop: Any, result: Any) -> None:
    count = 0

    def on_message(*_: object) -> None:
        nonlocal count
        count += 1

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{uuid.uuid4().hex}")
    client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=0)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = on_message
    client.connect(*BROKER)
    client.loop_start()
    stop.wait()
    time.sleep(2.0)  # the tail still in flight
    client.disconnect()
    client.loop_stop()
    result.value = count


class _Subscriber:
    """A paho subscriber counting the plant's JSON messages, in a process of its own."""

    def __init__(self, prefix: str) -> None:
        ctx = mp.get_context("spawn")
        self._ready, self._stop, self._count = ctx.Event(), ctx.Event(), ctx.Value("q", 0)
        args = (prefix, self._ready, self._stop, self._count)
        self._process = ctx.Process(target=_count_messages, args=args)
        self._process.start()
        assert self._ready.wait(20), "subscriber did not start"

    def stop(self) -> int:
        self._stop.set()
        self._process.join(30)
        return int(self._count.value)


class _Counted:
    """A sink wrapper counting what went out."""

    def __init__(self, sink: sim.Sink) -> None:
        self.sink, self.messages, self.values = sink, 0, 0

    def send(self, messages: list[Message]) -> None:
        self.messages += len(messages)
        self.values += _values(messages)
        self.sink.send(messages)


def phase_paced(
    scenario: str, speed: float, seconds: float, qos: int, protocols: str
) -> dict[str, float]:
    factory = _factory(scenario)
    subscriber = _Subscriber(f"andon/v1/{factory.scenario.enterprise}/{factory.scenario.site}")
    publisher = sim.MqttPublisher(*BROKER, client_id=f"bench-sim-{uuid.uuid4().hex}", qos=qos)
    sinks: list[sim.Sink] = [publisher]
    servers: list[Any] = []
    if protocols == "all":
        servers = _servers(factory, sinks)
    counted = _Counted(sim.Fanout(*sinks))
    lag = _Lag(speed)
    steps = int(seconds * speed)
    with publisher:
        for server in servers:
            server.__enter__()
        pollers = _pollers(servers)
        lag.origin = time.monotonic()
        started, cpu_started = time.perf_counter(), time.process_time()
        sim.run(factory, counted, until_ms=factory.now_ms + steps * 1000, speed=speed, on_step=lag)
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        for poller in pollers:
            poller.set()
        for server in reversed(servers):
            server.__exit__(None, None, None)
    received = subscriber.stop()
    return {
        "wall_s": wall,
        "cpu_share": cpu / wall,  # cores busy: under 1.0 it keeps up given one free core
        "expected_s": steps / speed,
        "worst_lag_s": lag.worst,
        "messages_s": counted.messages / wall,
        "values_s": counted.values / wall,
        "received": received,
        "sent": counted.messages,
        "rss_mb": _rss_mb(),
    }


def _servers(factory: sim.Factory, sinks: list[sim.Sink]) -> list[Any]:
    from andon.sim.modbus import ModbusServer
    from andon.sim.opcua import OpcUaServer

    node = sim.SparkplugPublisher(factory.catalog, *BROKER, client_id=f"bench-{uuid.uuid4().hex}")
    snapshot = sim.Snapshot(factory.catalog)
    sinks += [node, snapshot]
    opcua = OpcUaServer(factory.catalog, snapshot, port=free_port())
    modbus = ModbusServer(factory.catalog, snapshot, port=free_port())
    return [node, opcua, modbus]


def _pollers(servers: list[Any]) -> list[threading.Event]:
    """Clients reading one value per second from the OPC UA and Modbus servers."""
    if not servers:
        return []
    _, opcua, modbus = servers
    stops = [threading.Event(), threading.Event()]
    threading.Thread(target=_poll_modbus, args=(modbus.port, stops[0]), daemon=True).start()
    threading.Thread(target=_poll_opcua, args=(opcua.url, stops[1]), daemon=True).start()
    return stops


def _poll_modbus(port: int, stop: threading.Event) -> None:
    from pymodbus.client import ModbusTcpClient

    assert wait_for_port("127.0.0.1", port, 10)
    client = ModbusTcpClient("127.0.0.1", port=port)
    client.connect()
    while not stop.wait(1.0):
        client.read_input_registers(200, count=100, device_id=1)
    client.close()


def _poll_opcua(url: str, stop: threading.Event) -> None:
    from asyncua import Client

    async def poll() -> None:
        while not stop.is_set():  # a starved server may drop the session: connect again
            try:
                async with Client(url) as client:
                    while not stop.is_set():
                        await client.nodes.server_state.read_value()
                        await asyncio.sleep(1.0)
            except (ConnectionError, TimeoutError, OSError):
                await asyncio.sleep(1.0)

    asyncio.run(poll())


def _child(queue: Any, target: Any, args: tuple[Any, ...]) -> None:
    queue.put(target(*args))


def _in_process(target: Any, *args: Any) -> dict[str, float]:
    """Run one phase in a fresh (non-daemon) process, so its peak RSS is its own."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(queue, target, args))
    process.start()
    result: dict[str, float] = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="large")
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=60.0, help="real seconds per paced run")
    parser.add_argument("--qos", type=int, default=1)
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at start")

    fast = _in_process(phase_factory, args.scenario, 1800)
    print(
        f"factory alone: {fast['machines']:.0f} machines, {fast['speed']:.0f} simulated s/s "
        f"({fast['speed'] / args.speed:.1f}x speed {args.speed:g}), {fast['values_s']:,.0f} "
        f"values/s, {fast['messages_s']:,.0f} msg/s (peak RSS {fast['rss_mb']:.0f} MB)"
    )
    base = _in_process(phase_baseline, args.scenario, 300, args.qos)
    print(f"baseline: bare paho QoS {args.qos} publishes {base['messages_s']:,.0f} msg/s")
    needed = fast["values_per_step"] * args.speed
    print(f"speed {args.speed:g} needs {needed:,.0f} values/s")
    fields = [
        f"scenario={args.scenario}",
        f"machines={fast['machines']:.0f}",
        f"speed={args.speed:g}",
        f"factory_sim_s_per_s={fast['speed']:.0f}",
        f"factory_values_s={fast['values_s']:.0f}",
        f"baseline_paho_msg_s={base['messages_s']:.0f}",
        f"needed_values_s={needed:.0f}",
    ]
    for protocols in ("mqtt", "all"):
        got = _in_process(phase_paced, args.scenario, args.speed, args.seconds, args.qos, protocols)
        kept_up = got["worst_lag_s"] < 1.0 and got["wall_s"] < got["expected_s"] + 1.0
        print(
            f"{protocols}: {got['values_s']:,.0f} values/s, {got['messages_s']:,.0f} msg/s "
            f"({got['messages_s'] / base['messages_s']:.2f}x the bare paho baseline), "
            f"{got['wall_s']:.1f} s for {got['expected_s']:.0f} s planned, worst lag "
            f"{got['worst_lag_s']:.2f} s, kept up: {kept_up}, {got['cpu_share']:.2f} cores busy; "
            "subscriber got "
            f"{got['received']:,} of {got['sent']:,} (peak RSS {got['rss_mb']:.0f} MB)"
        )
        fields += [
            f"{protocols}_values_s={got['values_s']:.0f}",
            f"{protocols}_msg_s={got['messages_s']:.0f}",
            f"{protocols}_worst_lag_s={got['worst_lag_s']:.2f}",
            f"{protocols}_kept_up={int(kept_up)}",
            f"{protocols}_cpu_share={got['cpu_share']:.2f}",
            f"{protocols}_received={got['received']}",
            f"{protocols}_sent={got['sent']}",
            f"{protocols}_peak_rss_mb={got['rss_mb']:.0f}",
        ]
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    print("RESULT " + " ".join(fields))


if __name__ == "__main__":
    main()
