"""Thin adapter from the board's ``hobot_dnn.pyeasy_dnn`` models to the BPU feeding code's TensorEngine."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from runtime.errors import BackendUnavailableError, ModelLoadError
from runtime.models.bpu import TensorEngine

_LOGGER = logging.getLogger(__name__)

# X3 images ship hobot_dnn for the system Python; X5's PyPI wheel is hobot-dnn-rdkx5.
_MODULES = ("hobot_dnn.pyeasy_dnn", "hobot_dnn_rdkx5.pyeasy_dnn")


def import_pyeasy_dnn() -> Any:
    """Import the board's pyeasy_dnn or raise BackendUnavailableError saying where it comes from."""
    for name in _MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise BackendUnavailableError(
        "backend 'bpu' needs hobot_dnn.pyeasy_dnn, which is not importable; it comes with the RDK X3 system image "
        "(system Python 3.10, package hobot-dnn; on RDK X5: pip install hobot-dnn-rdkx5). Elsewhere use "
        "--backend bpu-onnx with the BPU-form encoder.onnx/ctc.onnx, or a CPU export with --backend onnx"
    )


class HobotDnnEngine(TensorEngine):
    """One ``.bin`` model loaded with pyeasy_dnn."""

    def __init__(self, path: Path, dnn: Any) -> None:
        self.path = path
        if not path.is_file():
            raise ModelLoadError(f"{path}: file is missing")
        try:
            models = dnn.load(str(path))
        except Exception as exc:  # pyeasy_dnn raises RuntimeError; anything else is just as fatal here
            raise ModelLoadError(f"{path}: pyeasy_dnn cannot load it (truncated or corrupt?): {exc}") from None
        if not models:
            raise ModelLoadError(f"{path}: pyeasy_dnn loaded no model from it")
        self._model = models[0]
        self.input_names = [t.name for t in self._model.inputs]
        self.output_names = [t.name for t in self._model.outputs]
        self.input_shapes = [tuple(int(d) for d in t.properties.shape) for t in self._model.inputs]
        self.output_shapes = [tuple(int(d) for d in t.properties.shape) for t in self._model.outputs]
        for tensor in self._model.inputs:
            if str(tensor.properties.dtype) != "float32":
                raise ModelLoadError(
                    f"{path}: input '{tensor.name}' is {tensor.properties.dtype}; WeNet's BPU models take float32 "
                    "featuremap inputs (convert with input_type_rt featuremap)"
                )
        self._scales = [self._output_scale(t) for t in self._model.outputs]

    @staticmethod
    def _output_scale(tensor: Any) -> np.ndarray | None:
        """Per-channel dequantisation scale of a quantised output, or None for float32 outputs."""
        if str(tensor.properties.dtype) == "float32":
            return None
        scale = np.asarray(getattr(tensor.properties, "scale_data", ()), dtype=np.float32)
        if scale.size == 0:
            return np.ones(1, dtype=np.float32)
        return scale.reshape((1, -1, 1, 1)) if scale.size > 1 else scale

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Forward the arrays (input order) on the BPU; dequantise outputs if needed."""
        arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in inputs]
        outputs = self._model.forward(arrays if len(arrays) > 1 else arrays[0])
        result = []
        for tensor, scale in zip(outputs, self._scales):
            buffer = np.asarray(tensor.buffer)
            result.append(buffer.astype(np.float32) * scale if scale is not None else buffer.astype(np.float32, copy=False))
        return result
