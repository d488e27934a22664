"""Streaming CTC greedy search: per-frame argmax, repeats collapsed, blanks dropped."""

from __future__ import annotations

import logging
import math

import numpy as np

from runtime.decoding.hypothesis import Hypothesis

_LOGGER = logging.getLogger(__name__)


class CtcGreedySearch:
    """Keeps the collapsed best path across chunks; each token's confidence is its peak frame probability."""

    def __init__(self, blank_id: int = 0) -> None:
        self.blank_id = blank_id
        self.reset()

    def reset(self) -> None:
        """Forget everything decoded so far."""
        self._ids: list[int] = []
        self._frames: list[int] = []
        self._logps: list[float] = []
        self._probs: list[float] = []
        self._log_conf_sum = 0.0
        self._score = 0.0
        self._last = self.blank_id
        self._num_frames = 0
        self._blank_logp_sum = 0.0

    def accept(self, logprobs: np.ndarray) -> None:
        """Extend the path with a (T, V) block of log-probs."""
        if not len(logprobs):
            return
        best = logprobs.argmax(axis=1)
        best_logp = logprobs[np.arange(len(best)), best]
        self._score += float(best_logp.sum())
        prev = np.concatenate(([self._last], best[:-1]))
        for t in np.flatnonzero(best != self.blank_id):
            token, logp = int(best[t]), float(best_logp[t])
            if token != prev[t]:
                self._ids.append(token)
                self._frames.append(self._num_frames + int(t))
                self._logps.append(logp)
                self._probs.append(math.exp(logp))
                self._log_conf_sum += logp
            elif logp > self._logps[-1]:  # the same token continues: keep its peak frame
                self._frames[-1] = self._num_frames + int(t)
                self._log_conf_sum += logp - self._logps[-1]
                self._logps[-1] = logp
                self._probs[-1] = math.exp(logp)
        self._last = int(best[-1])
        self._num_frames += len(best)

    def result(self) -> Hypothesis:
        """The best path so far."""
        confidence = math.exp(self._log_conf_sum / len(self._ids)) if self._ids else 1.0
        return Hypothesis(tuple(self._ids), tuple(self._frames), tuple(self._probs), self._score, confidence)

    def has_tokens(self) -> bool:
        """Whether anything has been decoded."""
        return bool(self._ids)
