"""What every streaming CTC model backend offers: its geometry and a per-chunk forward pass."""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelGeometry:
    """Sizes that decide how features are chunked; all read from model metadata or tensor shapes."""

    chunk_size: int  # encoder output frames per chunk; <= 0 means non-streaming (one call per utterance)
    left_chunks: int  # attention history in chunks; 0 none, < 0 unlimited
    subsampling: int  # feature frames per encoder output frame
    right_context: int  # extra feature frames the subsampling front needs
    feature_dim: int
    vocab_size: int
    output_size: int

    @property
    def streaming(self) -> bool:
        """True when the model runs chunk by chunk."""
        return self.chunk_size > 0

    @property
    def decoding_window(self) -> int:
        """Feature frames per full call: (C−1)·S + R + 1."""
        return (self.chunk_size - 1) * self.subsampling + self.right_context + 1

    @property
    def stride(self) -> int:
        """New feature frames per call after the first: C·S."""
        return self.chunk_size * self.subsampling

    @property
    def min_frames(self) -> int:
        """Fewest feature frames that produce one output frame (R + 1)."""
        return self.right_context + 1

    def output_frames(self, num_feature_frames: int) -> int:
        """Encoder frames produced from ``num_feature_frames`` input frames.

        WeNet's subsampling fronts are chains of kernel-3 stride-2 convolutions (plus one kernel-3 stride-3 for
        conv2d6) whose receptive field is R+1 frames and stride S, so output t exists iff t·S + R < T:
        ``(T − R − 1)//S + 1``. For conv2d8 this is exactly ``(((T−1)//2 − 1)//2 − 1)//2``.
        """
        if num_feature_frames < self.min_frames:
            return 0
        return (num_feature_frames - self.right_context - 1) // self.subsampling + 1


class StreamingModel(abc.ABC):
    """A loaded encoder + CTC pair; per-utterance state lives in the object ``new_state()`` returns."""

    kind: str = ""
    geometry: ModelGeometry
    model_dir: Path

    @abc.abstractmethod
    def new_state(self) -> Any:
        """Fresh caches for a new utterance."""

    @abc.abstractmethod
    def forward(self, state: Any, feats: np.ndarray) -> np.ndarray:
        """Run one call on (T, F) float32 fbank frames (R+1 ≤ T ≤ window); return (n, V) CTC log-probs."""

    def info(self) -> dict[str, Any]:
        """Facts about the model for logs and ``Recognizer.info``."""
        g = self.geometry
        return {
            "kind": self.kind,
            "model_dir": str(self.model_dir),
            "chunk_size": g.chunk_size,
            "left_chunks": g.left_chunks,
            "subsampling": g.subsampling,
            "right_context": g.right_context,
            "decoding_window": g.decoding_window if g.streaming else None,
            "feature_dim": g.feature_dim,
            "vocab_size": g.vocab_size,
            "output_size": g.output_size,
        }

    @property
    def session_run_seconds(self) -> float:
        """Seconds spent inside the inference engine (ONNX session / BPU) so far; for benchmarks."""
        return getattr(self, "_engine_seconds", 0.0)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float32."""
    logits = logits.astype(np.float32, copy=False)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
