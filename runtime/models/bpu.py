"""WeNet's X3 BPU export (export_onnx_bpu.py / encoder.bin + ctc.bin): static NCHW tensors, fed like bpu_asr_model.cc.

The same feeding code serves the real board (``hobot_dnn.pyeasy_dnn``) and onnxruntime running the BPU-form
ONNX files; only the ``TensorEngine`` underneath differs. Everything is derived from tensor shapes, because
nothing else survives the conversion to ``.bin``.
"""

from __future__ import annotations

import abc
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from runtime.errors import ModelLoadError
from runtime.models.base import ModelGeometry, StreamingModel, log_softmax

_LOGGER = logging.getLogger(__name__)

ENCODER_INPUTS = ("chunk", "att_cache", "cnn_cache", "att_mask")
ENCODER_OUTPUTS = ("output", "r_att_cache", "r_cnn_cache")


class TensorEngine(abc.ABC):
    """One compiled graph with static shapes: ordered inputs/outputs and a run call."""

    path: Path
    input_names: list[str]
    input_shapes: list[tuple[int, ...]]
    output_names: list[str]
    output_shapes: list[tuple[int, ...]]

    @abc.abstractmethod
    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run on float32 arrays in input order; return float32 arrays in output order."""


class OnnxTensorEngine(TensorEngine):
    """A BPU-form ONNX graph run by onnxruntime."""

    def __init__(self, path: Path, session: Any) -> None:
        self.path = path
        self._session = session
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        self.input_shapes = [self._static(i) for i in session.get_inputs()]
        self.output_shapes = [self._static(o) for o in session.get_outputs()]

    def _static(self, arg: Any) -> tuple[int, ...]:
        shape = tuple(arg.shape)
        if not all(isinstance(d, int) for d in shape):
            raise ModelLoadError(f"{self.path}: '{arg.name}' has dynamic shape {list(shape)}; not a BPU-form export")
        return shape

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Feed by name in declared order."""
        return self._session.run(self.output_names, dict(zip(self.input_names, inputs)))


@dataclass
class BpuState:
    """Per-utterance state: caches looped back from the previous call, the mask and the 1-based chunk id."""

    att_cache: np.ndarray
    cnn_cache: np.ndarray
    att_mask: np.ndarray
    chunk: np.ndarray  # the input window, reused every call
    chunk_id: int = 0


def _ordered(engine: TensorEngine, names: Sequence[str], what: str) -> list[int]:
    """Positions of ``names`` among the engine's tensors: by name when all are present, else by position."""
    have = engine.input_names if what == "input" else engine.output_names
    if set(names) <= set(have):
        return [have.index(n) for n in names]
    if len(have) != len(names):
        raise ModelLoadError(f"{engine.path}: expected {len(names)} {what}s ({', '.join(names)}), found {len(have)}")
    return list(range(len(names)))


