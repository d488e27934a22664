"""Packaging fixtures: the .deb built once per session, the synthesized test WAV, the model the chroot tests use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.debroot import REPO_ROOT, build_deb, synthesize_wav

ENGLISH_COMMAND = "turn on the kitchen light"


@pytest.fixture(scope="session")
def deb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """voicecmd_<version>_<arch>.deb built by script/build-deb from this checkout."""
    return build_deb(tmp_path_factory.mktemp("deb"))


@pytest.fixture(scope="session")
def english_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An espeak-ng English command, 16 kHz mono s16le."""
    return synthesize_wav(ENGLISH_COMMAND, "en-us", tmp_path_factory.mktemp("wav") / "en_command.wav")


@pytest.fixture(scope="session")
def checkout_model_dir(shared_dir: Path) -> tuple[Path, bool]:
    """(model dir, bundled?): the project's models/default once it exists, else the WeNet golden fixture model."""
    bundled = REPO_ROOT / "models" / "default"
    if (bundled / "units.txt").is_file():
        return bundled, True
    print("packaging: models/default is missing; the CLI tests use the shared WeNet fixture model instead")
    return shared_dir / "fixtures" / "wenet" / "u2pp_conformer", False
