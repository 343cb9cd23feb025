"""Connectors: sources of raw machine messages (MQTT now; Sparkplug B, OPC UA, Modbus and
files are coming)."""

from __future__ import annotations

from andon.connect.mqtt import MqttSource, MqttSubscription

__all__ = ["MqttSource", "MqttSubscription"]
