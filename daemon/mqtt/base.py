"""The shared base of the MQTT message modules: a message owns its topic, payload bytes, QoS and retain flag."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from daemon.mqtt.topics import SiteTopics

__all__ = ["Message", "SiteMessage", "dumps", "loads_object", "split_site_topic", "site_topic"]


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; values JSON cannot hold become strings rather than failing the publish."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def loads_object(payload: bytes) -> dict:
    """Parse a JSON object payload (ValueError on anything else)."""
    data = json.loads(payload.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


class Message:
    """Base: a message knows its topic, payload bytes, QoS and whether the broker retains it."""

    qos: ClassVar[int] = 1
    retain: ClassVar[bool] = False

    def topic(self) -> str:
        """The topic this message is published on."""
        raise NotImplementedError

    def payload(self) -> bytes:
        """The wire payload: the compact JSON of ``to_json`` unless a message says otherwise."""
        return dumps(self.to_json())

    def to_json(self) -> Any:
        """The payload as JSON data."""
        raise NotImplementedError

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.topic()}, {len(self.payload())} bytes)"



def split_site_topic(topic: str, tail: str) -> Optional[tuple[str, str, str]]:
    """``<prefix>/<site>/<tail>[/<rest>]`` -> (prefix, site, rest) or None."""
    match = re.match(rf"^(.+)/([^/]+)/{re.escape(tail)}(?:/([^/]+))?$", topic)
    return (match.group(1), match.group(2), match.group(3) or "") if match else None


def site_topic(topic: str, tail: str) -> tuple[str, str]:
    """(prefix, site) of exactly ``<prefix>/<site>/<tail>``; ValueError for any other topic."""
    parts = split_site_topic(topic, tail)
    if parts is None or parts[2]:
        raise ValueError(f"not a {tail} topic: {topic}")
    return parts[0], parts[1]


@dataclass(frozen=True)
class SiteMessage(Message):
    """A message on one of a site's own topics, ``<prefix>/<site_id>/<tail>``."""

    tail: ClassVar[str]  # the topic's last level, also the name of its SiteTopics property
    prefix: str
    site_id: str

    def topic(self) -> str:
        return getattr(SiteTopics(self.prefix, self.site_id), self.tail)

    @classmethod
    def _prefix_and_site(cls, topic: str) -> tuple[str, str]:
        """(prefix, site) of this message's topic; ValueError for any other topic."""
        return site_topic(topic, cls.tail)

