"""Faults on demand: duplicates, malformed payloads, clock skew, counter resets, pauses, drops."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from andon.errors import ConfigError
from andon.namespace import parse_topic
from andon.sim import Factory, FaultInjector, FaultPlan, MqttPublisher, load_scenario
from andon.sim.messages import Message

START = 1_763_700_000_000
CNC = "acme/plant1/machining/line1/cnc1"


class Collect:
    """A sink that keeps every message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def send(self, messages: list[Message]) -> None:
        self.messages.extend(messages)


def _run(faults: FaultInjector, steps: int, factory: Factory | None = None) -> Factory:
    factory = factory or Factory(load_scenario("demo"), seed=8, start_ms=START)
    for _ in range(steps):
        faults.send(factory.step())
    return factory


def _docs(messages: list[Message], asset: str, channel: str) -> list[dict[str, object]]:
    return [orjson.loads(p) for t, p in messages if parse_topic(t) == (asset, channel)]


def _metrics_ts(messages: list[Message]) -> set[int]:
    return {orjson.loads(p)["ts"] for t, p in messages if t.endswith("/metrics")}


def test_duplicates_and_malformed_messages_on_demand() -> None:
    sink, reference = Collect(), Factory(load_scenario("demo"), seed=8, start_ms=START)
    faults = FaultInjector(sink)
    factory = _run(faults, 1)
    faults.duplicate_next(2)
    faults.corrupt_next(1)
    faults.send(factory.step())
    reference.step()
    expected = reference.step()
    batch = sink.messages[-(len(expected) + 2) :]
    assert batch[0] == batch[1]  # corrupted, then sent twice
    assert batch[0][1] == expected[0][1][: len(expected[0][1]) // 2]
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(batch[0][1])
    assert batch[2] == batch[3] == expected[1]
    assert batch[4:] == expected[2:]
    assert faults.injected == 3


def test_random_faults_follow_the_plan_deterministically() -> None:
    def run(seed: int) -> list[Message]:
        sink = Collect()
        _run(FaultInjector(sink, FaultPlan(duplicate=0.05, malformed=0.02), seed=seed), 300)
        return sink.messages

    first, again, clean = run(1), run(1), Collect()
    _run(FaultInjector(clean), 300)
    assert first == again
    extra = len(first) - len(clean.messages)
    assert 0.03 * len(clean.messages) < extra < 0.07 * len(clean.messages)
    broken = sum(1 for _, payload in first if not payload.endswith(b"}"))
    assert 0.01 * len(first) < broken < 0.04 * len(first)


def test_a_skewed_clock_shifts_one_asset_or_all() -> None:
    sink = Collect()
    faults = FaultInjector(sink)
    faults.skew(-3_600_000, asset=CNC)
    factory = _run(faults, 5)
    cnc = _docs(sink.messages, CNC, "metrics")
    other = _docs(sink.messages, "acme/plant1/machining/line1/cnc2", "metrics")
    assert cnc[-1]["ts"] == factory.now_ms - 3_600_000
    assert other[-1]["ts"] == factory.now_ms
    planned = FaultInjector(sink := Collect(), FaultPlan(skew_ms=5000))
    factory = _run(planned, 2)
    assert _metrics_ts(sink.messages[-8:]) == {factory.now_ms + 5000}


def test_a_counter_reset_makes_totals_jump_back_to_zero() -> None:
    sink = Collect()
    faults = FaultInjector(sink)
    factory = _run(faults, 1800)
    before = _docs(sink.messages, CNC, "count")[-1]
    assert before["total"] > 0
    faults.reset_counters(CNC)
    _run(faults, 1800, factory)
    later = [doc for doc in _docs(sink.messages, CNC, "count") if doc["ts"] > before["ts"]]
    assert later
    assert all(doc["total"] < before["total"] for doc in later)
    assert all(doc["total"] == doc["good"] + doc["scrap"] for doc in later)


def test_a_pause_loses_the_messages_of_its_seconds() -> None:
    sink = Collect()
    faults = FaultInjector(sink)
    faults.pause(10)
    factory = _run(faults, 10)
    assert sink.messages == []
    assert faults.lost > 10 * 8
    _run(faults, 1, factory)  # the pause is over
    assert _metrics_ts(sink.messages) == {factory.now_ms}
    faults.pause()
    _run(faults, 5, factory)
    faults.resume()
    _run(faults, 1, factory)
    assert _metrics_ts(sink.messages[-8:]) == {factory.now_ms}
    periodic = FaultInjector(Collect(), FaultPlan(pause_every_s=100, pause_s=20))
    _run(periodic, 300)
    assert periodic.lost > 0


def test_unknown_faults_and_connectionless_sinks_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="unknown fault 'explode'"):
        FaultPlan.parse(["explode=1"])
    with pytest.raises(ConfigError, match="NAME=NUMBER"):
        FaultPlan.parse(["duplicate=often"])
    with pytest.raises(ConfigError, match="no connection to drop"):
        FaultInjector(Collect()).drop_connection()


@pytest.mark.integration
def test_a_dropped_connection_comes_back_and_loses_no_qos1_message(tmp_path: Path) -> None:
    enterprise = f"f{uuid.uuid4().hex[:10]}"
    scenario = tmp_path / "plant.yaml"
    scenario.write_text(
        f"enterprise: {enterprise}\nsite: s1\nlines:\n  - area: a1\n    name: l1\n"
        "    machines:\n      - {name: m1, kind: press, ideal_cycle_time_s: 2}\n",
        encoding="utf-8",
    )
    received: list[Message] = []
    ready = threading.Event()
    subscriber = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{enterprise}")
    subscriber.on_connect = lambda c, *_: c.subscribe(f"andon/v1/{enterprise}/#", qos=1)
    subscriber.on_subscribe = lambda *_: ready.set()
    subscriber.on_message = lambda c, u, m: received.append((m.topic, bytes(m.payload)))
    subscriber.connect("127.0.0.1", 1883)
    subscriber.loop_start()
    try:
        assert ready.wait(10)
        factory = Factory(load_scenario(str(scenario)), seed=1, start_ms=START)
        sent: list[Message] = []
        with MqttPublisher("127.0.0.1", 1883, client_id=f"pub-{enterprise}") as publisher:
            faults = FaultInjector(publisher)
            for step in range(60):
                if step == 30:
                    faults.drop_connection()
                messages = factory.step()
                sent.extend(messages)
                faults.send(messages)
        deadline = time.monotonic() + 15
        while not set(sent) <= set(received) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        subscriber.disconnect()
        subscriber.loop_stop()
    assert set(sent) <= set(received)  # at least once; duplicates are allowed
