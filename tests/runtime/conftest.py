"""Fixtures for the runtime tests: completed model directories and the fake board module on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.runtime.wenet_fixtures import complete_model_dir

FAKE_PYEASY_DNN = Path(__file__).resolve().parent / "fake_pyeasy_dnn"


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Export name -> a complete model directory (units.txt added where the fixture lacks it)."""
    root = tmp_path_factory.mktemp("models")
    from tests.runtime.wenet_fixtures import CPU_EXPORTS, FIXTURES

    dirs = {}
    for export in CPU_EXPORTS:
        src = FIXTURES / export
        dirs[export] = src if (src / "units.txt").exists() else complete_model_dir(export, root / export.replace("/", "_"))
    dirs["bpu_conformer_sub8/bpu"] = complete_model_dir("bpu_conformer_sub8/bpu", root / "bpu_onnx")
    return dirs


@pytest.fixture(scope="session")
def bin_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A board-style directory: encoder.bin/ctc.bin (the BPU-form ONNX bytes the fake loads) + units.txt."""
    from tests.runtime.wenet_fixtures import FIXTURES

    root = tmp_path_factory.mktemp("bin_model")
    src = FIXTURES / "bpu_conformer_sub8"
    (root / "encoder.bin").write_bytes((src / "bpu" / "encoder.onnx").read_bytes())
    (root / "ctc.bin").write_bytes((src / "bpu" / "ctc.onnx").read_bytes())
    (root / "units.txt").write_bytes((src / "units.txt").read_bytes())
    return root


@pytest.fixture()
def fake_pyeasy_dnn(monkeypatch: pytest.MonkeyPatch):
    """Make ``hobot_dnn.pyeasy_dnn`` importable as the onnxruntime-backed fake; returns the module."""
    monkeypatch.syspath_prepend(str(FAKE_PYEASY_DNN))
    for name in [m for m in sys.modules if m == "hobot_dnn" or m.startswith("hobot_dnn.")]:
        monkeypatch.delitem(sys.modules, name)
    from hobot_dnn import pyeasy_dnn

    yield pyeasy_dnn
    for name in [m for m in sys.modules if m == "hobot_dnn" or m.startswith("hobot_dnn.")]:
        sys.modules.pop(name, None)
