"""Open a model directory: detect which WeNet export it holds and build the matching backend."""

from __future__ import annotations

import logging
from pathlib import Path

from runtime.errors import ModelLoadError
from runtime.models.base import StreamingModel

_LOGGER = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx", "bpu-onnx", "bpu")


def detect_files(model_dir: Path) -> str:
    """'bin' for encoder.bin + ctc.bin, 'onnx' for encoder.onnx + ctc.onnx; ModelLoadError otherwise."""
    if not model_dir.is_dir():
        raise ModelLoadError(f"{model_dir}: model directory does not exist")
    if (model_dir / "encoder.bin").exists() or (model_dir / "ctc.bin").exists():
        for name in ("encoder.bin", "ctc.bin"):
            if not (model_dir / name).is_file():
                raise ModelLoadError(f"{model_dir / name}: file is missing (a BPU model needs encoder.bin and ctc.bin)")
        return "bin"
    if (model_dir / "encoder.onnx").exists() or (model_dir / "ctc.onnx").exists():
        for name in ("encoder.onnx", "ctc.onnx"):
            if not (model_dir / name).is_file():
                raise ModelLoadError(f"{model_dir / name}: file is missing (an ONNX model needs encoder.onnx and ctc.onnx)")
        return "onnx"
    raise ModelLoadError(
        f"{model_dir}: no model found; expected encoder.onnx + ctc.onnx + units.txt (CPU or BPU-form ONNX) "
        "or encoder.bin + ctc.bin + units.txt (X3 BPU)"
    )


def load_model(model_dir: str | Path, backend: str = "auto", num_threads: int = 1) -> StreamingModel:
    """Load the encoder/CTC pair in ``model_dir`` with ``backend`` (auto|onnx|bpu-onnx|bpu).

    A directory with both ``.bin`` and ``.onnx`` files (onnx2horizonbin's output copied whole) runs the ``.bin``
    pair with ``auto``/``bpu`` and the ONNX pair with ``onnx``/``bpu-onnx``.
    """
    model_dir = Path(model_dir)
    if backend not in BACKENDS:
        raise ModelLoadError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    files = detect_files(model_dir)
    if files == "bin" and backend in ("auto", "bpu"):
        return _load_hobot(model_dir)
    if files == "bin" and not all((model_dir / name).is_file() for name in ("encoder.onnx", "ctc.onnx")):
        raise ModelLoadError(
            f"{model_dir}: holds encoder.bin/ctc.bin, which only backend 'bpu' (the X3 board) can run; "
            f"backend '{backend}' needs encoder.onnx and ctc.onnx beside them"
        )
    if backend == "bpu":
        raise ModelLoadError(f"{model_dir}: backend 'bpu' needs encoder.bin and ctc.bin (hb_mapper output), found ONNX files")
    from runtime.models.ort import create_session

    encoder = create_session(model_dir / "encoder.onnx", backend if backend != "auto" else "onnx", num_threads)
    chunk = next((i for i in encoder.get_inputs() if i.name == "chunk"), None)
    if chunk is None:
        raise ModelLoadError(f"{model_dir / 'encoder.onnx'}: has no 'chunk' input; not a WeNet streaming encoder export")
    bpu_form = len(chunk.shape) == 4
    if bpu_form and backend == "onnx":
        raise ModelLoadError(f"{model_dir / 'encoder.onnx'}: is a BPU-form (static 4-D) export; use --backend bpu-onnx or auto")
    if not bpu_form and backend == "bpu-onnx":
        raise ModelLoadError(f"{model_dir / 'encoder.onnx'}: is a CPU export (dynamic 3-D); use --backend onnx or auto")
    ctc = create_session(model_dir / "ctc.onnx", backend if backend != "auto" else "onnx", num_threads)
    if bpu_form:
        from runtime.models.bpu import BpuModel, OnnxTensorEngine

        return BpuModel(
            model_dir,
            OnnxTensorEngine(model_dir / "encoder.onnx", encoder),
            OnnxTensorEngine(model_dir / "ctc.onnx", ctc),
            kind="bpu-onnx",
        )
    from runtime.models.onnx_cpu import OnnxCpuModel

    return OnnxCpuModel(model_dir, encoder, ctc)


def _load_hobot(model_dir: Path) -> StreamingModel:
    from runtime.models.bpu import BpuModel
    from runtime.models.hobot import HobotDnnEngine, import_pyeasy_dnn

    dnn = import_pyeasy_dnn()
    return BpuModel(
        model_dir,
        HobotDnnEngine(model_dir / "encoder.bin", dnn),
        HobotDnnEngine(model_dir / "ctc.bin", dnn),
        kind="bpu",
    )
