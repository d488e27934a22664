"""Fake ``hobot_dnn.pyeasy_dnn``: load/Model/pyDNNTensor/TensorProperties backed by onnxruntime (spec §7)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import onnxruntime

# Records every forward call (model name, core_id, priority) so tests can see the BPU path was used.
FORWARD_LOG: list[tuple[str, int, int]] = []


class TensorProperties:
    """validShape and types of one tensor, with the attribute names of the board library."""

    def __init__(self, shape: Sequence[int]) -> None:
        self.tensor_type = "float32"
        self.dtype = "float32"
        self.layout = "NCHW"
        self.shape = tuple(int(d) for d in shape)
        self.scale_data = np.zeros(0, dtype=np.float32)


class pyDNNTensor:  # noqa: N801 - the board library's class name
    """A named tensor; ``buffer`` is filled on outputs."""

    def __init__(self, name: str, shape: Sequence[int], buffer: np.ndarray | None = None) -> None:
        self.name = name
        self.properties = TensorProperties(shape)
        self.buffer = buffer


class Model:
    """One loaded model file."""

    def __init__(self, path: Path) -> None:
        try:
            self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise RuntimeError(f"Load model failed: {path}: {exc}") from None
        self.name = path.stem
        self.estimate_latency = 0
        self.inputs = tuple(pyDNNTensor(i.name, i.shape) for i in self._session.get_inputs())
        self.outputs = tuple(pyDNNTensor(o.name, o.shape) for o in self._session.get_outputs())
        for tensor in self.inputs + self.outputs:
            if len(tensor.properties.shape) != 4:
                raise RuntimeError(f"Load model failed: {path}: tensor {tensor.name} is not 4-D")

    def forward(self, arg: Any, core_id: int = 0, priority: int = 0) -> list[pyDNNTensor]:
        """Run on one array (single input) or a list of arrays in input order."""
        arrays = list(arg) if isinstance(arg, (list, tuple)) else [arg]
        if len(arrays) != len(self.inputs):
            raise ValueError(f"{self.name}: expected {len(self.inputs)} inputs, got {len(arrays)}")
        feeds = {}
        for tensor, array in zip(self.inputs, arrays):
            if not isinstance(array, np.ndarray):
                raise TypeError("Each element in arg_obj must be a NumPy array")
            if array.dtype != np.float32:
                raise ValueError(f"{self.name}: input {tensor.name} expects float32, but got: {array.dtype}")
            if tuple(array.shape) != tensor.properties.shape:
                raise ValueError(
                    f"Invalid data size for input {tensor.name}: shape {array.shape}, expected {tensor.properties.shape}"
                )
            feeds[tensor.name] = np.ascontiguousarray(array)
        FORWARD_LOG.append((self.name, core_id, priority))
        results = self._session.run(None, feeds)
        return [pyDNNTensor(t.name, t.properties.shape, np.array(r, dtype=np.float32, copy=True)) for t, r in zip(self.outputs, results)]


def load(path: str | Sequence[str]) -> list[Model]:
    """Load one model per file; RuntimeError if a file cannot be loaded."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    return [Model(Path(p)) for p in paths]
