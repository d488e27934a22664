"""MQTT messages that own their topic and payload: native voicecmd, Hermes (Rhasspy/Snips) and Home Assistant."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Optional, Sequence

from daemon.events import IntentEvent, NotRecognizedEvent, TokenInfo
from daemon.mqtt.topics import (
    COMMANDS,
    HERMES_INTENT_NOT_RECOGNIZED,
    HERMES_INTENT_PREFIX,
    HERMES_TEXT_CAPTURED,
    SiteTopics,
    discovery_topic,
    object_id,
    topic_level,
)

__all__ = [
    "Message",
    "CommandError",
    "IntentMessage",
    "NotRecognizedMessage",
    "StatusMessage",
    "StateMessage",
    "ErrorMessage",
    "HaEventMessage",
    "LastCommandMessage",
    "HermesSlot",
    "HermesToken",
    "HermesIntent",
    "HermesIntentNotRecognized",
    "HermesTextCaptured",
    "DiscoveryMessage",
    "CommandMessage",
    "discovery_messages",
    "is_ha_birth",
    "intent_messages",
    "not_recognized_messages",
]

MAX_COMMAND_PAYLOAD = 4096  # commands are tiny JSON objects; anything bigger is refused unparsed
_HA_STATE_MAX = 255  # Home Assistant truncates/refuses sensor states longer than this
_SUBWORD_MARK = "\u2581"  # WeNet/sentencepiece word-start marker


def _dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; values JSON cannot hold become strings rather than failing the publish."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


def _loads_object(payload: bytes) -> dict:
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
        return _dumps(self.to_json())

    def to_json(self) -> Any:
        """The payload as JSON data."""
        raise NotImplementedError

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.topic()}, {len(self.payload())} bytes)"


# --------------------------------------------------------------------------------------------------------------
# Native voicecmd topics


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
        "tokens": _tokens_to_json(ev.tokens),
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
    }


def _split_site_topic(topic: str, tail: str) -> Optional[tuple[str, str, str]]:
    """``<prefix>/<site>/<tail>[/<rest>]`` -> (prefix, site, rest) or None."""
    match = re.match(rf"^(.+)/([^/]+)/{re.escape(tail)}(?:/([^/]+))?$", topic)
    return (match.group(1), match.group(2), match.group(3) or "") if match else None


def _site_topic(topic: str, tail: str) -> tuple[str, str]:
    """(prefix, site) of exactly ``<prefix>/<site>/<tail>``; ValueError for any other topic."""
    parts = _split_site_topic(topic, tail)
    if parts is None or parts[2]:
        raise ValueError(f"not a {tail} topic: {topic}")
    return parts[0], parts[1]


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
        parts = _split_site_topic(topic, "intent")
        return parts is not None and bool(parts[2])

    def to_json(self) -> dict:
        """The payload as a dict."""
        ev = self.event
        return {
            "intent": ev.intent,
            "slots": dict(ev.slots),
            "raw_slots": dict(ev.raw_slots),
            **_utterance_json(ev),
            "language": ev.language,
        }

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "IntentMessage":
        """Parse a published intent back (prefix from the topic)."""
        parts = _split_site_topic(topic, "intent")
        if parts is None or not parts[2]:
            raise ValueError(f"not an intent topic: {topic}")
        d = _loads_object(payload)
        event = IntentEvent(
            intent=d["intent"],
            slots=dict(d["slots"]),
            raw_slots=dict(d["raw_slots"]),
            language=d.get("language"),
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
        parts = _split_site_topic(topic, "not_recognized")
        return parts is not None and not parts[2]

    def to_json(self) -> dict:
        """The payload as a dict."""
        return {**_utterance_json(self.event), "reason": self.event.reason}

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "NotRecognizedMessage":
        """Parse a published not-recognised message back."""
        prefix, site = _site_topic(topic, "not_recognized")
        d = _loads_object(payload)
        event = NotRecognizedEvent(reason=d["reason"], **_utterance_fields(d))
        return cls(prefix, event)


@dataclass(frozen=True)
class _SiteMessage(Message):
    """A message on one of a site's own topics, ``<prefix>/<site_id>/<tail>``."""

    tail: ClassVar[str]  # the topic's last level, also the name of its SiteTopics property
    prefix: str
    site_id: str

    def topic(self) -> str:
        return getattr(SiteTopics(self.prefix, self.site_id), self.tail)

    @classmethod
    def _prefix_and_site(cls, topic: str) -> tuple[str, str]:
        """(prefix, site) of this message's topic; ValueError for any other topic."""
        return _site_topic(topic, cls.tail)


