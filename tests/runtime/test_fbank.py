"""The streaming numpy fbank against kaldi-native-fbank and the fixtures' feats.npy."""

from __future__ import annotations

import kaldi_native_fbank as knf
import numpy as np
import pytest

from runtime.features import StreamingFbank, compute_fbank
from runtime.features.fbank import FLT_EPSILON
from tests.runtime.wenet_fixtures import FIXTURES, WAV_NAMES, wav_samples


def _kaldi_native_fbank(samples: np.ndarray) -> np.ndarray:
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.window_type = "povey"
    opts.mel_opts.num_bins = 80
    opts.energy_floor = 0.0
    fbank = knf.OnlineFbank(opts)
    fbank.accept_waveform(16000, samples.astype(np.float32))
    fbank.input_finished()
    return np.stack([fbank.get_frame(i) for i in range(fbank.num_frames_ready)])


def _assert_close_to_kaldi(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    diff = np.abs(ours - theirs)
    # The time-domain steps and mel weights follow kaldi-native-fbank's float32 arithmetic exactly; its FFT
    # runs in float32 too (ours in float64), which leaves a rounding-noise floor: where a bin's energy is ~e-20
    # of the frame's (a few low/high bins of quiet frames) the two differ by up to 2.1e-3 (one value in the
    # fixture audio). Everywhere else they agree within 1e-3; the effect on the CTC log-probs is < 2e-5.
    assert diff.max() < 2.5e-3
    assert np.mean(diff > 1e-3) < 1e-4
    assert diff.mean() < 4e-6


@pytest.mark.parametrize("wav", WAV_NAMES)
def test_fbank_matches_kaldi_native_fbank(wav: str) -> None:
    samples = wav_samples(wav)
    ours = compute_fbank(samples)
    assert ours.dtype == np.float32
    assert len(ours) == 1 + (len(samples) - 400) // 160
    _assert_close_to_kaldi(ours, _kaldi_native_fbank(samples))
    _assert_close_to_kaldi(ours, np.load(FIXTURES / "u2pp_conformer" / "ref" / wav / "feats.npy"))


@pytest.mark.parametrize("piece", [1, 160, 592, 6400, None])
def test_fbank_is_identical_however_the_audio_is_split(piece: int | None) -> None:
    samples = wav_samples("mix_en_zh_3p5s")
    whole = compute_fbank(samples)
    fbank = StreamingFbank()
    if piece is None:
        rng = np.random.default_rng(0)
        cuts = np.sort(rng.integers(0, len(samples), 40))
        pieces = np.split(samples, cuts)
    else:
        pieces = [samples[i:i + piece] for i in range(0, len(samples), piece)]
    streamed = np.concatenate([fbank.accept(p) for p in pieces])
    assert fbank.num_frames == len(whole)
    np.testing.assert_array_equal(streamed, whole)


def test_short_input_waits_for_a_whole_frame() -> None:
    fbank = StreamingFbank()
    assert fbank.accept(np.zeros(399, dtype=np.int16)).shape == (0, 80)
    assert fbank.accept(np.zeros(1, dtype=np.int16)).shape == (1, 80)
    fbank.reset()
    assert fbank.accept(np.zeros(100, dtype=np.int16)).shape == (0, 80)


def test_digital_silence_is_the_log_floor() -> None:
    feats = compute_fbank(np.zeros(16000, dtype=np.int16))
    np.testing.assert_allclose(feats, np.log(FLT_EPSILON), rtol=0, atol=1e-6)
    assert abs(float(feats[0, 0]) - (-15.942385)) < 1e-4
