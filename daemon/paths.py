"""Where the bundled model, grammars, demo audio and default config live (installed .deb or source checkout)."""

from __future__ import annotations

import os
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent
INSTALLED_SHARE = Path("/usr/share/voicecmd")
INSTALLED_ETC = Path("/etc/voicecmd")


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[-1]


#: Backends that run WeNet encoder + CTC models only (the X3 Pi's BPU and its ONNX stand-in).
WENET_ONLY_BACKENDS = ("bpu", "bpu-onnx")


def default_model_dir(backend: str = "auto") -> Path:
    """The bundled model: $VOICECMD_MODEL_DIR, else the default recognizer for ``backend``: Whisper base on the CPU
    (the .deb's ``model`` or ``models/whisper-base`` of a checkout), the project's WeNet model for the BPU backends
    (``model-wenet`` or ``models/default``)."""
    if "VOICECMD_MODEL_DIR" in os.environ:
        return Path(os.environ["VOICECMD_MODEL_DIR"])
    if backend == "bpu-onnx":  # the BPU-form export (4-D tensors) lives in the model's bpu/ directory
        return default_wenet_model_dir() / "bpu"
    if backend in WENET_ONLY_BACKENDS:
        return default_wenet_model_dir()
    return _first_existing(INSTALLED_SHARE / "model", SOURCE_ROOT / "models" / "whisper-base")


def default_wenet_model_dir() -> Path:
    """The project's own small streaming WeNet model (CPU ONNX + BPU form), for the X3 Pi's BPU."""
    return _first_existing(INSTALLED_SHARE / "model-wenet", SOURCE_ROOT / "models" / "default")


def default_grammar_dir() -> Path:
    """The shipped grammars: $VOICECMD_GRAMMAR_DIR, /etc/voicecmd/grammars, or ``grammars/`` of a checkout."""
    if "VOICECMD_GRAMMAR_DIR" in os.environ:
        return Path(os.environ["VOICECMD_GRAMMAR_DIR"])
    return _first_existing(INSTALLED_ETC / "grammars", SOURCE_ROOT / "grammars")


def default_demo_audio_dir() -> Path:
    """Bundled demo recordings used when no microphone exists: $VOICECMD_DEMO_AUDIO_DIR or the shipped ones."""
    if "VOICECMD_DEMO_AUDIO_DIR" in os.environ:
        return Path(os.environ["VOICECMD_DEMO_AUDIO_DIR"])
    return _first_existing(INSTALLED_SHARE / "demo", SOURCE_ROOT / "demo" / "audio")
