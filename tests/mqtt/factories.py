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
        tokens=_units(text, [(0.99, 0.10, 0.22), (0.97, 0.22, 0.30), (0.95, 0.30, 0.52), (0.96, 0.52, 0.70)]),
        language="en",
    )


def _units(text: str, known: list[tuple[float, float, float]]) -> tuple[TokenInfo, ...]:
    """One WeNet-style unit (``▁WORD``) per word of ``text``: the ``known`` (confidence, start, end) first, then
    0.9 confidence and 0.1 s each."""
    out = []
    for i, word in enumerate(text.split()):
        conf, start, end = known[i] if i < len(known) else (0.9, out[-1].end_s, out[-1].end_s + 0.1)
        out.append(TokenInfo("\u2581" + word.upper(), conf, start, end))
    return tuple(out)


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
        tokens=_units("what a lovely day", [(0.5, 0.0, 0.1)]),
    )
