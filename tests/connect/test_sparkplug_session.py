"""The Sparkplug B host's memory, message by message: births, aliases, seq, deaths."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

from andon.connect import SparkplugSession, connect_config
from andon.connect.sparkplug import rebirth_payload
from andon.signals import Event, Metrics
from andon.sparkplug_b import DataType, Payload, file_descriptor

T0 = 1_763_700_000_000
NODE = "spBv1.0/plant1/{}/edge1"
DEVICE = "spBv1.0/plant1/{}/edge1/press-1"


def payload(seq: int | None, *metrics: dict[str, Any], ts: int = T0) -> bytes:
    message = Payload(timestamp=ts)
    if seq is not None:
        message.seq = seq
    for fields in metrics:
        message.metrics.add(**fields)
    return bytes(message.SerializeToString())


def birth(bd_seq: int = 0) -> bytes:
    return payload(
        0,
        {"name": "bdSeq", "datatype": DataType.Int64, "long_value": bd_seq},
        {"name": "Node Control/Rebirth", "datatype": DataType.Boolean, "boolean_value": False},
        {"name": "Line Speed", "alias": 1, "datatype": DataType.Double, "double_value": 1.5},
    )


def device_birth(seq: int) -> bytes:
    return payload(
        seq,
        {"name": "Force/Peak", "alias": 10, "datatype": DataType.Float, "float_value": 40.5},
        {"name": "Offset", "alias": 11, "datatype": DataType.Int16, "int_value": 2**32 - 3},
        {"name": "Serial", "alias": 12, "datatype": DataType.String, "string_value": "S-1"},
    )


def born() -> SparkplugSession:
    session = SparkplugSession()
    assert session.handle(NODE.format("NBIRTH"), birth(), T0).rejected is None
    assert session.handle(DEVICE.format("DBIRTH"), device_birth(1), T0).rejected is None
    return session


def test_births_bring_values_and_declare_aliases() -> None:
    session = SparkplugSession()
    result = session.handle(DEVICE.format("DBIRTH"), device_birth(1), T0)
    assert result.rejected == "data before the node's birth"  # no NBIRTH yet: ask for one
    assert result.rebirth == ("plant1", "edge1")
    node = session.handle(NODE.format("NBIRTH"), birth(), T0)
    assert node.records == [Metrics("plant1/edge1", T0, {"line_speed": 1.5}, 0)]
    device = session.handle(DEVICE.format("DBIRTH"), device_birth(1), T0)
    assert device.records == [
        Metrics("plant1/edge1/press-1", T0, {"force.peak": 40.5, "offset": -3.0}, 1)
    ]


def test_data_by_alias_resolves_to_the_birth_names() -> None:
    session = born()
    data = payload(
        2,
        {"alias": 10, "float_value": 41.0},
        {"alias": 11, "int_value": 7, "timestamp": T0 + 500},
    )
    result = session.handle(DEVICE.format("DDATA"), data, T0 + 1000)
    assert result.records == [
        Metrics("plant1/edge1/press-1", T0, {"force.peak": 41.0}, 2),
        Metrics("plant1/edge1/press-1", T0 + 500, {"offset": 7.0}, 2),
    ]


def test_a_sequence_gap_asks_for_a_rebirth_once() -> None:
    session = born()
    gap = session.handle(NODE.format("NDATA"), payload(5, {"alias": 1, "double_value": 2.0}), T0)
    assert gap.rejected == "sequence gap: expected 2, got 5"
    assert gap.rebirth == ("plant1", "edge1")
    again = session.handle(
        NODE.format("NDATA"), payload(7, {"alias": 1, "double_value": 2.0}), T0 + 1
    )
    assert again.rebirth is None  # asked a moment ago: the birth is on its way
    session.handle(NODE.format("NBIRTH"), birth(), T0 + 2)
    ok = session.handle(NODE.format("NDATA"), payload(1, {"alias": 1, "double_value": 3.0}), T0 + 3)
    assert ok.rejected is None
    assert ok.records[0].values == {"line_speed": 3.0}


def test_sequence_numbers_wrap_after_255() -> None:
    session = born()
    for seq in [*range(2, 256), 0, 1]:
        result = session.handle(
            NODE.format("NDATA"), payload(seq, {"alias": 1, "double_value": 1.0}), T0 + seq
        )
        assert result.rejected is None, seq


def test_an_unknown_alias_is_rejected_with_a_rebirth() -> None:
    session = born()
    result = session.handle(
        NODE.format("NDATA"), payload(2, {"alias": 99, "double_value": 1.0}), T0
    )
    assert (result.rejected, result.rebirth) == ("unknown alias 99", ("plant1", "edge1"))


def test_node_death_marks_its_tags_stale_unless_it_is_an_old_will() -> None:
    session = born()
    old_will = payload(None, {"name": "bdSeq", "datatype": DataType.Int64, "long_value": 7})
    assert session.handle(NODE.format("NDEATH"), old_will, T0).records == []
    assert session.stale() == []
    will = payload(None, {"name": "bdSeq", "datatype": DataType.Int64, "long_value": 0})
    result = session.handle(NODE.format("NDEATH"), will, T0 + 9)
    assert result.records == [
        Event("plant1/edge1", T0 + 9, "stale", {"reason": "NDEATH", "tags": ["line_speed"]}),
        Event(
            "plant1/edge1/press-1",
            T0 + 9,
            "stale",
            {"reason": "NDEATH", "tags": ["force.peak", "offset"]},
        ),
    ]
    assert ("plant1/edge1/press-1", "offset") in session.stale()
    after = session.handle(NODE.format("NDATA"), payload(2, {"alias": 1, "double_value": 1.0}), T0)
    assert after.rejected == "data before the node's birth"


def test_device_death_marks_only_the_device_stale() -> None:
    session = born()
    result = session.handle(DEVICE.format("DDEATH"), payload(2), T0 + 5)
    assert [e.asset for e in result.records] == ["plant1/edge1/press-1"]  # type: ignore[union-attr]


def test_historical_metrics_are_kept_with_their_own_time() -> None:
    session = born()
    late = {"alias": 1, "double_value": 0.5, "timestamp": T0 - 60_000, "is_historical": True}
    result = session.handle(NODE.format("NDATA"), payload(2, late), T0)
    assert result.historical == 1
    assert result.records == [Metrics("plant1/edge1", T0 - 60_000, {"line_speed": 0.5}, 2)]


def test_bad_protobuf_and_bad_values_are_reasons_not_crashes() -> None:
    session = born()
    assert (session.handle(NODE.format("NDATA"), b"\xff\xff\xff", T0).rejected or "").startswith(
        "not a Sparkplug B payload"
    )
    nan = payload(2, {"alias": 1, "double_value": float("nan")})
    assert session.handle(NODE.format("NDATA"), nan, T0).rejected == (
        "metric 'Line Speed': value nan is not finite"
    )
    old = payload(3, {"alias": 1, "double_value": 1.0, "timestamp": 5})
    assert "outside 2000..2100" in (session.handle(NODE.format("NDATA"), old, T0).rejected or "")
    assert session.handle("spBv1.0/plant1/NCMD/edge1", rebirth_payload(T0), T0).records == []
    assert session.handle("spBv1.0/STATE/scada", b'{"online": true}', T0).rejected is None


def test_mapped_metrics_land_where_the_config_says() -> None:
    config = connect_config(
        {
            "sparkplug": {
                "asset_root": "acme/p1",
                "tags": [
                    {
                        "metric": "plant1/edge1/press-1:Force/Peak",
                        "asset": "acme/p1/press/l1/p1",
                        "tag": "force_kn",
                        "scale": 0.5,
                    }
                ],
            }
        }
    )
    assert config.sparkplug is not None
    session = SparkplugSession(config.sparkplug)
    session.handle(NODE.format("NBIRTH"), birth(), T0)
    result = session.handle(DEVICE.format("DBIRTH"), device_birth(1), T0)
    assert result.records == [
        Metrics("acme/p1/press/l1/p1", T0, {"force_kn": 20.25}, 1),
        Metrics("acme/p1/plant1/edge1/press-1", T0, {"offset": -3.0}, 1),
    ]


def test_payloads_encoded_by_another_implementation_decode() -> None:
    """NBIRTH and NDATA as encoded by benthos-umh's Go code (its published test vectors)."""
    nbirth = base64.b64decode(
        "CNLig7n6MhINCgViZFNlcRABIAhYWBIcChROb2RlIENvbnRyb2wvUmViaXJ0aBACIAtwABIaCgtUZW1wZXJh"
        "dHVyZRBkIAppAAAAAACANUAYAA=="
    )
    ndata = base64.b64decode("CNLig7n6MhINEGQgCmkAAAAAAIA2QBgB")
    session = SparkplugSession()
    first = session.handle("spBv1.0/g/NBIRTH/n", nbirth, T0)
    second = session.handle("spBv1.0/g/NDATA/n", ndata, T0)
    assert first.records == [Metrics("g/n", 1_750_855_643_474, {"temperature": 21.5}, 0)]
    assert second.records == [Metrics("g/n", 1_750_855_643_474, {"temperature": 22.5}, 1)]


def test_the_built_descriptor_matches_the_proto_file() -> None:
    text = (Path(__file__).parents[2] / "src/andon/sparkplug_b.proto").read_text()
    declared = set(re.findall(r"^\s*(?:optional |repeated )?\w+\s+(\w+)\s*=\s*(\d+);", text, re.M))
    built: set[tuple[str, str]] = set()
    proto = file_descriptor()
    stack = list(proto.message_type)
    built |= {(v.name, str(v.number)) for e in proto.enum_type for v in e.value}
    while stack:
        message = stack.pop()
        built |= {(f.name, str(f.number)) for f in message.field}
        stack.extend(message.nested_type)
    enum_values = set(re.findall(r"^\s*(\w+)\s*=\s*(\d+);", text, re.M))
    assert built == declared | enum_values
