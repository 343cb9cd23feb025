"""The connect: section of andon.yaml: validated at start-up, errors name the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from andon.connect import connect_config, load_connect_config
from andon.connect.tagmap import Deadband
from andon.errors import ConfigError

M1 = "acme/p1/press/l1/p1"


def opcua(*tags: dict[str, object]) -> dict[str, object]:
    return {"opcua": [{"url": "opc.tcp://127.0.0.1:4840", "tags": list(tags)}]}


def modbus(*registers: dict[str, object]) -> dict[str, object]:
    return {"modbus": [{"host": "10.0.0.9", "groups": [{"registers": list(registers)}]}]}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (opcua({"asset": M1, "tag": "t"}), "connect.opcua[0].tags[0]: give exactly one of"),
        (
            opcua({"node": "i=1", "browse_path": "2:A", "asset": M1, "tag": "t"}),
            "exactly one",
        ),
        (opcua({"node": "i=1", "asset": "acme//x", "tag": "t"}), "tags[0].asset: asset path"),
        (opcua({"node": "i=1", "asset": M1, "tag": "a/b"}), "tags[0].tag: String should match"),
        (
            opcua(
                {"node": "i=1", "asset": M1, "tag": "a"}, {"node": "i=1", "asset": M1, "tag": "b"}
            ),
            "duplicate node: i=1",
        ),
        (
            modbus(
                {"address": 0, "type": "float32", "asset": M1, "tag": "a"},
                {"address": 1, "asset": M1, "tag": "b"},
            ),
            "holding register 1 is read by both 'a' and 'b'",
        ),
        (modbus({"address": 0, "table": "coil", "type": "int16", "asset": M1, "tag": "a"}), "bits"),
        (modbus({"address": 70000, "asset": M1, "tag": "a"}), "registers[0].address"),
        (modbus({"address": 0, "asset": M1, "tag": "a", "deadband": -1}), "deadband"),
        (
            {
                **opcua({"node": "i=1", "asset": M1, "tag": "force_kn"}),
                **modbus({"address": 0, "asset": M1, "tag": "force_kn"}),
            },
            "duplicate tag (two sources would write it): acme/p1/press/l1/p1/force_kn",
        ),
        ({"opcua": [{"url": "http://x", "tags": []}]}, "connect.opcua[0].url"),
        ({"kafka": {}}, "connect.kafka: Extra inputs are not permitted"),
        (opcua({"node": "i=1", "asset": M1}), "a sample needs a 'tag' name"),
        (
            {"sparkplug": {"tags": [{"metric": "g/e:m", "asset": M1, "role": "state"}]}},
            "Sparkplug metrics map to samples",
        ),
        (
            modbus(
                {"address": 0, "asset": M1, "role": "state"},
                {"address": 1, "asset": M1, "role": "state"},
            ),
            "duplicate tag (two sources would write it): acme/p1/press/l1/p1#state",
        ),
    ],
)
def test_mistakes_are_named_at_start_up(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=r"^connect") as caught:
        connect_config(section)
    assert message in str(caught.value)


def test_a_full_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "andon.yaml"
    path.write_text(
        f"""
db: data/plant.duckdb
connect:
  mqtt: {{shared_group: andon}}
  sparkplug:
    host_id: scada
    asset_root: acme/p1
    tags: [{{metric: "g/e/d:Temp", asset: {M1}, tag: temp_c}}]
  opcua:
    - url: opc.tcp://10.0.0.7:4840
      tags:
        - {{node: "ns=2;s=Press1.Force", asset: {M1}, tag: force_kn, scale: 0.001}}
        - {{browse_path: "2:Press1/2:Stroke", asset: {M1}, tag: strokes}}
  modbus:
    - host: 10.0.0.9
      groups:
        - interval_ms: 250
          registers:
            - {{address: 0, type: float32, word_order: little, asset: {M1}, tag: oil_c}}
""",
        encoding="utf-8",
    )
    config = load_connect_config(path)
    assert config.mqtt.shared_group == "andon"
    assert config.opcua[0].tags[0].value(12_000) == 12.0
    assert config.opcua[0].tags[1].address == "browse:2:Press1/2:Stroke"
    assert config.modbus[0].groups[0].registers[0].width == 2
    assert config.sparkplug is not None
    assert config.sparkplug.asset_root == "acme/p1"
    assert load_connect_config(tmp_path / "andon.yaml").model_dump() == config.model_dump()


def test_no_section_means_no_connectors(tmp_path: Path) -> None:
    path = tmp_path / "andon.yaml"
    path.write_text("db: x.duckdb\n", encoding="utf-8")
    config = load_connect_config(path)
    assert (config.opcua, config.modbus, config.sparkplug) == ([], [], None)


def test_deadband_keeps_moves_of_at_least_the_band() -> None:
    band = Deadband()
    kept = [v for v in (10.0, 10.2, 10.5, 10.4, 9.9, 20.0) if band.keep("t", v, 0.5)]
    assert kept == [10.0, 10.5, 9.9, 20.0]
    assert all(band.keep("u", v, 0.0) for v in (1.0, 1.0, 1.0))
