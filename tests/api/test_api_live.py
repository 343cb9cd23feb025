"""The live stream (Server-Sent Events) over a real server: ticks, events, limits, auth."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI

from andon.api import create_app
from andon.api.credentials import Credentials, Role
from andon.api.live import EventStreamResponse, LiveConfig, LiveHub, hub_of, publish
from andon.api.ml import publish_alert
from andon.broker import free_port
from andon.config import Settings
from andon.historian import DuckDBHistorian, WriteBatch
from andon.ml.alerts import AlertBook, AlertPolicy
from andon.signals import StateChange

pytestmark = pytest.mark.integration

M1 = "acme/p1/a/l1/m1"


@dataclass
class Served:
    url: str
    app: FastAPI
    historian: DuckDBHistorian


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    historian = DuckDBHistorian(":memory:")
    app = create_app(Settings(), historian=historian)
    app.state.live_config = LiveConfig(period_s=0.1, heartbeat_s=0.3, max_stream_s=2.0)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield Served(f"http://127.0.0.1:{port}", app, historian)
    server.should_exit = True
    thread.join(timeout=10)
    historian.close()


def _frames(response: httpx.Response) -> Iterator[dict[str, object]]:
    """Parse SSE frames: {"event", "id", "data"}; comments come as {"comment": text}."""
    frame: dict[str, object] = {}
    for line in response.iter_lines():
        if line == "":
            if frame:
                yield frame
            frame = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            field, _, value = line.partition(": ")
            frame[field] = orjson.loads(value) if field == "data" else value


def _write_state(historian: DuckDBHistorian, ts_ms: int) -> None:
    batch = WriteBatch.empty()
    batch.states.append(StateChange(M1, ts_ms, 10000))
    historian.write(batch)


def test_a_tick_first_then_one_per_new_data_then_the_stream_ends(served: Served) -> None:
    seen: list[dict[str, object]] = []
    started = time.monotonic()
    with httpx.stream("GET", f"{served.url}/api/v1/live", timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        for frame in _frames(response):
            seen.append(frame)
            ticks = [f for f in seen if f.get("event") == "tick"]
            if len(ticks) == 1 and frame.get("event") == "tick":
                _write_state(served.historian, 1_763_712_000_000)
    elapsed = time.monotonic() - started
    assert 1.8 < elapsed < 5  # ended by the server after max_stream_s; EventSource reconnects
    assert seen[0] == {"retry": "1000"}
    ticks = [f for f in seen if f.get("event") == "tick"]
    assert len(ticks) == 2, seen
    assert ticks[-1]["data"]["latest_ts"] == 1_763_712_000_000  # type: ignore[index]
    assert int(str(ticks[1]["id"])) > int(str(ticks[0]["id"]))
    assert any("comment" in f for f in seen)  # heartbeats while nothing happens


def test_a_new_client_gets_the_last_tick_at_once(served: Served) -> None:
    with httpx.stream("GET", f"{served.url}/api/v1/live", timeout=10) as response:
        frames = _frames(response)
        assert next(frames) == {"retry": "1000"}
        first = next(frames)
    assert first["event"] == "tick"


def test_other_domains_publish_from_any_thread(served: Served) -> None:
    got: list[dict[str, object]] = []
    with httpx.stream("GET", f"{served.url}/api/v1/live", timeout=10) as response:
        for frame in _frames(response):
            if frame.get("event") == "tick" and not got:
                threading.Thread(
                    target=publish, args=(served.app, "alert", {"asset": M1, "severity": "high"})
                ).start()
            if frame.get("event") == "alert":
                got.append(frame)
                break
    assert got[0]["data"] == {"asset": M1, "severity": "high"}


def test_the_stream_needs_a_key_once_auth_is_on(served: Served) -> None:
    key, _ = Credentials(served.historian).create_key(Role.VIEWER, actor="test")
    served.app.state.auth.reload()
    try:
        assert httpx.get(f"{served.url}/api/v1/live", timeout=5).status_code == 401
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.stream("GET", f"{served.url}/api/v1/live", headers=headers, timeout=10) as r:
            assert r.status_code == 200
    finally:
        served.historian.sql("DELETE FROM auth_keys")
        served.app.state.auth.reload()


def test_a_client_leaving_mid_frame_is_forgotten_at_once() -> None:
    """The race that made a server test flaky: the client leaves while a frame is being sent,
    so the cancellation lands in ``send`` with the frame generator parked at its ``yield``.
    The response must close the generator itself (the garbage collector is off here)."""

    async def scenario() -> tuple[int, bool]:
        hub = LiveHub(lambda: 5, LiveConfig(period_s=0.01, heartbeat_s=0.01, max_stream_s=30))
        response = EventStreamResponse(hub.stream())
        gone = asyncio.Event()
        sent: list[object] = []

        async def receive() -> dict[str, str]:
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: object) -> None:
            sent.append(message)
            if len(sent) == 3:  # start, retry, then the client leaves during this frame
                gone.set()
                await asyncio.sleep(30)  # cancelled here

        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}}
        await asyncio.wait_for(response(scope, receive, send), 5)  # type: ignore[arg-type]
        listeners = hub.listeners
        await asyncio.sleep(0.05)  # the clock watch notices nobody listens and stops
        assert hub._task is not None
        return listeners, hub._task.done()

    gc.disable()
    try:
        listeners, watch_stopped = asyncio.run(scenario())
    finally:
        gc.enable()
    assert listeners == 0
    assert watch_stopped


def test_the_server_forgets_a_client_that_closed_its_stream(served: Served) -> None:
    hub = hub_of(served.app)
    with httpx.stream("GET", f"{served.url}/api/v1/live", timeout=10) as response:
        frames = _frames(response)
        assert next(frames) == {"retry": "1000"}
        assert hub.listeners >= 1
    deadline = time.monotonic() + 5  # the server hears of the disconnect within milliseconds
    while hub.listeners and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hub.listeners == 0


def test_alerts_go_out_on_the_stream_raised_acknowledged_cleared(served: Served) -> None:
    book = AlertBook(served.historian)
    book.subscribe(lambda alert: publish_alert(served.app, alert))  # as `andon demo` wires it
    policy = AlertPolicy(warning=0.5, critical=0.8, clear=0.3, confirm=1, clear_after_ms=0)
    steps = iter(
        [
            lambda: book.observe(M1, "failure_risk", "", 1000, 0.6, policy),
            lambda: httpx.post(f"{served.url}/api/v1/alerts/{quote(alert_id, safe='')}/ack"),
            lambda: book.observe(M1, "failure_risk", "", 3000, 0.1, policy),
        ]
    )
    alert_id = f"{M1}|failure_risk||1000"
    events: list[dict[str, Any]] = []
    with httpx.stream("GET", f"{served.url}/api/v1/live", timeout=10) as response:
        for frame in _frames(response):
            if frame.get("event") == "alert":
                events.append(cast(dict[str, Any], frame["data"]))
            if frame.get("event") in {"tick", "alert"}:
                step = next(steps, None)
                if step is None:
                    break
                threading.Thread(target=step).start()  # from another thread, as scoring does
    assert [e["event"] for e in events] == ["raised", "acknowledged", "cleared"]
    raised, acked, cleared = (e["alert"] for e in events)
    assert (raised["id"], raised["severity"]) == (alert_id, "warning")
    assert acked["acked_by"] == "local"
    assert cleared["open"] is False