@dataclass(frozen=True)
class StatusMessage(_SiteMessage):
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
class StateMessage(_SiteMessage):
    """``<prefix>/<site_id>/state``: retained JSON of what the daemon is doing (listening/muted, grammar, model)."""

    retain: ClassVar[bool] = True
    tail: ClassVar[str] = "state"
    state: Mapping[str, Any]

    def payload(self) -> bytes:
        return _dumps({**self.state, "site_id": self.site_id})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "StateMessage":
        """Parse a state message."""
        prefix, site = cls._prefix_and_site(topic)
        d = _loads_object(payload)
        d.pop("site_id", None)
        return cls(prefix, site, d)


@dataclass(frozen=True)
class ErrorMessage(_SiteMessage):
    """``<prefix>/<site_id>/error``: a one-line error the daemon reports (bad command, rejected grammar...)."""

    tail: ClassVar[str] = "error"
    message: str
    time: float = field(default_factory=time.time)

    def payload(self) -> bytes:
        return _dumps({"error": self.message, "site_id": self.site_id, "time": self.time})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "ErrorMessage":
        """Parse an error message."""
        prefix, site = cls._prefix_and_site(topic)
        d = _loads_object(payload)
        return cls(prefix, site, d["error"], float(d["time"]))


# --------------------------------------------------------------------------------------------------------------
# Home Assistant: event entity, last-command sensor, discovery, commands


_HA_RESERVED = {"event_type", "text", "confidence", "utterance_id", "site_id", "slots", "reason", "time"}


@dataclass(frozen=True)
class HaEventMessage(_SiteMessage):
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
            text=ev.text, confidence=ev.confidence, utterance_id=ev.utterance_id, slots=dict(ev.slots), time=ev.end_time
        )
        return cls(prefix, ev.site_id, ev.intent, attrs)

    @classmethod
    def for_not_recognized(cls, prefix: str, ev: NotRecognizedEvent) -> "HaEventMessage":
        """Event for rejected speech: ``event_type`` ``not_recognized``."""
        attrs = dict(text=ev.text, confidence=ev.confidence, utterance_id=ev.utterance_id, reason=ev.reason, time=ev.end_time)
        return cls(prefix, ev.site_id, "not_recognized", attrs)

    def payload(self) -> bytes:
        return _dumps({"event_type": self.event_type, **self.attributes})

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "HaEventMessage":
        """Parse an event message."""
        prefix, site = cls._prefix_and_site(topic)
        d = _loads_object(payload)
        return cls(prefix, site, d.pop("event_type"), d)


@dataclass(frozen=True)
class LastCommandMessage(_SiteMessage):
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
        return _dumps(
            {"intent": self.intent, "text": self.text[:_HA_STATE_MAX], "slots": dict(self.slots),
             "confidence": self.confidence, "time": self.time}
        )

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "LastCommandMessage":
        """Parse a last-command message."""
        prefix, site = cls._prefix_and_site(topic)
        d = _loads_object(payload)
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
        return _dumps(self.config)

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "DiscoveryMessage":
        """Parse a discovery config."""
        match = re.match(r"^(.+)/([^/]+)/([^/]+)/([^/]+)/config$", topic)
        if match is None:
            raise ValueError(f"not a discovery topic: {topic}")
        return cls(match.group(1), match.group(2), match.group(3), match.group(4), _loads_object(payload))


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
        return _dumps(dict(self.args)) if self.args else b""

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


def is_ha_birth(discovery_prefix: str, topic: str, payload: bytes) -> bool:
    """True when Home Assistant announces it came (back) online: re-send discovery and states."""
    return topic == f"{discovery_prefix}/status" and payload.strip() == b"online"


