"""Bad model directories and missing backends give one clear line naming the file and the fix."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from runtime.errors import BackendUnavailableError, ModelLoadError
from runtime.models import load_model
from runtime.recognizer import Recognizer
from tests.runtime.wenet_fixtures import FIXTURES


def _copy_model(tmp_path: Path, export: str = "transformer_sub8") -> Path:
    dest = tmp_path / "model"
    dest.mkdir()
    for name in ("encoder.onnx", "ctc.onnx", "units.txt"):
        shutil.copy(FIXTURES / export / name, dest / name)
    return dest


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message and message
    return message


def test_truncated_encoder(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    data = (model / "encoder.onnx").read_bytes()
    (model / "encoder.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelLoadError) as exc:
        Recognizer(model)
    assert "encoder.onnx: not a loadable ONNX model" in _one_line(exc)


def test_corrupt_ctc(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    (model / "ctc.onnx").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError) as exc:
        Recognizer(model)
    assert "ctc.onnx: not a loadable ONNX model" in _one_line(exc)


def test_missing_ctc(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    (model / "ctc.onnx").unlink()
    with pytest.raises(ModelLoadError) as exc:
        Recognizer(model)
    assert "ctc.onnx: file is missing" in _one_line(exc)


def test_missing_units(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    (model / "units.txt").unlink()
    with pytest.raises(ModelLoadError) as exc:
        Recognizer(model)
    assert "units.txt is missing" in _one_line(exc)


def test_vocabulary_mismatch(tmp_path: Path) -> None:
    model = _copy_model(tmp_path)
    lines = (model / "units.txt").read_text(encoding="utf-8").splitlines()
    (model / "units.txt").write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(ModelLoadError) as exc:
        Recognizer(model)
    assert "has 39 units but the model outputs 40 classes" in _one_line(exc)


def test_not_a_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no model found"):
        load_model(tmp_path)
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "nope")


def test_backend_must_fit_the_files(tmp_path: Path, model_dirs: dict[str, Path]) -> None:
    with pytest.raises(ModelLoadError, match="BPU-form"):
        load_model(model_dirs["bpu_conformer_sub8/bpu"], backend="onnx")
    with pytest.raises(ModelLoadError, match="CPU export"):
        load_model(model_dirs["transformer_sub8"], backend="bpu-onnx")
    with pytest.raises(ModelLoadError, match="needs encoder.bin"):
        load_model(model_dirs["transformer_sub8"], backend="bpu")
    with pytest.raises(ModelLoadError, match="unknown backend"):
        load_model(model_dirs["transformer_sub8"], backend="gpu")


def test_bin_and_onnx_side_by_side(tmp_path: Path, bin_model_dir: Path, model_dirs: dict[str, Path]) -> None:
    board = tmp_path / "board"
    shutil.copytree(bin_model_dir, board)
    with pytest.raises(ModelLoadError, match="needs encoder.onnx and ctc.onnx beside them"):
        load_model(board, backend="bpu-onnx")
    for name in ("encoder.onnx", "ctc.onnx"):
        shutil.copy(model_dirs["bpu_conformer_sub8/bpu"] / name, board / name)
    assert load_model(board, backend="bpu-onnx").kind == "bpu-onnx"
    with pytest.raises(ModelLoadError, match="BPU-form"):
        load_model(board, backend="onnx")


def test_missing_onnxruntime_names_the_backend(monkeypatch: pytest.MonkeyPatch, model_dirs: dict[str, Path]) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(BackendUnavailableError) as exc:
        load_model(model_dirs["transformer_sub8"])
    assert "needs onnxruntime" in _one_line(exc) and "pip install onnxruntime" in str(exc.value)


def test_threads_setting_is_accepted(model_dirs: dict[str, Path]) -> None:
    recognizer = Recognizer(model_dirs["transformer_sub8"], num_threads=2)
    assert recognizer.info["kind"] == "onnx"
