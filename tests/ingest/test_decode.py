from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from andon.errors import PayloadRejected
from andon.ingest import MAX_PAYLOAD_BYTES, Decoder
from andon.signals import CountUpdate, Event, Metrics, StateChange

BASE = "andon/v1/acme/p1/mach/l1/m1/"
ASSET = "acme/p1/mach/l1/m1"
TS = 1_763_700_000_000


def decode(channel: str, body: object) -> object:
    return Decoder().decode(BASE + channel, orjson.dumps(body))


def test_each_channel_decodes_to_its_record() -> None:
    assert decode("metrics", {"ts": TS, "seq": 1, "values": {"a": 1, "b": 2.5}}) == Metrics(
        ASSET, TS, {"a": 1, "b": 2.5}, 1
    )
    assert decode("state", {"ts": TS, "state": "idle"}) == StateChange(ASSET, TS, 40000)
    assert decode("state", {"ts": TS, "code": 180012, "reason": "spindle"}) == StateChange(
        ASSET, TS, 180012, "spindle"
    )
    assert decode("count", {"ts": TS, "good": 9, "scrap": 1}) == CountUpdate(ASSET, TS, 10, 9, 1)
    assert decode("event", {"ts": TS, "kind": "tool_change", "tool": 4}) == Event(
        ASSET, TS, "tool_change", {"tool": 4}
    )


def test_iso_timestamps_are_accepted() -> None:
    record = decode("state", {"ts": "2025-11-21T04:40:00Z", "code": 10000})
    assert isinstance(record, StateChange)
    assert record.ts_ms == TS


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("elsewhere/x", b"{}", "is not under"),
        (BASE + "bogus", b"{}", "unknown channel"),
        ("andon/v1/Acme/p1/metrics", b"{}", "is not [a-z0-9_-]+"),
        (BASE + "metrics", b"{not json", "not valid JSON"),
        (BASE + "metrics", b"[1, 2]", "must be a JSON object"),
        (BASE + "metrics", b'{"values": {"a": 1}}', 'missing "ts"'),
        (BASE + "metrics", b'{"ts": "yesterday", "values": {"a": 1}}', "not ISO-8601"),
        (BASE + "metrics", b'{"ts": 12, "values": {"a": 1}}', "outside 2000..2100"),
        (BASE + "metrics", b'{"ts": 1763700000000, "values": {}}', "non-empty object"),
        (BASE + "metrics", b'{"ts": 1763700000000, "values": {"a": "hot"}}', "finite number"),
        (BASE + "metrics", b'{"ts": 1763700000000, "values": {"a": true}}', "finite number"),
        (BASE + "metrics", b'{"ts": 1763700000000, "values": {"a": NaN}}', "not valid JSON"),
        (BASE + "metrics", b'{"ts": 1763700000000, "seq": -1, "values": {"a": 1}}', '"seq"'),
        (BASE + "state", b'{"ts": 1763700000000, "state": "dancing"}', 'needs "code"'),
        (BASE + "count", b'{"ts": 1763700000000, "total": 5, "good": -1}', '"good"'),
        (BASE + "event", b'{"ts": 1763700000000}', '"kind"'),
    ],
)
def test_invalid_messages_are_rejected_with_a_reason(
    topic: str, payload: bytes, reason: str
) -> None:
    with pytest.raises(PayloadRejected) as caught:
        Decoder().decode(topic, payload)
    assert reason in caught.value.reason


def test_oversized_payloads_are_rejected() -> None:
    with pytest.raises(PayloadRejected, match="exceeds"):
        Decoder().decode(BASE + "event", b" " * (MAX_PAYLOAD_BYTES + 1))


@given(st.binary(max_size=300))
def test_any_bytes_either_decode_or_are_rejected(payload: bytes) -> None:
    reason = None
    try:
        Decoder().decode(BASE + "metrics", payload)
    except PayloadRejected as exc:
        reason = exc.reason
    assert reason is None or reason  # never a crash, never a silent empty reason
