"""Every MQTT message class, by protocol, and what one utterance publishes.

The classes live in one module per protocol on a shared base: ``base`` (Message), ``native`` (voicecmd's own
topics and commands), ``hermes`` (Rhasspy/Snips) and ``homeassistant`` (event entity, discovery). This module
re-exports them and composes the messages of one utterance."""

from __future__ import annotations

from daemon.events import IntentEvent, NotRecognizedEvent
from daemon.mqtt.base import Message
from daemon.mqtt.hermes import HermesIntent, HermesIntentNotRecognized, HermesSlot, HermesTextCaptured, HermesToken
from daemon.mqtt.homeassistant import (
    DiscoveryMessage,
    HaEventMessage,
    LastCommandMessage,
    discovery_messages,
    is_ha_birth,
)
from daemon.mqtt.native import (
    MAX_COMMAND_PAYLOAD,
    CommandError,
    CommandMessage,
    ErrorMessage,
    IntentMessage,
    NotRecognizedMessage,
    StateMessage,
    StatusMessage,
)

__all__ = [
    "MAX_COMMAND_PAYLOAD",
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
