"""MQTT output of the daemon: native voicecmd topics, Hermes, Home Assistant discovery, and commands in."""

from __future__ import annotations
