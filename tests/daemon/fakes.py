"""Scripted stand-ins for the recognizer, grammar decoder and event sink (pipeline unit tests only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np


@dataclass(frozen=True)
class FakeResult:
    logprobs: np.ndarray
    frame_shift_ms: int
    text: str = ""


class ScriptedSession:
    """Counts the audio it is fed; its 'log-probs' have one row per 40 ms of audio."""

    def __init__(self, recognizer: "ScriptedRecognizer") -> None:
        self._rec = recognizer
        self.samples = 0

    def accept_waveform(self, samples: np.ndarray) -> None:
        self.samples += len(samples)
        self._rec.feeds.append(len(samples))

    def endpoint_detected(self) -> bool:
        return self._rec.endpoint_after_samples is not None and self.samples >= self._rec.endpoint_after_samples

    def finalize(self) -> FakeResult:
        self._rec.finalized.append(self.samples)
        return FakeResult(np.zeros((self.samples // 640, 5), np.float32), 40, "free text")

    def reset(self) -> None:
        self.samples = 0
        self._rec.resets += 1


class ScriptedRecognizer:
    frame_shift_ms = 40

    def __init__(self, endpoint_after_samples: Optional[int] = None) -> None:
        self.endpoint_after_samples = endpoint_after_samples
        self.feeds: list[int] = []
        self.finalized: list[int] = []
        self.resets = 0

    def create_session(self) -> ScriptedSession:
        return ScriptedSession(self)


@dataclass(frozen=True)
class FakeGrammarResult:
    recognized: bool
    intent: Optional[str]
    slots: dict
    raw_slots: dict
    text: str
    free_text: str
    confidence: float
    margin: float = 1.0
    tokens: tuple = ()


class ScriptedDecoder:
    """Recognises ``intent`` when the utterance had at least ``min_frames`` frames, otherwise rejects it."""

    def __init__(self, intent: str = "light_on", min_frames: int = 10, text: str = "turn on the light") -> None:
        self.intent, self.min_frames, self.text = intent, min_frames, text
        self.calls: list[tuple[int, int]] = []

    def decode_result(self, result) -> FakeGrammarResult:
        return self.decode(result.logprobs, result.frame_shift_ms)

    def decode(self, logprobs: np.ndarray, frame_shift_ms: int) -> FakeGrammarResult:
        self.calls.append((len(logprobs), frame_shift_ms))
        if len(logprobs) >= self.min_frames:
            return FakeGrammarResult(True, self.intent, {"area": "kitchen"}, {"area": "kitchen"}, self.text,
                                     self.text, 0.9, tokens=(("▁TURN", 0, 120, 0.8), ("▁ON", 120, 200, 0.9)))
        return FakeGrammarResult(False, None, {}, {}, "", "mumble", 0.2)


@dataclass
class RecordingSink:
    intents: list = field(default_factory=list)
    not_recognized: list = field(default_factory=list)
    states: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    discovery: list = field(default_factory=list)
    started: bool = False
    stopped: bool = False
    on_command: Optional[Callable[[str, dict], None]] = None

    def start(self) -> None:
        self.started = True

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped = True

    def publish_intent(self, event: Any) -> None:
        self.intents.append(event)

    def publish_not_recognized(self, event: Any) -> None:
        self.not_recognized.append(event)

    def publish_state(self, state: dict) -> None:
        self.states.append(state)

    def publish_error(self, message: str) -> None:
        self.errors.append(message)

    def publish_discovery(self, names: Any) -> None:
        self.discovery.append(list(names))
