"""Shared pytest fixtures: repository paths and the WeNet golden fixtures in ../shared."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = REPO_ROOT.parent / "shared"
WENET_FIXTURES = SHARED_DIR / "fixtures" / "wenet"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only shared material beside the checkout (../shared)."""
    assert SHARED_DIR.is_dir(), f"{SHARED_DIR} is missing: the tests need ../shared beside the checkout"
    return SHARED_DIR


@pytest.fixture(scope="session")
def wenet_fixtures(shared_dir: Path) -> Path:
    """WeNet golden exports with reference outputs (see its README.md)."""
    return shared_dir / "fixtures" / "wenet"
