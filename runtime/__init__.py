"""Speech runtime: fbank front end, WeNet model backends (ONNX Runtime, X3 BPU) and CTC search.

This package never imports the service (``daemon``), YAML or MQTT code.
"""

from __future__ import annotations

from runtime.decoding.endpoint import EndpointConfig, EndpointRule
from runtime.errors import AudioFormatError, BackendUnavailableError, ModelLoadError, SpeechRuntimeError
from runtime.recognizer import RecognitionResult, Recognizer, RecognizerSession
from runtime.units import UnitTable

__all__ = [
    "AudioFormatError",
    "BackendUnavailableError",
    "EndpointConfig",
    "EndpointRule",
    "ModelLoadError",
    "RecognitionResult",
    "Recognizer",
    "RecognizerSession",
    "SpeechRuntimeError",
    "UnitTable",
]
