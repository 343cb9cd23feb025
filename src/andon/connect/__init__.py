"""Connectors: sources of machine data, each supervised (reconnect with back-off).

MQTT on the unified namespace (:class:`MqttSource`), Sparkplug B (:class:`SparkplugSource`),
OPC UA (:class:`OpcUaSource`), Modbus TCP (:class:`ModbusSource`), and files for backfills
(:func:`read_jsonl`, :func:`read_table`). The ``connect:`` section of ``andon.yaml`` maps
source addresses to asset tags (:func:`load_connect_config`).

The OPC UA, Modbus and file connectors load their libraries (asyncua, pymodbus, pyarrow)
on first use, so a process that does not need them does not pay for importing them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from andon.connect.mqtt import MqttSource, MqttSubscription
from andon.connect.source import Backoff, Link, RecordSink, Source, supervise
from andon.connect.sparkplug import SparkplugSession, SparkplugSource
from andon.connect.tagmap import ConnectConfig, connect_config, load_connect_config

if TYPE_CHECKING:
    from andon.connect.files import (
        FileMessage,
        TableChunk,
        TableColumns,
        read_jsonl,
        read_table,
    )
    from andon.connect.modbus import ModbusSource
    from andon.connect.opcua import OpcUaSource

__all__ = [
    "Backoff",
    "ConnectConfig",
    "FileMessage",
    "Link",
    "ModbusSource",
    "MqttSource",
    "MqttSubscription",
    "OpcUaSource",
    "RecordSink",
    "Source",
    "SparkplugSession",
    "SparkplugSource",
    "TableChunk",
    "TableColumns",
    "connect_config",
    "load_connect_config",
    "read_jsonl",
    "read_table",
    "supervise",
]

_LAZY = {
    "FileMessage": "andon.connect.files",
    "TableChunk": "andon.connect.files",
    "TableColumns": "andon.connect.files",
    "read_jsonl": "andon.connect.files",
    "read_table": "andon.connect.files",
    "ModbusSource": "andon.connect.modbus",
    "OpcUaSource": "andon.connect.opcua",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'andon.connect' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
