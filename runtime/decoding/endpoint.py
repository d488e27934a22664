"""WeNet's CTC endpoint rules: trailing blank frames and utterance length (ctc_endpoint.cc)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class EndpointRule:
    """Fires when (something decoded or not required) and trailing silence and length reach the minimums."""

    must_decoded_sth: bool
    min_trailing_silence_ms: int
    min_utterance_length_ms: int

    def fires(self, decoded: bool, trailing_silence_ms: int, utterance_length_ms: int) -> bool:
        """Whether this rule says the utterance has ended."""
        return (
            (decoded or not self.must_decoded_sth)
            and trailing_silence_ms >= self.min_trailing_silence_ms
            and utterance_length_ms >= self.min_utterance_length_ms
        )


@dataclass(frozen=True)
class EndpointConfig:
    """A frame is silence when P(blank) > blank_threshold; defaults are WeNet's rule1/2/3."""

    blank_threshold: float = 0.8
    rule1: EndpointRule = EndpointRule(False, 5000, 0)
    rule2: EndpointRule = EndpointRule(True, 1000, 0)
    rule3: EndpointRule = EndpointRule(False, 0, 20000)

    def __post_init__(self) -> None:
        if not 0.0 < self.blank_threshold <= 1.0:
            raise ValueError(f"endpoint blank_threshold must be in (0, 1], got {self.blank_threshold}")


class EndpointDetector:
    """Counts trailing blank frames of the streamed CTC output and applies the rules."""

    def __init__(self, config: EndpointConfig, frame_shift_ms: int, blank_id: int = 0) -> None:
        self.config = config
        self.frame_shift_ms = frame_shift_ms
        self.blank_id = blank_id
        self._blank_logp = math.log(config.blank_threshold)
        self.reset()

    def reset(self) -> None:
        """New utterance."""
        self.num_frames = 0
        self.trailing_silence_frames = 0

    def accept(self, logprobs: np.ndarray) -> None:
        """Update the counters with a (T, V) block."""
        if not len(logprobs):
            return
        speech = np.flatnonzero(logprobs[:, self.blank_id] <= self._blank_logp)
        if speech.size:
            self.trailing_silence_frames = len(logprobs) - 1 - int(speech[-1])
        else:
            self.trailing_silence_frames += len(logprobs)
        self.num_frames += len(logprobs)

    def detected(self, decoded: bool) -> bool:
        """Whether any rule fires now; ``decoded`` = the best hypothesis is non-empty."""
        trail = self.trailing_silence_frames * self.frame_shift_ms
        length = self.num_frames * self.frame_shift_ms
        c = self.config
        return any(rule.fires(decoded, trail, length) for rule in (c.rule1, c.rule2, c.rule3))
