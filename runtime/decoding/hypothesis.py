"""The result of a CTC search: tokens with times and confidences."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Hypothesis:
    """Token ids with the CTC frame of each token and its probability there; ``score`` is the log-prob."""

    token_ids: tuple[int, ...] = ()
    frames: tuple[int, ...] = ()
    token_probs: tuple[float, ...] = ()
    score: float = 0.0
    confidence: float = 1.0


def geometric_mean(probs: tuple[float, ...], default: float) -> float:
    """exp(mean(log p)), or ``default`` for no tokens."""
    if not probs:
        return default
    return math.exp(sum(math.log(max(p, 1e-30)) for p in probs) / len(probs))
