"""However the audio arrives (10 ms, 37 ms, whole file), the streamed log-probs and results are identical."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runtime.errors import AudioFormatError
from runtime.features import compute_fbank
from runtime.models.stream import EncoderStream
from runtime.recognizer import Recognizer
from tests.runtime.wenet_fixtures import wav_samples


def _feed(recognizer: Recognizer, samples: np.ndarray, piece: int | None):
    session = recognizer.create_session()
    partial_counts = []
    if piece is None:
        session.accept_waveform(samples)
    else:
        for start in range(0, len(samples), piece):
            session.accept_waveform(samples[start:start + piece])
            partial_counts.append(len(session.logprobs))
    return session.finalize(), partial_counts


@pytest.mark.parametrize("export", ["u2pp_conformer", "transformer_sub8", "bpu_conformer_sub8/bpu"])
def test_piece_size_does_not_change_anything(export: str, model_dirs: dict[str, Path]) -> None:
    recognizer = Recognizer(model_dirs[export], beam_size=4)
    samples = wav_samples("mix_en_zh_3p5s")
    whole, _ = _feed(recognizer, samples, None)
    for piece in (160, 592):  # 10 ms and 37 ms
        result, counts = _feed(recognizer, samples, piece)
        np.testing.assert_array_equal(result.logprobs, whole.logprobs)
        assert result.token_ids == whole.token_ids
        assert result.timestamps_ms == whole.timestamps_ms
        # The encoder ran as the audio came in: log-probs grew chunk by chunk, never all at the end.
        chunk = recognizer.info["chunk_size"]
        steps = sorted(set(counts))
        assert steps[0] == 0 and len(steps) >= len(whole.logprobs) // chunk
        assert all(b - a == chunk for a, b in zip(steps, steps[1:]))


@pytest.mark.parametrize("export", ["u2pp_conformer", "bpu_conformer_sub8/bpu"])
def test_each_chunk_runs_as_soon_as_its_audio_is_complete(export: str, model_dirs: dict[str, Path]) -> None:
    recognizer = Recognizer(model_dirs[export], beam_size=1)
    g = recognizer.model.geometry
    samples = wav_samples("long_concat_12s")
    session = recognizer.create_session()
    fed = 0
    for call in range(3):
        # Samples that complete the features of call `call`: W frames, then C·S more per call.
        needed = 400 + 160 * (g.decoding_window - 1 + call * g.stride)
        for end in (needed - 1, needed):
            while fed < end:  # 10 ms pieces, the last one cut to land exactly on `end`
                piece = samples[fed:min(end, fed + 160)]
                session.accept_waveform(piece)
                fed += len(piece)
            assert len(session.logprobs) == g.chunk_size * (call + (end == needed))


def test_partial_results_grow_without_redecoding(model_dirs: dict[str, Path]) -> None:
    recognizer = Recognizer(model_dirs["u2pp_conformer"], beam_size=1)
    session = recognizer.create_session()
    samples = wav_samples("long_concat_12s")
    previous = ()
    for start in range(0, len(samples), 16000):
        session.accept_waveform(samples[start:start + 16000])
        partial = session.partial_result()
        # Greedy partials only ever extend (the last token may keep growing its run).
        assert partial.token_ids[: max(0, len(previous) - 1)] == previous[: max(0, len(previous) - 1)]
        previous = partial.token_ids
    final = session.finalize()
    assert final.token_ids[: len(previous) - 1] == previous[: len(previous) - 1]


@pytest.mark.parametrize("export", ["u2pp_conformer", "u2pp_conformer/left_chunks_-1", "transformer_sub8",
                                    "bpu_conformer_sub8", "bpu_conformer_sub8/bpu"])
def test_clips_shorter_than_one_chunk(export: str, model_dirs: dict[str, Path]) -> None:
    recognizer = Recognizer(model_dirs[export], beam_size=10)
    g = recognizer.model.geometry
    samples = wav_samples("zh_dakai_keting_de_deng")[6000:]
    # Longest clip that is still shorter than one full call, and the shortest that yields one frame.
    for frames, expected in ((g.decoding_window - 1, g.chunk_size - 1), (g.right_context + 1, 1), (g.right_context, 0)):
        clip = samples[: 400 + 160 * (frames - 1)]
        session = recognizer.create_session()
        session.accept_waveform(clip)
        assert len(session.logprobs) == 0
        result = session.finalize()
        assert result.logprobs.shape == (expected, 40)
        assert np.isfinite(result.logprobs).all()
        assert np.allclose(np.exp(result.logprobs).sum(axis=1), 1.0, atol=1e-4)
    session = recognizer.create_session()
    assert session.finalize().token_ids == ()


def test_reset_starts_a_new_utterance(model_dirs: dict[str, Path]) -> None:
    recognizer = Recognizer(model_dirs["transformer_sub8"], beam_size=1)
    samples = wav_samples("en_turn_on_the_kitchen_light")
    session = recognizer.create_session()
    session.accept_waveform(wav_samples("zh_dakai_keting_de_deng"))
    session.finalize()
    session.reset()
    session.accept_waveform(samples)
    again = session.finalize()
    fresh = recognizer.create_session()
    fresh.accept_waveform(samples)
    np.testing.assert_array_equal(again.logprobs, fresh.finalize().logprobs)
    # Results handed out earlier keep their log-probs after a reset and new audio.
    kept = again.logprobs.copy()
    session.reset()
    session.accept_waveform(wav_samples("long_concat_12s"))
    session.finalize()
    np.testing.assert_array_equal(again.logprobs, kept)


def test_audio_must_be_int16_mono(model_dirs: dict[str, Path]) -> None:
    session = Recognizer(model_dirs["transformer_sub8"]).create_session()
    with pytest.raises(AudioFormatError, match="int16"):
        session.accept_waveform(np.zeros(160, dtype=np.float32))
    with pytest.raises(AudioFormatError, match="1-D"):
        session.accept_waveform(np.zeros((160, 2), dtype=np.int16))



def test_continuous_reset_keeps_undecoded_audio(model_dirs: dict[str, Path]) -> None:
    """reset(keep_features=True) (WeNet's continuous mode): the next utterance starts at the first feature frame
    no encoder call has read yet, with fresh caches."""
    recognizer = Recognizer(model_dirs["transformer_sub8"], beam_size=1)
    g = recognizer.model.geometry
    audio = np.concatenate([wav_samples("en_turn_on_the_kitchen_light"), wav_samples("zh_dakai_keting_de_deng")])
    session = recognizer.create_session()
    session.accept_waveform(audio[:30000])
    calls = len(session.logprobs) // g.chunk_size
    first_unread = (calls - 1) * g.stride + g.decoding_window
    session.reset(keep_features=True)
    assert len(session.logprobs) == 0
    session.accept_waveform(audio[30000:])
    got = session.finalize().logprobs

    stream = EncoderStream(recognizer.model)
    blocks = stream.accept(compute_fbank(audio)[first_unread:])
    last = stream.flush()
    expected = np.concatenate(blocks + ([last] if last is not None else []))
    np.testing.assert_array_equal(got, expected)
