"""Events the pipeline emits for each utterance: a recognised intent or a rejected (not recognised) one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

__all__ = ["TokenInfo", "IntentEvent", "NotRecognizedEvent", "UtteranceEvent"]


@dataclass(frozen=True)
class TokenInfo:
    """One recognised token (word or character) with its confidence and time span in the utterance."""

    text: str
    confidence: float
    start_s: float
    end_s: float


@dataclass(frozen=True)
class IntentEvent:
    """An utterance that matched the grammar: intent name, slot values and timing (unix seconds)."""

    site_id: str
    utterance_id: str
    intent: str
    slots: dict[str, object]
    raw_slots: dict[str, str]
    text: str
    confidence: float
    start_time: float
    end_time: float
    tokens: tuple[TokenInfo, ...] = ()
    language: Optional[str] = None


@dataclass(frozen=True)
class NotRecognizedEvent:
    """An utterance that was heard but rejected; ``text`` is the free transcript, ``reason`` why it was rejected."""

    site_id: str
    utterance_id: str
    text: str
    confidence: float
    start_time: float
    end_time: float
    reason: str
    tokens: tuple[TokenInfo, ...] = field(default=())
    language: Optional[str] = None


UtteranceEvent = Union[IntentEvent, NotRecognizedEvent]
