"""Errors raised by the speech runtime; each message is one line that names the file or value at fault."""

from __future__ import annotations

import numpy as np


class SpeechRuntimeError(Exception):
    """Base class of every runtime error."""


class ModelLoadError(SpeechRuntimeError):
    """A model directory is missing files, has corrupt/truncated files or inconsistent shapes."""


class BackendUnavailableError(ModelLoadError):
    """The backend's library (onnxruntime, hobot_dnn) is not installed; the message says how to get it."""


class AudioFormatError(SpeechRuntimeError):
    """Audio handed to the runtime is not 16 kHz mono 16-bit PCM."""


class DecodeCancelled(SpeechRuntimeError):
    """A decode ahead of the endpoint was stopped: speech resumed, so its result is no longer wanted."""


def checked_pcm16_mono(samples) -> np.ndarray:
    """``samples`` as an array when they are 1-D int16 (16 kHz mono PCM), else AudioFormatError."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16:
        raise AudioFormatError(f"expected int16 samples (16 kHz mono PCM), got {samples.dtype}")
    if samples.ndim != 1:
        raise AudioFormatError(f"expected a 1-D array of mono samples, got shape {samples.shape}")
    return samples
