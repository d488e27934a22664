"""MQTT tests: messages, config, outbox, and MqttLink against a real mosquitto."""

from __future__ import annotations
