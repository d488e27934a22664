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


def default_model_dir() -> Path:
    """The bundled model: $VOICECMD_MODEL_DIR, the .deb's copy, or ``models/default`` of a checkout."""
    if "VOICECMD_MODEL_DIR" in os.environ:
        return Path(os.environ["VOICECMD_MODEL_DIR"])
    return _first_existing(INSTALLED_SHARE / "model", SOURCE_ROOT / "models" / "default")


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
