"""The result of a CTC search: tokens with times and confidences."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hypothesis:
    """Token ids with the CTC frame of each token and its probability there; ``score`` is the log-prob."""

    token_ids: tuple[int, ...] = ()
    frames: tuple[int, ...] = ()
    token_probs: tuple[float, ...] = ()
    score: float = 0.0
    confidence: float = 1.0
