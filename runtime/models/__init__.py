"""Model backends: WeNet CPU ONNX, BPU-form ONNX on onnxruntime, and X3 BPU ``.bin`` through hobot_dnn."""

from __future__ import annotations

from runtime.models.base import ModelGeometry, StreamingModel
from runtime.models.loader import BACKENDS, load_model

__all__ = ["BACKENDS", "ModelGeometry", "StreamingModel", "load_model"]
