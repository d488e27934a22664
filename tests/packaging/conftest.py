"""Packaging fixtures: the .deb built once per session, the synthesized test WAV, the bundled models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.debroot import REPO_ROOT, build_deb, synthesize_wav

ENGLISH_COMMAND = "turn on the kitchen light"
# (checkout directory, installed directory): the CPU default (Whisper base) and the BPU default (the WeNet model);
# daemon.paths.default_model_dir() / default_wenet_model_dir() read the installed ones.
CPU_MODEL = (REPO_ROOT / "models" / "whisper-base", "/usr/share/voicecmd/model")
WENET_MODEL = (REPO_ROOT / "models" / "default", "/usr/share/voicecmd/model-wenet")
BUNDLED_MODELS = (CPU_MODEL, WENET_MODEL)
DEMO_DIR = "/usr/share/voicecmd/demo"
# Installed demo recordings and the intent each one must give (en_not_a_command must be rejected).
DEMO_INTENTS = {
    "en_turn_on_kitchen_light.wav": ("HassTurnOn", {"area": "kitchen", "device": "light", "domain": "light"}),
    "zh_turn_on_living_room_light.wav": ("HassTurnOn", {"area": "living_room", "device": "light", "domain": "light"}),
}


@pytest.fixture(scope="session")
def deb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """voicecmd_<version>_<arch>.deb built by script/build-deb from this checkout."""
    return build_deb(tmp_path_factory.mktemp("deb"))


@pytest.fixture(scope="session")
def english_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An espeak-ng English command, 16 kHz mono s16le."""
    return synthesize_wav(ENGLISH_COMMAND, "en-us", tmp_path_factory.mktemp("wav") / "en_command.wav")
