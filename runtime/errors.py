"""Errors raised by the speech runtime; each message is one line that names the file or value at fault."""

from __future__ import annotations


class SpeechRuntimeError(Exception):
    """Base class of every runtime error."""


class ModelLoadError(SpeechRuntimeError):
    """A model directory is missing files, has corrupt/truncated files or inconsistent shapes."""


class BackendUnavailableError(ModelLoadError):
    """The backend's library (onnxruntime, hobot_dnn) is not installed; the message says how to get it."""


class AudioFormatError(SpeechRuntimeError):
    """Audio handed to the runtime is not 16 kHz mono 16-bit PCM."""
