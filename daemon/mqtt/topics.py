"""MQTT topic names: the native ``<prefix>/<site_id>/...`` tree, Hermes topics and Home Assistant discovery topics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

__all__ = [
    "COMMANDS",
    "HERMES_INTENT_PREFIX",
    "HERMES_INTENT_NOT_RECOGNIZED",
    "HERMES_TEXT_CAPTURED",
    "SiteTopics",
    "check_site_id",
    "topic_level",
    "object_id",
    "discovery_topic",
    "ha_status_topic",
]

COMMANDS = ("mute", "unmute", "reload")
HERMES_INTENT_PREFIX = "hermes/intent/"
HERMES_INTENT_NOT_RECOGNIZED = "hermes/nlu/intentNotRecognized"
HERMES_TEXT_CAPTURED = "hermes/asr/textCaptured"

_LEVEL_FORBIDDEN = re.compile(r"[/+#\x00]")
_OBJECT_ID_FORBIDDEN = re.compile(r"[^a-zA-Z0-9_-]")


def check_site_id(site_id: str) -> str:
    """Return ``site_id`` if it is usable as one topic level, else raise ValueError saying why."""
    if not isinstance(site_id, str) or not site_id or _LEVEL_FORBIDDEN.search(site_id) or site_id.strip() != site_id:
        raise ValueError(f"site_id {site_id!r} must be non-empty, without '/', '+', '#' or surrounding spaces")
    return site_id


def topic_level(name: str) -> str:
    """``name`` made safe as a single topic level (MQTT wildcards and separators become '_')."""
    return _LEVEL_FORBIDDEN.sub("_", name) or "_"


def object_id(text: str) -> str:
    """A Home Assistant discovery id (``[a-zA-Z0-9_-]``) derived from ``text``."""
    return _OBJECT_ID_FORBIDDEN.sub("_", text)


def discovery_topic(discovery_prefix: str, component: str, node_id: str, object_name: str) -> str:
    """``<discovery_prefix>/<component>/<node_id>/<object_id>/config``."""
    return f"{discovery_prefix}/{component}/{object_id(node_id)}/{object_id(object_name)}/config"


def ha_status_topic(discovery_prefix: str) -> str:
    """Where Home Assistant publishes its birth (``online``) and will (``offline``) messages."""
    return f"{discovery_prefix}/status"


@dataclass(frozen=True)
class SiteTopics:
    """The native topics of one site: ``<prefix>/<site_id>/{intent/<Name>,not_recognized,status,state,...}``."""

    prefix: str
    site_id: str

    def __post_init__(self) -> None:
        check_site_id(self.site_id)

    @property
    def base(self) -> str:
        """``<prefix>/<site_id>``."""
        return f"{self.prefix}/{self.site_id}"

    def intent(self, intent_name: str) -> str:
        """``<base>/intent/<IntentName>``."""
        return f"{self.base}/intent/{topic_level(intent_name)}"

    @property
    def intent_filter(self) -> str:
        """Subscription filter for every intent of this site."""
        return f"{self.base}/intent/+"

    @property
    def not_recognized(self) -> str:
        """Utterances heard but rejected."""
        return f"{self.base}/not_recognized"

    @property
    def status(self) -> str:
        """Retained ``online``/``offline`` (the last will): Home Assistant availability."""
        return f"{self.base}/status"

    @property
    def state(self) -> str:
        """Retained JSON state (listening/muted, grammar version, model)."""
        return f"{self.base}/state"

    @property
    def error(self) -> str:
        """Errors the daemon reports (bad commands, broken grammar reloads...)."""
        return f"{self.base}/error"

    @property
    def event(self) -> str:
        """Home Assistant event entity state topic: ``{"event_type": ..., ...}`` per utterance."""
        return f"{self.base}/event"

    @property
    def last_command(self) -> str:
        """Retained JSON of the last recognised command (Home Assistant sensor)."""
        return f"{self.base}/last_command"

    def command(self, name: str) -> str:
        """``<base>/set/<command>``."""
        return f"{self.base}/set/{name}"

    @property
    def command_filter(self) -> str:
        """Subscription filter for every command of this site."""
        return f"{self.base}/set/+"

    def command_name(self, topic: str) -> Optional[str]:
        """The command level of a ``<base>/set/<command>`` topic (not checked against COMMANDS), else None."""
        head = f"{self.base}/set/"
        if topic.startswith(head) and "/" not in topic[len(head):]:
            return topic[len(head):]
        return None
