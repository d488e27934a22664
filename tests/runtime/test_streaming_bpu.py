"""BPU-form models: onnxruntime on the static 4-D export and the hobot_dnn adapter over the fake pyeasy_dnn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runtime.errors import BackendUnavailableError, ModelLoadError
from runtime.models import load_model
from runtime.models.base import ModelGeometry, log_softmax
from runtime.recognizer import Recognizer
from tests.runtime.wenet_fixtures import FIXTURES, WAV_NAMES, ref, wav_samples

CHUNK = 8


def _bpu_reference(wav: str) -> np.ndarray:
    return log_softmax(np.load(FIXTURES / "bpu_conformer_sub8" / "bpu" / "ref" / wav / "ctc_logits_bpu.npy"))


def _run(recognizer: Recognizer, wav: str) -> np.ndarray:
    session = recognizer.create_session()
    samples = wav_samples(wav)
    for start in range(0, len(samples), 3200):
        session.accept_waveform(samples[start:start + 3200])
    return session.finalize().logprobs


def _check_against_references(recognizer: Recognizer) -> None:
    for wav in WAV_NAMES:
        got = _run(recognizer, wav)
        bpu = _bpu_reference(wav)
        cpu = ref("bpu_conformer_sub8", wav, "ctc_logprobs_chunked_cppfeed.npy")
        # Only the valid output frames of a zero-padded last chunk are kept: as many as the CPU export makes.
        assert got.shape == cpu.shape, wav
        full = (len(got) // CHUNK) * CHUNK
        assert np.abs(got[:full] - bpu[:full]).max() < 1e-3, wav
        # With the padded keys masked, the kept frames of the last chunk equal the CPU export's.
        assert np.abs(got - cpu).max() < 1e-3, wav


def test_bpu_form_onnx_through_onnxruntime(model_dirs: dict[str, Path]) -> None:
    recognizer = Recognizer(model_dirs["bpu_conformer_sub8/bpu"], beam_size=1)
    info = recognizer.info
    assert info["kind"] == "bpu-onnx"
    assert (info["chunk_size"], info["left_chunks"], info["subsampling"], info["right_context"]) == (8, 16, 8, 14)
    assert (info["vocab_size"], info["output_size"], info["num_blocks"], info["head"]) == (40, 64, 2, 4)
    _check_against_references(recognizer)


def test_hobot_dnn_adapter_on_fake_pyeasy_dnn(bin_model_dir: Path, fake_pyeasy_dnn) -> None:
    fake_pyeasy_dnn.FORWARD_LOG.clear()
    recognizer = Recognizer(bin_model_dir, beam_size=1)
    assert recognizer.info["kind"] == "bpu"
    _check_against_references(recognizer)
    names = {name for name, _, _ in fake_pyeasy_dnn.FORWARD_LOG}
    assert names == {"encoder", "ctc"}


def test_hobot_and_onnxruntime_backends_agree_on_a_short_clip(
    bin_model_dir: Path, model_dirs: dict[str, Path], fake_pyeasy_dnn
) -> None:
    clip = wav_samples("zh_dakai_keting_de_deng")[8000:8000 + 4000]  # 0.25 s: 23 frames, one short chunk
    results = []
    for directory in (bin_model_dir, model_dirs["bpu_conformer_sub8/bpu"], model_dirs["bpu_conformer_sub8"]):
        session = Recognizer(directory, beam_size=1).create_session()
        session.accept_waveform(clip)
        results.append(session.finalize().logprobs)
    assert results[0].shape == (2, 40)  # (23 − 15)//8 + 1 valid frames
    np.testing.assert_array_equal(results[0], results[1])
    assert np.abs(results[1] - results[2]).max() < 1e-4


def test_fake_pyeasy_dnn_validates_like_the_board(bin_model_dir: Path, fake_pyeasy_dnn) -> None:
    model = fake_pyeasy_dnn.load(str(bin_model_dir / "ctc.bin"))[0]
    assert model.inputs[0].properties.shape == (1, 64, 1, 8) and model.inputs[0].properties.layout == "NCHW"
    good = np.zeros((1, 64, 1, 8), dtype=np.float32)
    assert model.forward([good])[0].buffer.shape == (1, 40, 1, 8)
    with pytest.raises(ValueError, match="float32"):
        model.forward(good.astype(np.float64))
    with pytest.raises(ValueError, match="Invalid data size"):
        model.forward(np.zeros((1, 64, 1, 7), dtype=np.float32))
    with pytest.raises(ValueError, match="expected 1 inputs"):
        model.forward([good, good])
    with pytest.raises(RuntimeError):
        fake_pyeasy_dnn.load(str(bin_model_dir / "units.txt"))


def test_missing_hobot_dnn_is_one_clear_line(bin_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "hobot_dnn", None)
    monkeypatch.setitem(__import__("sys").modules, "hobot_dnn_rdkx5", None)
    with pytest.raises(BackendUnavailableError, match="backend 'bpu' needs hobot_dnn.pyeasy_dnn") as err:
        load_model(bin_model_dir)
    assert "\n" not in str(err.value)


def test_corrupt_bin_file(bin_model_dir: Path, tmp_path: Path, fake_pyeasy_dnn) -> None:
    for name in ("encoder.bin", "ctc.bin", "units.txt"):
        (tmp_path / name).write_bytes((bin_model_dir / name).read_bytes())
    data = (tmp_path / "encoder.bin").read_bytes()
    (tmp_path / "encoder.bin").write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelLoadError, match="encoder.bin: pyeasy_dnn cannot load it"):
        load_model(tmp_path)


def test_bpu_geometry_comes_from_shapes_alone() -> None:
    geometry = ModelGeometry(chunk_size=8, left_chunks=16, subsampling=8, right_context=14, feature_dim=80,
                             vocab_size=40, output_size=64)
    # The kept-frame count equals conv2d8's own output-length formula for every chunk length.
    for frames in range(0, 72):
        conv2d8 = max(0, (((frames - 1) // 2 - 1) // 2 - 1) // 2) if frames >= 15 else 0
        assert geometry.output_frames(frames) == conv2d8, frames
    conv2d = ModelGeometry(16, 4, 4, 6, 80, 40, 64)
    for frames in range(0, 68):
        expected = max(0, ((frames - 1) // 2 - 1) // 2) if frames >= 7 else 0
        assert conv2d.output_frames(frames) == expected, frames
