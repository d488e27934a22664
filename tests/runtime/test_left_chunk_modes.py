"""Left chunks 0 and non-streaming (chunk −1) exports, made by changing only the metadata WeNet writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from runtime.models import load_model
from runtime.models.stream import EncoderStream
from runtime.recognizer import Recognizer
from tests.runtime.wenet_fixtures import FIXTURES, WAV_NAMES, ref, wav_samples


def _with_metadata(src: Path, dest: Path, **changes: int) -> Path:
    dest.mkdir()
    for name in ("encoder.onnx", "ctc.onnx"):
        model = onnx.load(str(src / name))
        for prop in model.metadata_props:
            if prop.key in changes:
                prop.value = str(changes[prop.key])
        onnx.save(model, str(dest / name))
    shutil.copy(FIXTURES / "u2pp_conformer" / "units.txt", dest / "units.txt")
    return dest


def _stream(model, feats: np.ndarray) -> np.ndarray:
    stream = EncoderStream(model)
    blocks = []
    for start in range(0, len(feats), 50):
        blocks += stream.accept(feats[start:start + 50])
    last = stream.flush()
    return np.concatenate(blocks + ([last] if last is not None else []))


def test_non_streaming_export_runs_once_with_full_attention(tmp_path: Path) -> None:
    model = load_model(_with_metadata(FIXTURES / "u2pp_conformer" / "left_chunks_-1", tmp_path / "full", chunk_size=-1))
    assert model.geometry.chunk_size == -1 and not model.geometry.streaming
    for wav in WAV_NAMES:
        got = _stream(model, ref("u2pp_conformer", wav, "feats.npy"))
        expected = ref("u2pp_conformer/left_chunks_-1", wav, "ctc_logprobs_full.npy")
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4


def test_non_streaming_session_waits_for_finalize(tmp_path: Path) -> None:
    model_dir = _with_metadata(FIXTURES / "u2pp_conformer" / "left_chunks_-1", tmp_path / "full", chunk_size=-1)
    session = Recognizer(model_dir, beam_size=1).create_session()
    samples = wav_samples("long_concat_12s")
    for start in range(0, len(samples), 160):
        session.accept_waveform(samples[start:start + 160])
    assert len(session.logprobs) == 0
    expected = ref("u2pp_conformer/left_chunks_-1", "long_concat_12s", "ctc_logprobs_full.npy")
    got = session.finalize().logprobs
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-3


def test_left_chunks_zero_attends_to_the_current_chunk_only(tmp_path: Path) -> None:
    """The C16/L16 graph run with left_chunks 0 (required_cache_size 0, empty cache, offset from 0) equals the
    C16/L−1 graph (same weights) when its attention cache is emptied before every call."""
    model = load_model(_with_metadata(FIXTURES / "u2pp_conformer", tmp_path / "l0", left_chunks=0))
    assert model.geometry.left_chunks == 0
    encoder = ort.InferenceSession(str(FIXTURES / "u2pp_conformer" / "left_chunks_-1" / "encoder.onnx"))
    ctc = ort.InferenceSession(str(FIXTURES / "u2pp_conformer" / "left_chunks_-1" / "ctc.onnx"))
    for wav in WAV_NAMES[:2]:
        feats = ref("u2pp_conformer", wav, "feats.npy")
        got = _stream(model, feats)
        offset, cnn_cache, expected = 0, np.zeros((2, 1, 64, 14), np.float32), []
        for start in range(0, len(feats) - 6, 64):  # windows of 67 frames, stride 64, last one >= 7 frames
            feeds = {"chunk": feats[None, start:start + 67], "offset": np.array(offset, np.int64),
                     "att_cache": np.zeros((2, 4, 0, 32), np.float32), "cnn_cache": cnn_cache}
            output, _, cnn_cache = encoder.run(None, feeds)
            offset += output.shape[1]
            expected.append(ctc.run(None, {"hidden": output})[0][0])
        np.testing.assert_allclose(got, np.concatenate(expected), atol=1e-5, rtol=0)