# --------------------------------------------------------------------------------------------------------------
# Hermes (Snips / Rhasspy 2.5): hermes/intent/<Name>, hermes/nlu/intentNotRecognized, hermes/asr/textCaptured


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _value_text(value: object) -> str:
    """How a slot value reads in the substituted ``input`` text."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _find(text: str, needle: str, start: int) -> int:
    """Case-insensitive ``str.find`` (same length folding only, so offsets stay valid)."""
    if not needle:
        return -1
    lowered = text.lower()
    if len(lowered) != len(text):
        return text.find(needle, start)
    return lowered.find(needle.lower(), start)


@dataclass(frozen=True)
class HermesToken:
    """One ``asrTokens`` entry: value, confidence, character range in the raw text and time span (s)."""

    value: str
    confidence: float
    range_start: int
    range_end: int
    time_start: float
    time_end: float

    def to_json(self) -> dict:
        """The Hermes dict."""
        return {
            "value": self.value,
            "confidence": self.confidence,
            "rangeStart": self.range_start,
            "rangeEnd": self.range_end,
            "time": {"start": self.time_start, "end": self.time_end},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "HermesToken":
        """Parse a Hermes token dict."""
        t = d.get("time") or {}
        return cls(d["value"], float(d["confidence"]), int(d["rangeStart"]), int(d["rangeEnd"]),
                   float(t.get("start", 0.0)), float(t.get("end", 0.0)))

    @classmethod
    def from_tokens(cls, text: str, tokens: Sequence[TokenInfo]) -> tuple["HermesToken", ...]:
        """Hermes tokens for recognised units, located left to right in ``text`` (word-piece marks removed)."""
        out = []
        cursor = 0
        for tok in tokens:
            value = tok.text.replace(_SUBWORD_MARK, "").strip()
            at = _find(text, value, cursor)
            start, end = (at, at + len(value)) if at >= 0 else (cursor, cursor)
            cursor = end
            out.append(cls(value or tok.text, tok.confidence, start, end, tok.start_s, tok.end_s))
        return tuple(out)


def _asr_tokens_json(tokens: Sequence[HermesToken]) -> list:
    """Hermes ``asrTokens``: a list of hypotheses, here the single one (or none)."""
    return [[t.to_json() for t in tokens]] if tokens else []


def _asr_tokens_from_json(d: Mapping[str, Any]) -> tuple[HermesToken, ...]:
    """The first hypothesis of a Hermes ``asrTokens`` field."""
    hypotheses = d.get("asrTokens") or [[]]
    return tuple(HermesToken.from_json(t) for t in hypotheses[0])


@dataclass(frozen=True)
class HermesSlot:
    """One Hermes slot: Home Assistant's snips integration needs ``slotName``, ``value.kind`` and ``rawValue``."""

    entity: str
    slot_name: str
    raw_value: str
    value: Any
    kind: str
    confidence: float
    range: Optional[tuple[int, int, int, int]] = None  # start, end (input), rawStart, rawEnd (rawInput)

    def to_json(self) -> dict:
        """The Hermes dict."""
        d: dict[str, Any] = {
            "entity": self.entity,
            "slotName": self.slot_name,
            "rawValue": self.raw_value,
            "value": {"kind": self.kind, "value": self.value},
            "confidence": self.confidence,
        }
        if self.range is not None:
            start, end, raw_start, raw_end = self.range
            d["range"] = {"start": start, "end": end, "rawStart": raw_start, "rawEnd": raw_end}
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "HermesSlot":
        """Parse a Hermes slot dict."""
        r = d.get("range")
        rng = (int(r["start"]), int(r["end"]), int(r["rawStart"]), int(r["rawEnd"])) if r else None
        return cls(d["entity"], d["slotName"], d["rawValue"], d["value"].get("value"), d["value"]["kind"],
                   float(d.get("confidence", 1.0)), rng)


