"""Home Assistant messages: the event entity's state, the last-command sensor, MQTT discovery configs, birth."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

from daemon.events import IntentEvent, NotRecognizedEvent
from daemon.mqtt.base import Message, SiteMessage, dumps, loads_object
from daemon.mqtt.topics import COMMANDS, SiteTopics, discovery_topic, object_id

__all__ = ["HaEventMessage", "LastCommandMessage", "DiscoveryMessage", "discovery_messages", "is_ha_birth"]

_HA_STATE_MAX = 255  # Home Assistant truncates/refuses sensor states longer than this
_HA_RESERVED = {"event_type", "text", "confidence", "utterance_id", "site_id", "slots", "reason", "time", "language"}


@dataclass(frozen=True)
class HaEventMessage(SiteMessage):
    """``<prefix>/<site_id>/event``: Home Assistant event entity state, ``{"event_type": <intent>, ...slots}``.

    Never retained: a retained event would fire again whenever Home Assistant restarts."""

    tail: ClassVar[str] = "event"
    event_type: str
    attributes: Mapping[str, Any]

    @classmethod
    def for_intent(cls, prefix: str, ev: IntentEvent) -> "HaEventMessage":
        """Event for a recognised intent: slots both under ``slots`` and as top-level attributes."""
        attrs: dict[str, Any] = {k: v for k, v in ev.slots.items() if k not in _HA_RESERVED}
        attrs.update(
            text=ev.text, confidence=ev.confidence, utterance_id=ev.utterance_id, slots=dict(ev.slots), time=ev.end_time,
            language=ev.language,
        )
        return cls(prefix, ev.site_id, ev.intent, attrs)

    @classmethod
    def for_not_recognized(cls, prefix: str, ev: NotRecognizedEvent) -> "HaEventMessage":
        """Event for rejected speech: ``event_type`` ``not_recognized``."""
        attrs = dict(text=ev.text, confidence=ev.confidence, utterance_id=ev.utterance_id, reason=ev.reason, time=ev.end_time,
                     language=ev.language)
        return cls(prefix, ev.site_id, "not_recognized", attrs)

    def payload(self) -> bytes:
        return dumps({"event_type": self.event_type, **self.attributes})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "HaEventMessage":
        """Parse an event message."""
        prefix, site = cls._prefix_and_site(topic)
        d = loads_object(payload)
        return cls(prefix, site, d.pop("event_type"), d)


@dataclass(frozen=True)
class LastCommandMessage(SiteMessage):
    """``<prefix>/<site_id>/last_command``: retained JSON of the last recognised command (a Home Assistant sensor)."""

    retain: ClassVar[bool] = True
    tail: ClassVar[str] = "last_command"
    intent: str
    text: str
    slots: Mapping[str, Any]
    confidence: float
    time: float

    @classmethod
    def from_event(cls, prefix: str, ev: IntentEvent) -> "LastCommandMessage":
        """The last-command record of a recognised intent."""
        return cls(prefix, ev.site_id, ev.intent, ev.text, dict(ev.slots), ev.confidence, ev.end_time)

    def payload(self) -> bytes:
        return dumps(
            {"intent": self.intent, "text": self.text[:_HA_STATE_MAX], "slots": dict(self.slots),
             "confidence": self.confidence, "time": self.time}
        )

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "LastCommandMessage":
        """Parse a last-command message."""
        prefix, site = cls._prefix_and_site(topic)
        d = loads_object(payload)
        return cls(prefix, site, d["intent"], d["text"], d["slots"], float(d["confidence"]), float(d["time"]))


@dataclass(frozen=True)
class DiscoveryMessage(Message):
    """``<discovery_prefix>/<component>/<node_id>/<object_id>/config``: a retained Home Assistant discovery config."""

    retain: ClassVar[bool] = True
    discovery_prefix: str
    component: str
    node_id: str
    object_name: str
    config: Mapping[str, Any]

    def topic(self) -> str:
        return discovery_topic(self.discovery_prefix, self.component, self.node_id, self.object_name)

    def payload(self) -> bytes:
        return dumps(self.config)

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "DiscoveryMessage":
        """Parse a discovery config."""
        match = re.match(r"^(.+)/([^/]+)/([^/]+)/([^/]+)/config$", topic)
        if match is None:
            raise ValueError(f"not a discovery topic: {topic}")
        return cls(match.group(1), match.group(2), match.group(3), match.group(4), loads_object(payload))


_BUTTON_ICONS = {"mute": "mdi:microphone-off", "unmute": "mdi:microphone", "reload": "mdi:reload"}


def discovery_messages(
    topics: SiteTopics, discovery_prefix: str, intent_names: Sequence[str], sw_version: str
) -> list[DiscoveryMessage]:
    """One Home Assistant device per site: an ``event`` entity (intents + not_recognized), last-command and state
    sensors, and mute/unmute/reload buttons."""
    node = object_id(f"voicecmd_{topics.site_id}")
    common = {
        "device": {
            "identifiers": [node],
            "name": f"voicecmd {topics.site_id}",
            "manufacturer": "voicecmd",
            "model": "voicecmd offline voice commands",
            "sw_version": sw_version,
        },
        "origin": {"name": "voicecmd", "sw_version": sw_version},
        "availability_topic": topics.status,
        "payload_available": "online",
        "payload_not_available": "offline",
        "qos": 1,
    }

    def entity(component: str, name: str, object_name: str, icon: str, **config: Any) -> DiscoveryMessage:
        body = {"name": name, "unique_id": f"{node}_{object_name}", "icon": icon, **config, **common}
        return DiscoveryMessage(discovery_prefix, component, node, object_name, body)

    event_types = list(dict.fromkeys([*intent_names, "not_recognized"]))
    messages = [
        entity("event", "Voice command", "command", "mdi:microphone-message",
               state_topic=topics.event, event_types=event_types),
        entity("sensor", "Last command", "last_command", "mdi:account-voice", state_topic=topics.last_command,
               value_template="{{ value_json.text }}", json_attributes_topic=topics.last_command),
        entity("sensor", "State", "state", "mdi:state-machine", state_topic=topics.state,
               value_template="{{ value_json.state }}", json_attributes_topic=topics.state),
    ]
    for command in COMMANDS:  # commands accept "{}": the button's payload
        messages.append(entity("button", command.capitalize(), command, _BUTTON_ICONS[command],
                               command_topic=topics.command(command), payload_press="{}"))
    return messages


def is_ha_birth(discovery_prefix: str, topic: str, payload: bytes) -> bool:
    """True when Home Assistant announces it came (back) online: re-send discovery and states."""
    return topic == f"{discovery_prefix}/status" and payload.strip() == b"online"
