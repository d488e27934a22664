"""Reading Wyoming events with limits: a malformed, oversized or truncated event is an error, not a silent EOF.

The wire format is ``wyoming.event``'s (a JSON header line, optional extra JSON data, optional binary payload);
the library's own reader returns None for garbage and has no size limits, so a server facing the network reads
with this one and writes with the library's ``async_write_event``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from wyoming.event import Event

# A header line is small JSON; audio lives in the payload.
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024  # 1 MiB: ~33 s of 16 kHz mono int16, ~5 s of 48 kHz stereo 16-bit


class ProtocolError(Exception):
    """The client broke the protocol; ``code`` goes into the ``error`` event sent before closing."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass(frozen=True)
class EventLimits:
    """Largest accepted header line, extra data and payload (bytes)."""

    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_data_bytes: int = DEFAULT_MAX_HEADER_BYTES
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES


def _length(header: dict, key: str, limit: int) -> int:
    value = header.get(key)
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError("malformed-event", f"{key} must be a non-negative integer, got {value!r}")
    if value > limit:
        raise ProtocolError("event-too-large", f"{key} {value} exceeds the limit of {limit} bytes")
    return value


async def read_event(reader: asyncio.StreamReader, limits: EventLimits = EventLimits()) -> Event | None:
    """The next event, or None when the peer closed the connection between events (or in the middle of one)."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise ProtocolError("event-too-large",
                            f"event header longer than {limits.max_header_bytes} bytes (no newline)") from None
    if len(line) > limits.max_header_bytes:
        raise ProtocolError("event-too-large", f"event header of {len(line)} bytes exceeds {limits.max_header_bytes}")
    try:
        header = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("malformed-event", "event header is not a JSON line") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str) or not header["type"]:
        raise ProtocolError("malformed-event", "event header must be a JSON object with a string 'type'")
    data = header.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ProtocolError("malformed-event", "event 'data' must be a JSON object")
    data_length = _length(header, "data_length", limits.max_data_bytes)
    payload_length = _length(header, "payload_length", limits.max_payload_bytes)
    try:
        if data_length:
            extra = json.loads(await reader.readexactly(data_length))
            if not isinstance(extra, dict):
                raise ProtocolError("malformed-event", "event extra data must be a JSON object")
            data.update(extra)
        payload = await reader.readexactly(payload_length) if payload_length else None
    except asyncio.IncompleteReadError:
        return None  # the peer went away in the middle of an event
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError("malformed-event", "event extra data is not JSON") from None
    return Event(type=header["type"], data=data, payload=payload)