def _hermes_slots(ev: IntentEvent) -> tuple[str, tuple[HermesSlot, ...]]:
    """The substituted ``input`` text and the slots with their ranges in ``input`` and in the raw text."""
    located = []
    for name, value in ev.slots.items():
        raw = ev.raw_slots.get(name)
        raw = _value_text(value) if raw is None else str(raw)
        located.append((name, value, raw))
    # Substitute spans left to right so later ranges stay valid; spans never overlap.
    spans = []
    taken: list[tuple[int, int]] = []
    for name, value, raw in located:
        at = _find(ev.text, raw, 0)
        while at >= 0 and any(s < at + len(raw) and at < e for s, e in taken):
            at = _find(ev.text, raw, at + 1)
        if at >= 0:
            taken.append((at, at + len(raw)))
        spans.append((at, name, value, raw))
    pieces = []
    cursor = 0
    shift = 0
    slots = []
    for at, name, value, raw in sorted(spans, key=lambda s: (s[0] < 0, s[0])):
        kind = "Number" if _is_number(value) else "Unknown"
        if at < 0:
            slots.append(HermesSlot(name, name, raw, value, kind, ev.confidence, None))
            continue
        shown = _value_text(value)
        pieces.append(ev.text[cursor:at])
        pieces.append(shown)
        start = at + shift
        rng = (start, start + len(shown), at, at + len(raw))
        shift += len(shown) - len(raw)
        cursor = at + len(raw)
        slots.append(HermesSlot(name, name, raw, value, kind, ev.confidence, rng))
    pieces.append(ev.text[cursor:])
    return "".join(pieces), tuple(slots)


@dataclass(frozen=True)
class HermesIntent(Message):
    """``hermes/intent/<IntentName>`` (Rhasspy 2.5 NluIntent): what Home Assistant's ``snips:`` integration consumes."""

    input: str
    raw_input: str
    intent_name: str
    confidence: float
    slots: tuple[HermesSlot, ...]
    site_id: str
    session_id: Optional[str]
    id: Optional[str]
    asr_tokens: tuple[HermesToken, ...] = ()
    asr_confidence: Optional[float] = None
    custom_data: Optional[str] = None
    wakeword_id: Optional[str] = None
    lang: Optional[str] = None

    @classmethod
    def from_event(cls, ev: IntentEvent) -> "HermesIntent":
        """The Hermes intent of a recognised utterance (utterance id = Hermes id and sessionId)."""
        text, slots = _hermes_slots(ev)
        return cls(
            input=text,
            raw_input=ev.text,
            intent_name=ev.intent,
            confidence=ev.confidence,
            slots=slots,
            site_id=ev.site_id,
            session_id=ev.utterance_id,
            id=ev.utterance_id,
            asr_tokens=HermesToken.from_tokens(ev.text, ev.tokens),
            asr_confidence=ev.confidence,
            lang=ev.language,
        )

    def topic(self) -> str:
        return HERMES_INTENT_PREFIX + topic_level(self.intent_name)

    @classmethod
    def is_topic(cls, topic: str) -> bool:
        """True for ``hermes/intent/<name>``."""
        return topic.startswith(HERMES_INTENT_PREFIX) and "/" not in topic[len(HERMES_INTENT_PREFIX):]

    def to_json(self) -> dict:
        """The Hermes dict (all keys always present, as Rhasspy emits them)."""
        return {
            "input": self.input,
            "rawInput": self.raw_input,
            "intent": {"intentName": self.intent_name, "confidenceScore": self.confidence},
            "slots": [s.to_json() for s in self.slots],
            "id": self.id,
            "siteId": self.site_id,
            "sessionId": self.session_id,
            "customData": self.custom_data,
            "asrTokens": _asr_tokens_json(self.asr_tokens),
            "asrConfidence": self.asr_confidence,
            "wakewordId": self.wakeword_id,
            "lang": self.lang,
        }

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "HermesIntent":
        """Parse a Hermes intent (only the first ASR hypothesis's tokens are kept)."""
        if not cls.is_topic(topic):
            raise ValueError(f"not a Hermes intent topic: {topic}")
        d = _loads_object(payload)
        return cls(
            input=d["input"],
            raw_input=d.get("rawInput") or d["input"],
            intent_name=d["intent"]["intentName"],
            confidence=float(d["intent"]["confidenceScore"]),
            slots=tuple(HermesSlot.from_json(s) for s in d.get("slots") or ()),
            site_id=d.get("siteId", "default"),
            session_id=d.get("sessionId"),
            id=d.get("id"),
            asr_tokens=_asr_tokens_from_json(d),
            asr_confidence=d.get("asrConfidence"),
            custom_data=d.get("customData"),
            wakeword_id=d.get("wakewordId"),
            lang=d.get("lang"),
        )


