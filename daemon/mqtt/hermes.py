"""Hermes messages (Snips / Rhasspy 2.5): ``hermes/intent/<Name>``, ``hermes/nlu/intentNotRecognized``,
``hermes/asr/textCaptured`` (what Home Assistant's ``snips:`` integration and Rhasspy apps read)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from daemon.events import IntentEvent, NotRecognizedEvent, TokenInfo
from daemon.mqtt.base import Message, dumps, loads_object
from daemon.mqtt.tokens import words_in_text
from daemon.mqtt.topics import HERMES_INTENT_NOT_RECOGNIZED, HERMES_INTENT_PREFIX, HERMES_TEXT_CAPTURED, topic_level

__all__ = ["HermesToken", "HermesSlot", "HermesIntent", "HermesIntentNotRecognized", "HermesTextCaptured"]

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
    """One ``asrTokens`` entry: value, confidence, character range in the raw text and time span (s; None when
    unknown: words split from a free transcript)."""

    value: str
    confidence: float
    range_start: int
    range_end: int
    time_start: Optional[float]
    time_end: Optional[float]

    def to_json(self) -> dict:
        """The Hermes dict."""
        return {
            "value": self.value,
            "confidence": self.confidence,
            "rangeStart": self.range_start,
            "rangeEnd": self.range_end,
            "time": None if self.time_start is None else {"start": self.time_start, "end": self.time_end},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "HermesToken":
        """Parse a Hermes token dict."""
        t = d.get("time")
        start, end = (float(t.get("start", 0.0)), float(t.get("end", 0.0))) if t else (None, None)
        return cls(d["value"], float(d["confidence"]), int(d["rangeStart"]), int(d["rangeEnd"]), start, end)

    @classmethod
    def from_tokens(cls, text: str, tokens: Sequence[TokenInfo], confidence: float = 1.0) -> tuple["HermesToken", ...]:
        """Hermes tokens of ``text``: whole words with their character ranges, English lower-case (as Rhasspy sends
        them). They come from the recognised units when those spell the text, else from the text (``confidence``
        each, no time)."""
        return tuple(cls(w.value, w.confidence, w.range_start, w.range_end, w.start_s, w.end_s)
                     for w in words_in_text(text, tokens, confidence))


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
            asr_tokens=HermesToken.from_tokens(ev.text, ev.tokens, ev.confidence),
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
        d = loads_object(payload)
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
        return dumps(
            {"input": self.input, "siteId": self.site_id, "id": self.id, "customData": self.custom_data,
             "sessionId": self.session_id}
        )

    @classmethod
    def from_payload(cls, topic: str, payload: bytes) -> "HermesIntentNotRecognized":
        """Parse a Hermes not-recognised message."""
        if topic != HERMES_INTENT_NOT_RECOGNIZED:
            raise ValueError(f"not {HERMES_INTENT_NOT_RECOGNIZED}: {topic}")
        d = loads_object(payload)
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
            asr_tokens=HermesToken.from_tokens(ev.text, ev.tokens, ev.confidence),
            lang=ev.language,
        )

    def topic(self) -> str:
        return HERMES_TEXT_CAPTURED

    def payload(self) -> bytes:
        return dumps(
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
        d = loads_object(payload)
        return cls(
            d["text"], float(d["likelihood"]), float(d["seconds"]), d.get("siteId", "default"), d.get("sessionId"),
            _asr_tokens_from_json(d), d.get("wakewordId"), d.get("lang"),
        )

