"""Event factories for the MQTT tests."""

from __future__ import annotations

import time

from daemon.events import IntentEvent, NotRecognizedEvent, TokenInfo


def make_intent(n: int = 0, site_id: str = "kitchen", intent: str = "SetBrightness") -> IntentEvent:
    """A recognised intent with a numeric slot and a list slot whose value differs from the spoken text."""
    now = time.time()
    text = f"set the living room light to fifty {n}" if n else "set the living room light to fifty"
    return IntentEvent(
        site_id=site_id,
        utterance_id=f"utt-{n:05d}",
        intent=intent,
        slots={"area": "living_room", "brightness": 50},
        raw_slots={"area": "living room", "brightness": "fifty"},
        text=text,
        confidence=0.875,
        start_time=now - 1.25,
        end_time=now,
        tokens=(
            TokenInfo("\u2581set", 0.99, 0.10, 0.22),
            TokenInfo("\u2581the", 0.97, 0.22, 0.30),
            TokenInfo("\u2581living", 0.95, 0.30, 0.52),
            TokenInfo("\u2581room", 0.96, 0.52, 0.70),
        ),
        language="en",
    )


def make_not_recognized(n: int = 0, site_id: str = "kitchen") -> NotRecognizedEvent:
    """Rejected speech with a free transcript."""
    now = time.time()
    return NotRecognizedEvent(
        site_id=site_id,
        utterance_id=f"nr-{n:05d}",
        text="what a lovely day",
        confidence=0.31,
        start_time=now - 0.8,
        end_time=now,
        reason="below threshold",
        tokens=(TokenInfo("\u2581what", 0.5, 0.0, 0.1),),
    )
