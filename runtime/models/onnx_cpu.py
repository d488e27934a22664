"""WeNet's CPU ONNX export (export_onnx_cpu.py) fed exactly as runtime/core's OnnxAsrModel feeds it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import ModelLoadError
from runtime.models.base import ModelGeometry, StreamingModel
from runtime.models.ort import metadata

_LOGGER = logging.getLogger(__name__)

_ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_}


@dataclass
class OnnxCpuState:
    """Per-utterance encoder state: caches, positional offset and the number of calls made."""

    att_cache: np.ndarray
    cnn_cache: np.ndarray
    offset: int
    calls: int = 0


def _static_dim(shape: list[Any], index: int) -> int | None:
    try:
        value = shape[index]
    except IndexError:
        return None
    return value if isinstance(value, int) else None


class OnnxCpuModel(StreamingModel):
    """encoder.onnx + ctc.onnx with dynamic time axes; only the inputs the graph declares are fed."""

    kind = "onnx"

    def __init__(self, model_dir: Path, encoder: Any, ctc: Any) -> None:
        self.model_dir = model_dir
        self._encoder = encoder
        self._ctc = ctc
        self._engine_seconds = 0.0
        enc_path = model_dir / "encoder.onnx"
        self._inputs = {i.name: i for i in encoder.get_inputs()}
        self._input_names = [i.name for i in encoder.get_inputs()]
        self._output_names = [o.name for o in encoder.get_outputs()]
        for name in ("chunk",):
            if name not in self._inputs:
                raise ModelLoadError(f"{enc_path}: encoder has no '{name}' input; not a WeNet streaming export")
        for name in ("output", "r_att_cache", "r_cnn_cache"):
            if name not in self._output_names:
                raise ModelLoadError(f"{enc_path}: encoder has no '{name}' output; not a WeNet streaming export")
        meta = metadata(encoder)
        self.metadata = meta

        def meta_int(key: str, fallback: int | None = None) -> int:
            if key in meta:
                try:
                    return int(meta[key])
                except ValueError:
                    raise ModelLoadError(f"{enc_path}: metadata '{key}' is not an integer: {meta[key]!r}") from None
            if fallback is not None:
                return fallback
            raise ModelLoadError(f"{enc_path}: metadata key '{key}' is missing (export with wenet/bin/export_onnx_cpu.py)")

        chunk_shape = list(self._inputs["chunk"].shape)
        att_shape = list(self._inputs["att_cache"].shape) if "att_cache" in self._inputs else []
        cnn_shape = list(self._inputs["cnn_cache"].shape) if "cnn_cache" in self._inputs else []
        ctc_in = ctc.get_inputs()[0]
        ctc_out = ctc.get_outputs()[0]
        feature_dim = _static_dim(chunk_shape, 2) or meta_int("feature_size")
        output_size = meta_int("output_size", _static_dim(list(ctc_in.shape), 2))
        vocab = _static_dim(list(ctc_out.shape), 2) or meta_int("vocab_size")
        self.num_blocks = meta_int("num_blocks", _static_dim(att_shape, 0) or _static_dim(cnn_shape, 0))
        self.head = meta_int("head", _static_dim(att_shape, 1))
        kernel = meta_int("cnn_module_kernel", (_static_dim(cnn_shape, 3) or 0) + 1)
        self.geometry = ModelGeometry(
            chunk_size=meta_int("chunk_size"),
            left_chunks=meta_int("left_chunks"),
            subsampling=meta_int("subsampling_rate"),
            right_context=meta_int("right_context"),
            feature_dim=feature_dim,
            vocab_size=vocab,
            output_size=output_size,
        )
        if self.head <= 0 or output_size % self.head:
            raise ModelLoadError(f"{enc_path}: output_size {output_size} is not a multiple of head {self.head}")
        d_k = output_size // self.head
        att_last = _static_dim(att_shape, 3)
        self._att_width = att_last if att_last is not None else 2 * d_k
        self._lorder = _static_dim(cnn_shape, 3) if _static_dim(cnn_shape, 3) is not None else max(kernel - 1, 0)
        ctc_hidden = _static_dim(list(ctc_in.shape), 2)
        if ctc_hidden is not None and ctc_hidden != output_size:
            raise ModelLoadError(
                f"{model_dir / 'ctc.onnx'}: takes hidden size {ctc_hidden} but the encoder outputs {output_size}"
            )
        g = self.geometry
        self._cache_frames = g.chunk_size * g.left_chunks if g.left_chunks > 0 and g.streaming else 0
        self._ctc_input = ctc_in.name
        self._ctc_outputs = [ctc_out.name]  # named, so onnxruntime does not rebuild the list every run
        self._prepare_feeds()

    def info(self) -> dict[str, Any]:
        """Geometry plus the ONNX-specific sizes."""
        out = super().info()
        out.update(num_blocks=self.num_blocks, head=self.head, encoder_inputs=list(self._input_names))
        return out

    def new_state(self) -> OnnxCpuState:
        """Zero caches; offset starts at C·L when L > 0, as WeNet's C++ runtime does."""
        return OnnxCpuState(
            att_cache=np.zeros((self.num_blocks, self.head, self._cache_frames, self._att_width), dtype=np.float32),
            cnn_cache=np.zeros((self.num_blocks, 1, self.geometry.output_size, self._lorder), dtype=np.float32),
            offset=self._cache_frames,
        )

    def _prepare_feeds(self) -> None:
        """Check the encoder's inputs once and build the values that never change between calls."""
        g = self.geometry
        known = ("chunk", "offset", "required_cache_size", "att_cache", "cnn_cache", "att_mask")
        for name in self._input_names:
            if name not in known:
                raise ModelLoadError(f"{self.model_dir / 'encoder.onnx'}: unexpected encoder input '{name}'")
        self._dtypes = {name: _ONNX_DTYPES.get(self._inputs[name].type) for name in self._input_names}
        self._constant_feeds: dict[str, np.ndarray] = {}
        if "required_cache_size" in self._inputs:
            required = self._cache_frames if g.left_chunks >= 0 else -1
            dtype = self._dtypes["required_cache_size"] or np.int64
            self._constant_feeds["required_cache_size"] = np.array(required, dtype=dtype)
        mask_dtype = self._dtypes.get("att_mask") or np.bool_
        self._full_mask = np.ones((1, 1, max(0, self._cache_frames + g.chunk_size)), dtype=mask_dtype)

    def _feeds(self, state: OnnxCpuState, feats: np.ndarray) -> dict[str, np.ndarray]:
        g = self.geometry
        feeds = dict(self._constant_feeds)
        feeds["chunk"] = feats[None]
        if "offset" in self._dtypes:
            feeds["offset"] = np.array(state.offset, dtype=self._dtypes["offset"] or np.int64)
        if "att_cache" in self._dtypes:
            feeds["att_cache"] = state.att_cache
        if "cnn_cache" in self._dtypes:
            feeds["cnn_cache"] = state.cnn_cache
        if "att_mask" in self._dtypes:
            empty = max(0, g.left_chunks - state.calls) * g.chunk_size if g.left_chunks > 0 else 0
            if empty:
                # The first (L − i)·C cache slots are still empty zeros for call i < L.
                mask = self._full_mask.copy()
                mask[..., :empty] = False
                feeds["att_mask"] = mask
            else:
                feeds["att_mask"] = self._full_mask
        return feeds

    def forward(self, state: OnnxCpuState, feats: np.ndarray) -> np.ndarray:
        """One encoder call plus CTC; advances offset and caches; returns (T_out, V) log-probs."""
        feeds = self._feeds(state, np.ascontiguousarray(feats, dtype=self._dtypes["chunk"] or np.float32))
        start = time.perf_counter()
        output, att_cache, cnn_cache = self._encoder.run(["output", "r_att_cache", "r_cnn_cache"], feeds)
        logprobs = self._ctc.run(self._ctc_outputs, {self._ctc_input: output})[0]
        self._engine_seconds += time.perf_counter() - start
        if "att_cache" in feeds:
            state.att_cache = att_cache
        if "cnn_cache" in feeds:
            state.cnn_cache = cnn_cache
        state.offset += output.shape[1]
        state.calls += 1
        return logprobs[0]
