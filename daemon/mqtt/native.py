"""Native voicecmd messages on ``<prefix>/<site_id>/...``: intents, not-recognised speech, status, state, errors
and the commands voicecmd receives."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

from daemon.events import IntentEvent, NotRecognizedEvent, TokenInfo
from daemon.mqtt.base import Message, SiteMessage, dumps, loads_object, site_topic, split_site_topic
from daemon.mqtt.tokens import units_of_text
from daemon.mqtt.topics import COMMANDS, SiteTopics

__all__ = [
    "MAX_COMMAND_PAYLOAD",
    "IntentMessage",
    "NotRecognizedMessage",
    "StatusMessage",
    "StateMessage",
    "ErrorMessage",
    "CommandError",
    "CommandMessage",
]

MAX_COMMAND_PAYLOAD = 4096  # commands are tiny JSON objects; anything bigger is refused unparsed


def _tokens_to_json(tokens: Sequence[TokenInfo]) -> list[dict]:
    return [{"text": t.text, "confidence": t.confidence, "start": t.start_s, "end": t.end_s} for t in tokens]


def _tokens_from_json(items: Any) -> tuple[TokenInfo, ...]:
    return tuple(TokenInfo(str(t["text"]), float(t["confidence"]), float(t["start"]), float(t["end"])) for t in items or ())


def _utterance_json(ev: IntentEvent | NotRecognizedEvent) -> dict:
    """The payload fields both native utterance messages carry."""
    return {
        "text": ev.text,
        "confidence": ev.confidence,
        "site_id": ev.site_id,
        "utterance_id": ev.utterance_id,
        "start_time": ev.start_time,
        "end_time": ev.end_time,
        "tokens": _tokens_to_json(units_of_text(ev.text, ev.tokens)),  # never units of another text
        "language": ev.language,
    }


def _utterance_fields(d: Mapping[str, Any]) -> dict:
    """The fields of ``_utterance_json`` parsed back, as keyword arguments for either event class."""
    return {
        "site_id": d["site_id"],
        "utterance_id": d["utterance_id"],
        "text": d["text"],
        "confidence": float(d["confidence"]),
        "start_time": float(d["start_time"]),
        "end_time": float(d["end_time"]),
        "tokens": _tokens_from_json(d.get("tokens")),
        "language": d.get("language"),
    }


@dataclass(frozen=True)
class IntentMessage(Message):
    """``<prefix>/<site_id>/intent/<IntentName>``: the recognised intent with slots, text, confidence and timing."""

    prefix: str
    event: IntentEvent

    def topic(self) -> str:
        return SiteTopics(self.prefix, self.event.site_id).intent(self.event.intent)

    @classmethod
    def is_topic(cls, topic: str) -> bool:
        """True for a native intent topic."""
        parts = split_site_topic(topic, "intent")
        return parts is not None and bool(parts[2])

    def to_json(self) -> dict:
        """The payload as a dict."""
        ev = self.event
        return {
            "intent": ev.intent,
            "slots": dict(ev.slots),
            "raw_slots": dict(ev.raw_slots),
            **_utterance_json(ev),
        }

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "IntentMessage":
        """Parse a published intent back (prefix from the topic)."""
        parts = split_site_topic(topic, "intent")
        if parts is None or not parts[2]:
            raise ValueError(f"not an intent topic: {topic}")
        d = loads_object(payload)
        event = IntentEvent(
            intent=d["intent"],
            slots=dict(d["slots"]),
            raw_slots=dict(d["raw_slots"]),
            **_utterance_fields(d),
        )
        return cls(parts[0], event)


@dataclass(frozen=True)
class NotRecognizedMessage(Message):
    """``<prefix>/<site_id>/not_recognized``: speech that matched no command (free transcript and why)."""

    prefix: str
    event: NotRecognizedEvent

    def topic(self) -> str:
        return SiteTopics(self.prefix, self.event.site_id).not_recognized

    @classmethod
    def is_topic(cls, topic: str) -> bool:
        """True for a native not-recognised topic."""
        parts = split_site_topic(topic, "not_recognized")
        return parts is not None and not parts[2]

    def to_json(self) -> dict:
        """The payload as a dict."""
        return {**_utterance_json(self.event), "reason": self.event.reason}

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "NotRecognizedMessage":
        """Parse a published not-recognised message back."""
        prefix, site = site_topic(topic, "not_recognized")
        d = loads_object(payload)
        event = NotRecognizedEvent(reason=d["reason"], **_utterance_fields(d))
        return cls(prefix, event)


@dataclass(frozen=True)
class StatusMessage(SiteMessage):
    """``<prefix>/<site_id>/status``: retained ``online``/``offline`` (``offline`` is also the last will)."""

    retain: ClassVar[bool] = True
    tail: ClassVar[str] = "status"
    online: bool

    def payload(self) -> bytes:
        return b"online" if self.online else b"offline"

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "StatusMessage":
        """Parse a status message."""
        prefix, site = cls._prefix_and_site(topic)
        if payload not in (b"online", b"offline"):
            raise ValueError(f"not a status payload: {payload[:20]!r}")
        return cls(prefix, site, payload == b"online")


@dataclass(frozen=True)
class StateMessage(SiteMessage):
    """``<prefix>/<site_id>/state``: retained JSON of what the daemon is doing (listening/muted, grammar, model)."""

    retain: ClassVar[bool] = True
    tail: ClassVar[str] = "state"
    state: Mapping[str, Any]

    def payload(self) -> bytes:
        return dumps({**self.state, "site_id": self.site_id})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "StateMessage":
        """Parse a state message."""
        prefix, site = cls._prefix_and_site(topic)
        d = loads_object(payload)
        d.pop("site_id", None)
        return cls(prefix, site, d)


@dataclass(frozen=True)
class ErrorMessage(SiteMessage):
    """``<prefix>/<site_id>/error``: a one-line error the daemon reports (bad command, rejected grammar...)."""

    tail: ClassVar[str] = "error"
    message: str
    time: float = field(default_factory=time.time)

    def payload(self) -> bytes:
        return dumps({"error": self.message, "site_id": self.site_id, "time": self.time})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "ErrorMessage":
        """Parse an error message."""
        prefix, site = cls._prefix_and_site(topic)
        d = loads_object(payload)
        return cls(prefix, site, d["error"], float(d["time"]))



class CommandError(ValueError):
    """A malformed command message (unknown command, bad payload)."""


@dataclass(frozen=True)
class CommandMessage(Message):
    """``<prefix>/<site_id>/set/{mute,unmute,reload}``: payload empty or a JSON object of options."""

    prefix: str
    site_id: str
    command: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def topic(self) -> str:
        return SiteTopics(self.prefix, self.site_id).command(self.command)

    def payload(self) -> bytes:
        return dumps(dict(self.args)) if self.args else b""

    @classmethod
    def from_payload(cls, topics: SiteTopics, topic: str, payload: bytes) -> "CommandMessage":
        """Parse a command leniently (empty, whitespace, ``null`` or a JSON object); CommandError otherwise."""
        name = topics.command_name(topic)
        if name is None:
            raise CommandError(f"{topic}: not a command topic of site {topics.site_id!r}")
        if name not in COMMANDS:
            raise CommandError(f"{topic}: unknown command {name[:64]!r}; known: {', '.join(COMMANDS)}")
        if len(payload) > MAX_COMMAND_PAYLOAD:
            raise CommandError(f"{topic}: payload of {len(payload)} bytes is too large (limit {MAX_COMMAND_PAYLOAD})")
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise CommandError(f"{topic}: payload is not UTF-8 text") from None
        if not text:
            return cls(topics.prefix, topics.site_id, name)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            raise CommandError(f"{topic}: payload is not JSON: {text[:40]!r}") from None
        if data is None:
            return cls(topics.prefix, topics.site_id, name)
        if not isinstance(data, dict):
            raise CommandError(f"{topic}: payload must be a JSON object, got {type(data).__name__}")
        return cls(topics.prefix, topics.site_id, name, data)