class BpuModel(StreamingModel):
    """Streaming encoder + CTC with 4-D static tensors (1, C, H, W)."""

    def __init__(self, model_dir: Path, encoder: TensorEngine, ctc: TensorEngine, kind: str) -> None:
        self.model_dir = model_dir
        self.kind = kind
        self._encoder = encoder
        self._ctc = ctc
        self._engine_seconds = 0.0
        self._in_order = _ordered(encoder, ENCODER_INPUTS, "input")
        self._out_order = _ordered(encoder, ENCODER_OUTPUTS, "output")
        shapes = [encoder.input_shapes[i] for i in self._in_order]
        for name, shape in zip(ENCODER_INPUTS, shapes):
            if len(shape) != 4 or shape[0] != 1:
                raise ModelLoadError(f"{encoder.path}: input '{name}' has shape {list(shape)}, expected 4-D (1, C, H, W)")
        if len(ctc.input_shapes) != 1 or len(ctc.output_shapes) != 1:
            raise ModelLoadError(f"{ctc.path}: expected one input and one output")
        chunk_shape, att_shape, cnn_shape, mask_shape = shapes
        ctc_in, ctc_out = ctc.input_shapes[0], ctc.output_shapes[0]
        if len(ctc_in) != 4 or len(ctc_out) != 4:
            raise ModelLoadError(f"{ctc.path}: expected 4-D (1, D, 1, C) tensors, got {list(ctc_in)} -> {list(ctc_out)}")
        window, feature_dim = chunk_shape[2], chunk_shape[3]
        chunk = ctc_in[3]
        heads = mask_shape[1]
        self._cache_frames = att_shape[3]
        hidden = ctc_in[1]
        problems = []
        if mask_shape[2] != chunk or mask_shape[3] != self._cache_frames + chunk:
            problems.append(f"att_mask {list(mask_shape)} does not fit chunk {chunk} and cache {self._cache_frames}")
        if self._cache_frames % chunk or self._cache_frames == 0:
            problems.append(f"att_cache length {self._cache_frames} is not a positive multiple of chunk {chunk}")
        if att_shape[1] % heads:
            problems.append(f"att_cache channels {att_shape[1]} are not layers x {heads} heads")
        if cnn_shape[1] != hidden:
            problems.append(f"cnn_cache width {cnn_shape[1]} differs from the CTC hidden size {hidden}")
        # W = (C−1)·S + R + 1 with WeNet's R = 2S − 2 for every subsampling front (conv2d 4/6, conv2d6 6/10,
        # conv2d8 8/14) gives S = (W + 1)/(C + 1); the board runtime hard-codes S=8, R=14 and checks W == 8C + 7.
        subsampling, rest = divmod(window + 1, chunk + 1)
        if rest or subsampling < 2:
            problems.append(f"chunk window {window} does not fit {chunk} output frames of a WeNet subsampling front")
        if problems:
            raise ModelLoadError(f"{encoder.path}: " + "; ".join(problems))
        self.num_layers = att_shape[1] // heads
        self.head = heads
        self.geometry = ModelGeometry(
            chunk_size=chunk,
            left_chunks=self._cache_frames // chunk,
            subsampling=subsampling,
            right_context=window - 1 - (chunk - 1) * subsampling,
            feature_dim=feature_dim,
            vocab_size=ctc_out[1],
            output_size=hidden,
        )
        self._shapes = shapes

    def info(self) -> dict[str, Any]:
        """Geometry plus layer/head counts derived from the shapes."""
        out = super().info()
        out.update(num_blocks=self.num_layers, head=self.head)
        return out

    def new_state(self) -> BpuState:
        """All-zero caches and mask, as the C++ runtime's Reset() leaves them."""
        chunk_shape, att_shape, cnn_shape, mask_shape = self._shapes
        return BpuState(
            att_cache=np.zeros(att_shape, dtype=np.float32),
            cnn_cache=np.zeros(cnn_shape, dtype=np.float32),
            att_mask=np.zeros(mask_shape, dtype=np.float32),
            chunk=np.zeros(chunk_shape, dtype=np.float32),
        )

    def forward(self, state: BpuState, feats: np.ndarray) -> np.ndarray:
        """One chunk: zero-padded input, float mask, looped caches, log_softmax over the CTC logits."""
        g = self.geometry
        valid = len(feats)
        chunk = state.chunk
        chunk[0, 0, :valid] = feats
        chunk[0, 0, valid:] = 0.0
        state.chunk_id += 1
        total = self._cache_frames + g.chunk_size
        seen = state.chunk_id * g.chunk_size
        if seen <= total:
            state.att_mask[...] = 0.0
            state.att_mask[..., total - seen:] = 1.0
        keep = g.output_frames(valid)
        mask = state.att_mask
        if keep < g.chunk_size:
            # A short last chunk: the C++ runtime lets real frames attend to the frames made from zero
            # padding (up to 0.14 log-prob off); masking those keys makes the kept frames exact. The
            # caches after this call are never used.
            mask = mask.copy()
            mask[..., total - (g.chunk_size - keep):] = 0.0
        inputs: list[np.ndarray] = [np.empty(0)] * 4
        for slot, value in zip(self._in_order, (chunk, state.att_cache, state.cnn_cache, mask)):
            inputs[slot] = value
        start = time.perf_counter()
        outputs = self._encoder.run(inputs)
        output = outputs[self._out_order[0]]
        logits = self._ctc.run([np.ascontiguousarray(output, dtype=np.float32)])[0]
        self._engine_seconds += time.perf_counter() - start
        state.att_cache = np.ascontiguousarray(outputs[self._out_order[1]], dtype=np.float32)
        state.cnn_cache = np.ascontiguousarray(outputs[self._out_order[2]], dtype=np.float32)
        # (1, V, 1, C) class-major -> (C, V), made contiguous first (3× faster reductions); the graph has no softmax.
        return log_softmax(np.ascontiguousarray(logits[0, :, 0, :keep].T))
