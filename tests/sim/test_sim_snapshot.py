"""The snapshot the protocol servers read, and JSON Lines recordings."""

from __future__ import annotations

import io
import threading

import orjson

from andon.sim import Factory, JsonlRecorder, Snapshot, load_scenario

CNC = "acme/plant1/machining/line1/cnc1"


def test_the_snapshot_keeps_the_latest_values_of_every_asset() -> None:
    factory = Factory(load_scenario("demo"), seed=1, start_ms=1_763_700_000_000)
    snapshot, seen = Snapshot(factory.catalog), {}
    messages = [m for _ in range(60) for m in factory.step()]
    snapshot.send(messages)
    assert {path for path, _ in snapshot.changed(seen)} == {a.path for a in factory.catalog}
    assert snapshot.changed(seen) == []
    state = snapshot.read(CNC)
    last = {
        channel: orjson.loads(p)
        for t, p in messages
        if t.startswith(f"andon/v1/{CNC}/")
        for channel in [t.rsplit("/", 1)[1]]
    }
    assert state.values == last["metrics"]["values"]
    assert (state.state, state.code) == (last["state"]["state"], last["state"]["code"])
    assert state.counts["total"] == last["count"]["total"]
    assert state.ts == factory.now_ms


def test_the_snapshot_ignores_what_it_cannot_read() -> None:
    factory = Factory(load_scenario("demo"), seed=1, start_ms=1_763_700_000_000)
    snapshot = Snapshot(factory.catalog)
    snapshot.send(
        [
            (f"andon/v1/{CNC}/metrics", b'{"ts": 1, "val'),
            ("andon/v1/nobody/here/metrics", b'{"ts": 1, "seq": 1, "values": {}}'),
            (f"andon/v1/{CNC}/gossip", b"{}"),
        ]
    )
    assert snapshot.ignored == 3
    assert snapshot.read(CNC).version == 0


def test_readers_in_other_threads_always_see_whole_states() -> None:
    factory = Factory(load_scenario("demo"), seed=2, start_ms=1_763_700_000_000)
    snapshot = Snapshot(factory.catalog)
    done, problems = threading.Event(), []

    def read() -> None:
        seen: dict[str, int] = {}
        while not done.is_set():
            for _, state in snapshot.changed(seen):
                if state.values and len(state.values) < 2:
                    problems.append(state)

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(300):
        snapshot.send(factory.step())
    done.set()
    reader.join()
    assert problems == []


def test_a_recording_holds_one_json_line_per_message() -> None:
    factory = Factory(load_scenario("demo"), seed=1, start_ms=1_763_700_000_000)
    stream = io.BytesIO()
    recorder = JsonlRecorder(stream)
    sent = [m for _ in range(10) for m in factory.step()]
    recorder.send(sent)
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [(d["topic"], orjson.dumps(d["payload"])) for d in lines] == sent
    assert recorder.written == len(sent)
