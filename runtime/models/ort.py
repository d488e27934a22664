"""ONNX Runtime access: lazy import, session creation with one-line load errors, timed runs."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from runtime.errors import BackendUnavailableError, ModelLoadError

_LOGGER = logging.getLogger(__name__)


def import_onnxruntime(backend: str) -> Any:
    """Import onnxruntime or raise BackendUnavailableError saying how to install it."""
    try:
        return importlib.import_module("onnxruntime")
    except ImportError:
        raise BackendUnavailableError(
            f"backend '{backend}' needs onnxruntime, which is not installed; "
            "install it with 'pip install onnxruntime' (or 'pip install voicecmd[cpu]')"
        ) from None


def create_session(path: Path, backend: str, num_threads: int = 1, spinning: bool = True, prepack: bool = True,
                   arena: bool = True) -> Any:
    """An InferenceSession on ``path`` (sequential, ``num_threads`` intra-op threads); ModelLoadError if unusable.

    ``spinning=False`` stops idle intra-op threads from busy-waiting: several times faster when other processes
    want the same cores (a busy board), at a small cost on an idle machine. ``arena=False`` gives every tensor back
    when a run ends instead of keeping ONNX Runtime's memory arena at its largest run so far: for inputs whose size
    changes with each utterance."""
    ort = import_onnxruntime(backend)
    if not path.is_file():
        raise ModelLoadError(f"{path}: file is missing")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(num_threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not prepack:
        options.add_session_config_entry("session.disable_prepacking", "1")
    options.enable_cpu_mem_arena = bool(arena)
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        reason = " ".join(str(exc).split())
        if len(reason) > 160:
            reason = reason[:157] + "..."
        raise ModelLoadError(f"{path}: not a loadable ONNX model (truncated or corrupt?): {reason}") from None


def metadata(session: Any) -> dict[str, str]:
    """The model's custom metadata map (WeNet writes its export settings there)."""
    try:
        return dict(session.get_modelmeta().custom_metadata_map)
    except Exception:  # pragma: no cover - defensive: metadata is optional
        return {}