@dataclass(frozen=True)
class HermesIntentNotRecognized(Message):
    """``hermes/nlu/intentNotRecognized``: ``{input, siteId, id, customData, sessionId}``."""

    input: str
    site_id: str
    id: Optional[str]
    session_id: Optional[str]
    custom_data: Optional[str] = None

    @classmethod
    def from_event(cls, ev: NotRecognizedEvent) -> "HermesIntentNotRecognized":
        """The Hermes message of rejected speech."""
        return cls(ev.text, ev.site_id, ev.utterance_id, ev.utterance_id)

    def topic(self) -> str:
        return HERMES_INTENT_NOT_RECOGNIZED

    def payload(self) -> bytes:
        return _dumps(
            {"input": self.input, "siteId": self.site_id, "id": self.id, "customData": self.custom_data,
             "sessionId": self.session_id}
        )

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "HermesIntentNotRecognized":
        """Parse a Hermes not-recognised message."""
        if topic != HERMES_INTENT_NOT_RECOGNIZED:
            raise ValueError(f"not {HERMES_INTENT_NOT_RECOGNIZED}: {topic}")
        d = _loads_object(payload)
        return cls(d["input"], d.get("siteId", "default"), d.get("id"), d.get("sessionId"), d.get("customData"))


@dataclass(frozen=True)
class HermesTextCaptured(Message):
    """``hermes/asr/textCaptured``: the transcript, its likelihood, duration and tokens."""

    text: str
    likelihood: float
    seconds: float
    site_id: str
    session_id: Optional[str]
    asr_tokens: tuple[HermesToken, ...] = ()
    wakeword_id: Optional[str] = None
    lang: Optional[str] = None

    @classmethod
    def from_event(cls, ev: IntentEvent | NotRecognizedEvent) -> "HermesTextCaptured":
        """The ASR transcript of an utterance (recognised or not)."""
        return cls(
            text=ev.text,
            likelihood=ev.confidence,
            seconds=max(0.0, ev.end_time - ev.start_time),
            site_id=ev.site_id,
            session_id=ev.utterance_id,
            asr_tokens=HermesToken.from_tokens(ev.text, ev.tokens),
            lang=getattr(ev, "language", None),
        )

    def topic(self) -> str:
        return HERMES_TEXT_CAPTURED

    def payload(self) -> bytes:
        return _dumps(
            {
                "text": self.text,
                "likelihood": self.likelihood,
                "seconds": self.seconds,
                "siteId": self.site_id,
                "sessionId": self.session_id,
                "wakewordId": self.wakeword_id,
                "asrTokens": _asr_tokens_json(self.asr_tokens),
                "lang": self.lang,
            }
        )

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "HermesTextCaptured":
        """Parse a textCaptured message."""
        if topic != HERMES_TEXT_CAPTURED:
            raise ValueError(f"not {HERMES_TEXT_CAPTURED}: {topic}")
        d = _loads_object(payload)
        return cls(
            d["text"], float(d["likelihood"]), float(d["seconds"]), d.get("siteId", "default"), d.get("sessionId"),
            _asr_tokens_from_json(d), d.get("wakewordId"), d.get("lang"),
        )


# --------------------------------------------------------------------------------------------------------------
# What one utterance publishes


def intent_messages(prefix: str, ev: IntentEvent, *, hermes: bool, ha_event: bool) -> list[Message]:
    """Every message a recognised intent produces: native, then Hermes (textCaptured, intent), then the HA event."""
    out: list[Message] = [IntentMessage(prefix, ev)]
    if hermes:
        out += [HermesTextCaptured.from_event(ev), HermesIntent.from_event(ev)]
    if ha_event:
        out.append(HaEventMessage.for_intent(prefix, ev))
    return out


def not_recognized_messages(prefix: str, ev: NotRecognizedEvent, *, hermes: bool, ha_event: bool) -> list[Message]:
    """Every message rejected speech produces: native, then Hermes (textCaptured, intentNotRecognized), the HA event."""
    out: list[Message] = [NotRecognizedMessage(prefix, ev)]
    if hermes:
        out += [HermesTextCaptured.from_event(ev), HermesIntentNotRecognized.from_event(ev)]
    if ha_event:
        out.append(HaEventMessage.for_not_recognized(prefix, ev))
    return out
