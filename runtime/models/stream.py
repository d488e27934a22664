"""Cuts a stream of fbank frames into the encoder calls WeNet's C++ AsrModel makes, and runs them."""

from __future__ import annotations

import logging

import numpy as np

from runtime.models.base import StreamingModel

_LOGGER = logging.getLogger(__name__)

# A non-streaming model runs once at the end; until then frames are taken in batches of this size.
_NON_STREAMING_BATCH = 128


class EncoderStream:
    """Feeds frames to a StreamingModel chunk by chunk: windows of W frames with stride C·S.

    Each call after the first reuses the last R+1−S frames of the previous one, so every full call is
    exactly W frames. At the end a shorter call is made if it has at least R+1 frames; a non-streaming
    model (chunk_size <= 0) gets the whole utterance in one call at the end.
    """

    def __init__(self, model: StreamingModel) -> None:
        self.model = model
        g = model.geometry
        self._window = g.decoding_window if g.streaming else 0
        self._stride = g.stride if g.streaming else 0
        self._buffer = np.zeros((256, g.feature_dim), dtype=np.float32)
        self.reset()

    def reset(self, keep_unread: bool = False) -> None:
        """New utterance: fresh model state; buffered frames are dropped unless ``keep_unread`` keeps the ones
        no call has read yet (WeNet's continuous decoding resets the model, not the feature pipeline)."""
        self._state = self.model.new_state()
        if keep_unread and getattr(self, "_pending_new", 0):
            unread = self._buffer[self._size - self._pending_new:self._size].copy()
            self._buffer[: len(unread)] = unread
            self._size = self._pending_new = len(unread)
        else:
            self._size = 0
            self._pending_new = 0  # frames in the buffer not yet read as new frames by any call
        self._had_call = False

    @property
    def frames_wanted(self) -> int:
        """New frames that would let the next call run (a non-streaming model just takes frames in batches)."""
        if not self._window:
            return _NON_STREAMING_BATCH
        return max(1, self._window - self._size)

    def _append(self, feats: np.ndarray) -> None:
        need = self._size + len(feats)
        if need > len(self._buffer):
            grown = np.zeros((max(need, 2 * len(self._buffer)), self._buffer.shape[1]), dtype=np.float32)
            grown[: self._size] = self._buffer[: self._size]
            self._buffer = grown
        self._buffer[self._size:need] = feats
        self._size = need
        self._pending_new += len(feats)

    def accept(self, feats: np.ndarray) -> list[np.ndarray]:
        """Add (n, F) frames; return the log-prob blocks of every call that became complete."""
        if len(feats):
            self._append(feats)
        if not self._window:
            return []
        out = []
        start = 0
        while self._size - start >= self._window:
            out.append(self.model.forward(self._state, self._buffer[start:start + self._window]))
            start += self._stride
            self._had_call = True
        if start:
            keep = self._size - start
            self._buffer[:keep] = self._buffer[start:self._size]
            self._size = keep
            self._pending_new = max(0, keep - (self._window - self._stride))
        return out

    def flush(self) -> np.ndarray | None:
        """Run the final short call (if it has enough frames and anything new); None otherwise."""
        g = self.model.geometry
        if not self._window:
            frames = self._buffer[: self._size]
            self._size = 0
            if len(frames) < g.min_frames:
                return None
            return self.model.forward(self._state, frames)
        # Frames already seen as the overlap of a previous call produce no output unless new ones follow.
        if self._size < g.min_frames or (self._had_call and self._pending_new == 0):
            return None
        frames = self._buffer[: self._size]
        self._size = 0
        self._pending_new = 0
        return self.model.forward(self._state, frames)
