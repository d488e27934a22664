"""CTC greedy and prefix beam search against brute-force CTC, and WeNet's endpoint rules."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from runtime.decoding.ctc_greedy import CtcGreedySearch
from runtime.decoding.ctc_prefix_beam import CtcPrefixBeamSearch
from runtime.decoding.endpoint import EndpointConfig, EndpointDetector, EndpointRule


def _random_logprobs(rng: np.random.Generator, frames: int, vocab: int, peaky: float = 2.0) -> np.ndarray:
    logits = rng.normal(size=(frames, vocab)) * peaky
    return (logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)).astype(np.float32)


def _brute_force(logprobs: np.ndarray) -> dict[tuple[int, ...], float]:
    """Total probability of every label sequence, summing all alignments."""
    totals: dict[tuple[int, ...], float] = {}
    frames, vocab = logprobs.shape
    for path in itertools.product(range(vocab), repeat=frames):
        labels, prev = [], 0
        for token in path:
            if token != 0 and token != prev:
                labels.append(token)
            prev = token
        p = math.exp(sum(float(logprobs[t, k]) for t, k in enumerate(path)))
        totals[tuple(labels)] = totals.get(tuple(labels), 0.0) + p
    return totals


@pytest.mark.parametrize("seed", range(6))
def test_exact_prefix_beam_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    logprobs = _random_logprobs(rng, frames=6, vocab=4, peaky=1.5)
    totals = _brute_force(logprobs)
    search = CtcPrefixBeamSearch(beam_size=400, blank_skip=1.0)
    search.accept(logprobs[:2])
    search.accept(logprobs[2:])
    nbest = search.nbest()
    best_labels = max(totals, key=totals.get)
    assert nbest[0].token_ids == best_labels
    assert math.isclose(math.exp(nbest[0].score), totals[best_labels], rel_tol=1e-5)
    for hyp in nbest[:10]:
        assert math.isclose(math.exp(hyp.score), totals[hyp.token_ids], rel_tol=1e-5)
    assert math.isclose(nbest[0].confidence, totals[best_labels] / sum(totals.values()), rel_tol=1e-4)


def test_beam_search_is_the_same_however_chunked() -> None:
    rng = np.random.default_rng(7)
    logprobs = _random_logprobs(rng, frames=120, vocab=30, peaky=3.0)
    whole = CtcPrefixBeamSearch(beam_size=8)
    whole.accept(logprobs)
    pieces = CtcPrefixBeamSearch(beam_size=8)
    for start in range(0, 120, 7):
        pieces.accept(logprobs[start:start + 7])
    assert [h.token_ids for h in whole.nbest()] == [h.token_ids for h in pieces.nbest()]
    assert whole.result().frames == pieces.result().frames


def _mostly_blank(rng: np.random.Generator, frames: int, vocab: int) -> np.ndarray:
    """Noisy CTC output whose blank frames (P(blank) > 0.999) come in runs between uncertain token frames."""
    rows = _random_logprobs(rng, frames, vocab, peaky=1.0).astype(np.float64)
    blank_frames = rng.random(frames) < 0.75
    # A peaky rest, so a prefix's last token is sometimes likelier in a blank frame than where it was emitted.
    rest = rng.normal(size=(int(blank_frames.sum()), vocab - 1)) * 4.0
    rest -= np.logaddexp.reduce(rest, axis=1, keepdims=True)
    blank_p = rng.uniform(0.9991, 0.99999, size=int(blank_frames.sum()))
    rows[blank_frames, 0] = np.log(blank_p)
    rows[blank_frames, 1:] = rest + np.log1p(-blank_p)[:, None]
    return rows.astype(np.float32)


@pytest.mark.parametrize("seed", range(4))
def test_runs_of_blank_frames_decode_like_single_frames(seed: int) -> None:
    logprobs = _mostly_blank(np.random.default_rng(seed), frames=200, vocab=20)
    assert (logprobs[:-1, 0] > math.log(0.999)).astype(int).dot(logprobs[1:, 0] > math.log(0.999)) > 50  # runs
    batched = CtcPrefixBeamSearch(beam_size=6)
    batched.accept(logprobs)
    single = CtcPrefixBeamSearch(beam_size=6)
    for row in logprobs:  # one frame per call never takes the run path
        single.accept(row[None])
    for a, b in zip(batched.nbest(), single.nbest(), strict=True):
        assert a.token_ids == b.token_ids and a.frames == b.frames and a.token_probs == b.token_probs
        assert a.score == b.score and a.confidence == b.confidence


def test_a_blank_run_reorders_the_beam_and_moves_peaks_like_single_frames() -> None:
    # Frame 0 makes prefixes (1,) and (2,) nearly tie and (3,) unlikely; in the blank run token 2 is a bit
    # likelier than token 1 (so (2,) overtakes (1,)) and token 3 likelier than where it was emitted (its peak moves).
    token = [0.1, 0.45, 0.44995, 0.000025, 0.000025]
    blank = [0.9993, 0.0001, 0.0004, 0.0002, 1e-9]
    probs = np.array([token] + [blank] * 6 + [token] + [blank] * 3, dtype=np.float64)
    logprobs = np.log(probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    batched = CtcPrefixBeamSearch(beam_size=20)
    batched.accept(logprobs[:1])
    assert batched.result().token_ids == (1,)
    batched.accept(logprobs[1:7])
    nbest = batched.nbest()
    assert nbest[0].token_ids == (2,)
    assert next(h for h in nbest if h.token_ids == (3,)).frames == (1,)
    batched.accept(logprobs[7:])
    single = CtcPrefixBeamSearch(beam_size=20)
    for row in logprobs:
        single.accept(row[None])
    for a, b in zip(batched.nbest(), single.nbest(), strict=True):
        assert a.token_ids == b.token_ids and a.frames == b.frames and a.token_probs == b.token_probs
        assert a.score == b.score


def _peaky_utterance(tokens: list[int], vocab: int = 12, frames_per_token: int = 4) -> np.ndarray:
    """Clear CTC output: each token peaks for 2 frames, blanks between."""
    rows = []
    for token in tokens:
        for k in range(frames_per_token):
            target = token if k in (1, 2) else 0
            row = np.full(vocab, math.log(0.01 / (vocab - 1)))
            row[target] = math.log(0.99)
            rows.append(row)
    return np.array(rows, dtype=np.float32)


def test_peaky_output_decodes_with_times_and_confidences() -> None:
    logprobs = _peaky_utterance([3, 5, 5, 7])
    for search in (CtcPrefixBeamSearch(beam_size=5), CtcGreedySearch()):
        search.accept(logprobs)
        result = search.result()
        assert result.token_ids == (3, 5, 5, 7)
        assert result.frames == (1, 5, 9, 13)
        assert all(abs(p - 0.99) < 1e-4 for p in result.token_probs)
        assert result.confidence > 0.9


def test_greedy_collapses_across_chunk_borders() -> None:
    logprobs = _peaky_utterance([4, 4, 9])
    search = CtcGreedySearch()
    for start in range(0, len(logprobs), 2):  # the run of each token is cut between two chunks
        search.accept(logprobs[start:start + 2])
    assert search.result().token_ids == (4, 4, 9)


def _blank_frames(count: int, vocab: int = 12) -> np.ndarray:
    return _peaky_utterance([0] * count, vocab, frames_per_token=1)


def test_endpoint_rules() -> None:
    detector = EndpointDetector(EndpointConfig(), frame_shift_ms=40)
    detector.accept(_peaky_utterance([3, 5]))
    assert not detector.detected(decoded=True)
    detector.accept(_blank_frames(23))  # + the utterance's last blank frame = 960 ms of silence
    assert not detector.detected(decoded=True)
    detector.accept(_blank_frames(1))  # 1000 ms: rule 2
    assert detector.detected(decoded=True)
    assert not detector.detected(decoded=False)
    detector.accept(_blank_frames(100))  # 5000 ms: rule 1 needs nothing decoded
    assert detector.detected(decoded=False)
    detector.reset()
    detector.accept(_peaky_utterance([3] * 125))  # 20 s of speech: rule 3
    assert detector.detected(decoded=True)


def test_endpoint_speech_resets_trailing_silence() -> None:
    config = EndpointConfig(rule2=EndpointRule(True, 400, 0))
    detector = EndpointDetector(config, frame_shift_ms=80)
    detector.accept(np.concatenate([_blank_frames(4), _peaky_utterance([2]), _blank_frames(4)]))
    assert detector.trailing_silence_frames == 5 and detector.detected(decoded=True)
    with pytest.raises(ValueError):
        EndpointConfig(blank_threshold=0.0)
