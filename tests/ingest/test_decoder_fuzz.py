"""Fuzzing the decoders: any input is a record or a reason, never a crash."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.connect import SparkplugSession
from andon.errors import PayloadRejected
from andon.ingest import Decoder
from andon.sparkplug_b import Payload

TOPICS = st.sampled_from(
    [
        "andon/v1/acme/p1/a/l1/m1/metrics",
        "andon/v1/acme/p1/a/l1/m1/state",
        "andon/v1/acme/p1/a/l1/m1/count",
        "andon/v1/acme/p1/a/l1/m1/event",
        "andon/v1/acme/P1/a/metrics",
        "elsewhere/x",
    ]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "ts",
                    "seq",
                    "values",
                    "code",
                    "state",
                    "kind",
                    "total",
                    "good",
                    "scrap",
                    "reason",
                    "x",
                ]
            ),
            children,
            max_size=6,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(topic=TOPICS, body=JSON)
def test_any_json_is_a_record_or_a_reason(topic: str, body: Any) -> None:
    try:
        payload = orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError):
        payload = repr(body).encode()  # NaN, huge integers: not JSON, still bytes on the wire
    _decode(topic, payload)


@settings(max_examples=150, deadline=None)
@given(topic=TOPICS, payload=st.binary(max_size=64))
def test_any_bytes_are_a_record_or_a_reason(topic: str, payload: bytes) -> None:
    _decode(topic, payload)


def _decode(topic: str, payload: bytes) -> None:
    try:
        record = Decoder().decode(topic, payload)
    except PayloadRejected as exc:
        reason = exc.reason
    else:
        reason = record.asset
    assert reason


SPARKPLUG_TOPICS = st.sampled_from(
    [
        "spBv1.0/g1/NBIRTH/edge1",
        "spBv1.0/g1/NDATA/edge1",
        "spBv1.0/g1/DBIRTH/edge1/dev1",
        "spBv1.0/g1/DDATA/edge1/dev1",
        "spBv1.0/g1/NDEATH/edge1",
        "spBv1.0/g1/DDEATH/edge1/dev1",
        "spBv1.0/g1/XDATA/edge1",
    ]
)


@settings(max_examples=150, deadline=None)
@given(topics=st.lists(SPARKPLUG_TOPICS, min_size=1, max_size=6), payload=st.binary(max_size=80))
def test_bad_sparkplug_protobuf_is_rejected_never_a_crash(
    topics: list[str], payload: bytes
) -> None:
    session = SparkplugSession()
    for topic in topics:
        result = session.handle(topic, payload, now_ms=1_763_700_000_000)
        assert not (result.rejected or "").startswith("Sparkplug host failed")


METRIC = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Temp", "a/b c", "bdSeq", "Node Control/Rebirth", "ü"]),
        "alias": st.integers(0, 5),
        "datatype": st.integers(0, 40),
        "timestamp": st.integers(0, 2**64 - 1),
        "is_historical": st.booleans(),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    topics=st.lists(SPARKPLUG_TOPICS, min_size=1, max_size=5),
    metrics=st.lists(METRIC, max_size=4),
    seq=st.integers(0, 300),
    value=st.one_of(st.floats(), st.integers(0, 2**64 - 1), st.booleans(), st.text(max_size=4)),
)
def test_well_formed_sparkplug_with_odd_content_never_crashes(
    topics: list[str], metrics: list[dict[str, Any]], seq: int, value: object
) -> None:
    payload = Payload(seq=seq % 2**64, timestamp=1_763_700_000_000)
    for fields in metrics:
        metric = payload.metrics.add(**fields)
        if isinstance(value, bool):
            metric.boolean_value = value
        elif isinstance(value, float):
            metric.double_value = value
        elif isinstance(value, int):
            metric.long_value = value
        else:
            metric.string_value = value
    session = SparkplugSession()
    for topic in topics:
        result = session.handle(topic, payload.SerializeToString(), now_ms=1_763_700_000_000)
        assert not (result.rejected or "").startswith("Sparkplug host failed")
        assert result.records == [] or result.rejected is None
