"""CPU ONNX exports streamed exactly as WeNet's C++ runtime feeds them, against the fixtures' references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runtime.models import load_model
from runtime.models.stream import EncoderStream
from runtime.recognizer import Recognizer
from tests.runtime.wenet_fixtures import CPU_EXPORTS, WAV_NAMES, greedy_info, ref, wav_samples


def _stream_features(model, feats: np.ndarray, piece: int) -> np.ndarray:
    stream = EncoderStream(model)
    blocks = []
    for start in range(0, len(feats), piece):
        blocks += stream.accept(feats[start:start + piece])
    last = stream.flush()
    if last is not None:
        blocks.append(last)
    return np.concatenate(blocks)


def _feats(export: str, wav: str) -> np.ndarray:
    base = "u2pp_conformer" if export.startswith("u2pp_conformer") else export
    return ref(base, wav, "feats.npy")


def assert_greedy_matches(export: str, wav: str, logprobs: np.ndarray, reference: np.ndarray) -> None:
    """Per-frame argmax equal wherever the reference's top-1/top-2 margin exceeds twice our error."""
    err = float(np.abs(logprobs - reference).max())
    top2 = np.sort(reference, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 2 * err + 1e-6
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(logprobs.argmax(1)[clear], reference.argmax(1)[clear])
    info = greedy_info(export, wav)
    if info["min_top1_top2_margin"]["chunked_cppfeed"] > 2 * err + 1e-6:
        best = logprobs.argmax(1)
        ids = [int(t) for i, t in enumerate(best) if t != 0 and (i == 0 or t != best[i - 1])]
        assert ids == info["chunked_cppfeed"]["ids"]


@pytest.mark.parametrize("export", CPU_EXPORTS)
def test_reference_features_give_the_cpp_fed_logprobs(export: str, model_dirs: dict[str, Path]) -> None:
    model = load_model(model_dirs[export])
    assert model.kind == "onnx"
    for wav in WAV_NAMES:
        expected = ref(export, wav, "ctc_logprobs_chunked_cppfeed.npy")
        got = _stream_features(model, _feats(export, wav), piece=37)
        assert got.shape == expected.shape, wav
        assert np.abs(got - expected).max() < 1e-4, wav


@pytest.mark.parametrize("export", CPU_EXPORTS)
def test_recognizer_from_audio_matches_reference(export: str, model_dirs: dict[str, Path]) -> None:
    recognizer = Recognizer(model_dirs[export], beam_size=1)
    session = recognizer.create_session()
    for wav in WAV_NAMES:
        samples = wav_samples(wav)
        session.reset()
        for start in range(0, len(samples), 1600):
            session.accept_waveform(samples[start:start + 1600])
        result = session.finalize()
        expected = ref(export, wav, "ctc_logprobs_chunked_cppfeed.npy")
        assert result.logprobs.dtype == np.float32
        assert result.logprobs.shape == expected.shape, wav
        assert np.abs(result.logprobs - expected).max() < 1e-3, wav
        assert_greedy_matches(export, wav, result.logprobs, expected)
        best = expected.argmax(1)
        info = greedy_info(export, wav)
        if info["min_top1_top2_margin"]["chunked_cppfeed"] > 1e-3:
            assert list(result.token_ids) == info["chunked_cppfeed"]["ids"]
        assert len(result.timestamps_ms) == len(result.token_ids) == len(result.token_confidences)
        assert all(0 <= t < len(best) * recognizer.frame_shift_ms for t in result.timestamps_ms)


def test_metadata_drives_the_geometry(model_dirs: dict[str, Path]) -> None:
    info = Recognizer(model_dirs["u2pp_conformer"]).info
    assert (info["chunk_size"], info["left_chunks"], info["subsampling"], info["right_context"]) == (16, 16, 4, 6)
    assert info["decoding_window"] == 67 and info["vocab_size"] == 40 and info["frame_shift_ms"] == 40
    info = Recognizer(model_dirs["u2pp_conformer/left_chunks_-1"]).info
    assert info["left_chunks"] == -1 and "att_mask" not in info["encoder_inputs"]
    info = Recognizer(model_dirs["transformer_sub8"]).info
    assert (info["chunk_size"], info["subsampling"], info["decoding_window"], info["frame_shift_ms"]) == (8, 8, 71, 80)
    assert "cnn_cache" not in info["encoder_inputs"]
    assert "offset" not in Recognizer(model_dirs["bpu_conformer_sub8"]).info["encoder_inputs"]
