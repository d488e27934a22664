"""Grammar-constrained CTC search: best path agrees with brute-force forced alignment; rejection; edge cases."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from runtime.decoding.constrained import constrained_search, free_best_path
from runtime.decoding.token_graph import TokenGraph
from runtime.units import UnitTable

V = 12


def ctc_viterbi(logprobs: np.ndarray, tokens) -> float:
    """Best CTC alignment score of ``tokens`` (the reference the search must reproduce)."""
    ext = [0]
    for tok in tokens:
        ext += [tok, 0]
    num_frames, size = len(logprobs), len(ext)
    alpha = np.full(size, -np.inf)
    alpha[0] = logprobs[0, 0]
    if size > 1:
        alpha[1] = logprobs[0, ext[1]]
    for t in range(1, num_frames):
        prev = alpha.copy()
        for s in range(size):
            best = prev[s]
            if s >= 1:
                best = max(best, prev[s - 1])
            if s >= 2 and ext[s] != 0 and ext[s] != ext[s - 2]:
                best = max(best, prev[s - 2])
            alpha[s] = best + logprobs[t, ext[s]]
    return float(max(alpha[-1], alpha[-2] if size > 1 else -np.inf))


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=1, keepdims=True))).astype(np.float32)


def peaked(tokens, rng, frames_per_token=3, lead=2, tail=2, strength=8.0) -> np.ndarray:
    """Log-probs of an utterance saying ``tokens``: one peaky frame per unit, blanks around, noise."""
    num_frames = lead + frames_per_token * len(tokens) + tail
    logits = rng.normal(0, 1.0, (num_frames, V))
    logits[:, 0] += strength
    for i, tok in enumerate(tokens):
        t = lead + i * frames_per_token
        logits[t, tok] += 2 * strength
    return log_softmax(logits)


def chain_graph(sentences) -> TokenGraph:
    """A trie over token sentences (no epsilons)."""
    src, tok, nxt, finals = [], [], [], []
    children: dict[tuple[int, int], int] = {}
    num_states = 1
    for sentence in sentences:
        state = 0
        for unit in sentence:
            key = (state, unit)
            if key not in children:
                children[key] = num_states
                src.append(state)
                tok.append(unit)
                nxt.append(num_states)
                num_states += 1
            state = children[key]
        finals.append(state)
    return TokenGraph.from_arcs(num_states, 0, finals, src, tok, nxt)


def optional_graph() -> TokenGraph:
    """1 (2 | 3 4) [5] 6 with epsilon arcs for the alternative's join and the optional word, outputs on them."""
    arcs = [
        (0, 1, 1, -1),
        (1, 2, 2, -1),
        (1, 3, 3, -1),
        (3, 4, 4, -1),
        (4, 0, 2, 0),  # epsilon join carrying output 0
        (2, 5, 5, -1),
        (2, 0, 5, 1),  # optional [5] skipped: epsilon with output 1
        (5, 6, 6, -1),
    ]
    src, tok, nxt, out = zip(*arcs)
    return TokenGraph.from_arcs(7, 0, [6], src, tok, nxt, output=out, outputs=("joined", "skipped"))


def test_in_grammar_path_is_found_and_margin_near_zero():
    rng = np.random.default_rng(1)
    graph = chain_graph([(1, 2, 3), (1, 4, 5), (6, 7)])
    lp = peaked((1, 4, 5), rng)
    result = constrained_search(lp, graph)
    assert result.accepted
    assert result.tokens == (1, 4, 5)
    assert result.log_likelihood == pytest.approx(ctc_viterbi(lp, (1, 4, 5)), abs=1e-4)
    assert result.margin > -0.05
    assert result.free_tokens == (1, 4, 5)
    # Frames: each unit's peak frame lies inside its reported span.
    for i, (first, last) in enumerate(result.token_frames):
        assert first <= 2 + 3 * i <= last
    assert all(0.5 < c <= 1.0 for c in result.token_confidences)


def test_out_of_grammar_speech_has_a_large_negative_margin():
    rng = np.random.default_rng(2)
    graph = chain_graph([(1, 2, 3), (1, 4, 5), (6, 7)])
    lp = peaked((8, 9, 10, 11), rng)
    result = constrained_search(lp, graph)
    assert result.free_tokens == (8, 9, 10, 11)
    assert result.accepted  # some grammar path always fits enough frames ...
    assert result.margin < -1.0  # ... but far below the free path


def test_audio_too_short_for_any_sentence_is_no_match_not_zero():
    graph = chain_graph([(1, 2, 3, 4, 5)])
    lp = log_softmax(np.random.default_rng(3).normal(0, 1, (4, V)))
    result = constrained_search(lp, graph)
    assert not result.accepted
    assert result.log_likelihood == -math.inf
    assert result.margin == -math.inf
    assert result.tokens == ()


def test_shorter_sentence_wins_when_the_long_one_does_not_fit():
    rng = np.random.default_rng(4)
    graph = chain_graph([(1, 2), (1, 2, 3, 4, 5, 6, 7, 8, 9)])
    lp = peaked((1, 2), rng, lead=1, tail=1)  # 8 frames: too few for nine units
    result = constrained_search(lp, graph)
    assert result.tokens == (1, 2)


def test_repeated_units_need_a_blank_between_them():
    graph = chain_graph([(3, 3)])
    lp2 = log_softmax(np.random.default_rng(5).normal(0, 1, (2, V)))
    assert not constrained_search(lp2, graph).accepted
    lp3 = log_softmax(np.random.default_rng(5).normal(0, 1, (3, V)))
    result = constrained_search(lp3, graph)
    assert result.accepted
    assert result.tokens == (3, 3)
    assert result.token_frames == ((0, 0), (2, 2))
    assert result.log_likelihood == pytest.approx(float(lp3[0, 3] + lp3[1, 0] + lp3[2, 3]), abs=1e-5)


def test_repeated_frames_of_one_unit_merge():
    rng = np.random.default_rng(6)
    graph = chain_graph([(3,), (3, 3)])
    logits = rng.normal(0, 0.1, (5, V))
    logits[1:4, 3] += 10.0  # "3 3 3" without blanks = one unit
    lp = log_softmax(logits)
    result = constrained_search(lp, graph)
    assert result.tokens == (3,)
    assert result.token_frames[0][0] <= 1 and result.token_frames[0][1] >= 3


def test_epsilons_optional_words_and_outputs():
    rng = np.random.default_rng(7)
    graph = optional_graph()
    for said, outputs in [((1, 2, 5, 6), ()), ((1, 3, 4, 6), (0, 1)), ((1, 2, 6), (1,)), ((1, 3, 4, 5, 6), (0,))]:
        lp = peaked(said, rng)
        result = constrained_search(lp, graph)
        assert result.tokens == said
        assert result.outputs == outputs
        tokens_on_path = tuple(int(graph.arc_token[a]) for a in result.arc_path if graph.arc_token[a] != 0)
        assert tokens_on_path == said
        assert result.log_likelihood == pytest.approx(ctc_viterbi(lp, said), abs=1e-4)


def test_trailing_epsilon_to_final_is_on_the_path():
    # 1 then an epsilon with an output into the final state.
    graph = TokenGraph.from_arcs(3, 0, [2], [0, 1], [1, 0], [1, 2], output=[-1, 0], outputs=("end",))
    lp = peaked((1,), np.random.default_rng(8))
    result = constrained_search(lp, graph)
    assert result.outputs == (0,)
    assert result.arc_path == (0, 1)


def test_empty_sentence_is_all_blank():
    graph = chain_graph([(), (1,)])
    lp = log_softmax(np.tile(np.eye(V)[0] * 9.0, (6, 1)))
    result = constrained_search(lp, graph)
    assert result.accepted and result.tokens == ()
    assert result.margin == pytest.approx(0.0, abs=1e-6)


def test_no_frames_is_no_match():
    result = constrained_search(np.zeros((0, V), np.float32), chain_graph([(1,)]))
    assert not result.accepted and result.num_frames == 0


def test_graph_unit_outside_the_model_is_an_error():
    with pytest.raises(ValueError, match="unit 20"):
        constrained_search(np.zeros((5, V), np.float32), chain_graph([(20,)]))


def random_graph(rng) -> TokenGraph:
    """Random small DAG with epsilons, shared states and repeated units."""
    num_states = int(rng.integers(4, 9))
    src, tok, nxt = [], [], []
    for s in range(num_states - 1):
        for _ in range(int(rng.integers(1, 4))):
            src.append(s)
            tok.append(int(rng.integers(0, 5)))  # small alphabet: repeats and epsilons are common
            nxt.append(int(rng.integers(s + 1, num_states)))
    finals = [num_states - 1] + ([int(rng.integers(1, num_states))] if rng.random() < 0.5 else [])
    return TokenGraph.from_arcs(num_states, 0, finals, src, tok, nxt)


@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force_over_all_sentences(seed):
    rng = np.random.default_rng(100 + seed)
    graph = random_graph(rng)
    sentences = {tokens for tokens, _ in graph.token_sequences()}
    num_frames = int(rng.integers(1, 14))
    logits = rng.normal(0, 2.0, (num_frames, V))
    logits[:, 0] += rng.normal(1.0, 1.0)
    lp = log_softmax(logits)
    scores = {s: ctc_viterbi(lp, s) for s in sentences}
    best = max(scores.values(), default=-math.inf)
    result = constrained_search(lp, graph, beam=1e9, max_active=10**6)
    if best == -math.inf:
        assert not result.accepted and result.log_likelihood == -math.inf
        return
    assert result.accepted
    assert result.log_likelihood == pytest.approx(best, abs=1e-4)
    assert result.tokens in sentences
    assert scores[result.tokens] == pytest.approx(best, abs=1e-4)
    # The reported path is a real path of the graph from the start to a final state.
    state = graph.start
    for arc in result.arc_path:
        assert arc in graph.arcs_of(state)
        state = int(graph.arc_next[arc])
    assert graph.final[state]


def test_default_pruning_keeps_the_best_path_on_peaky_input():
    rng = np.random.default_rng(9)
    sentences = [tuple(int(x) for x in rng.integers(1, V, size=int(rng.integers(2, 7)))) for _ in range(300)]
    graph = chain_graph(sentences)
    for target in sentences[:20]:
        if any(a == b for a, b in zip(target, target[1:])):
            continue
        lp = peaked(target, rng)
        exhaustive = constrained_search(lp, graph, beam=1e9, max_active=10**6)
        pruned = constrained_search(lp, graph)
        assert pruned.tokens == exhaustive.tokens == target
        assert pruned.log_likelihood == pytest.approx(exhaustive.log_likelihood, abs=1e-4)


def test_free_best_path_is_greedy_ctc():
    lp = np.log(np.array([[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]))
    score, tokens = free_best_path(lp)
    assert tokens == (1, 1, 2)
    assert score == pytest.approx(float(np.log([0.8, 0.8, 0.9, 0.8, 0.8]).sum()))


def test_fixture_model_logprobs_agree_with_brute_force(wenet_fixtures: Path):
    units = UnitTable.from_file(wenet_fixtures / "transformer_sub8" / "units.txt")
    ids = units.symbol_to_id
    phrases = [
        ["打", "开", "客", "厅", "的", "灯"],
        ["关", "闭", "卧", "室", "的", "灯"],
        ["打", "开", "空", "调"],
        ["▁TURN", "▁ON", "▁THE", "▁KITCHEN", "▁LIGHT"],
        ["▁TURN", "▁OFF", "▁THE", "▁LIVING", "▁ROOM", "▁LIGHT"],
    ]
    sentences = [tuple(ids[s] for s in p) for p in phrases]
    graph = chain_graph(sentences)
    for model in ("transformer_sub8", "u2pp_conformer", "bpu_conformer_sub8"):
        for wav in ("zh_dakai_keting_de_deng", "en_turn_on_the_kitchen_light"):
            lp = np.load(wenet_fixtures / model / "ref" / wav / "ctc_logprobs_chunked_cppfeed.npy")
            scores = {s: ctc_viterbi(lp, s) for s in sentences}
            result = constrained_search(lp, graph, beam=1e9, max_active=10**6)
            best = max(scores.values())
            assert result.log_likelihood == pytest.approx(best, abs=1e-3)
            assert scores[result.tokens] == pytest.approx(best, abs=1e-3)
            assert result.free_log_likelihood == pytest.approx(float(lp.max(axis=1).sum()), abs=1e-3)
            assert result.margin <= 1e-6
            pruned = constrained_search(lp, graph)
            assert pruned.tokens == result.tokens


def test_narrow_pruning_that_loses_every_fitting_path_is_retried_wider():
    # Only "3 3 3" is allowed; it needs exactly 5 frames (blanks between the repeats). Blank is
    # favoured everywhere, so a 1-hypothesis beam keeps blank at frame 0 and can no longer fit.
    graph = chain_graph([(3, 3, 3)])
    logits = np.zeros((5, V))
    logits[:, 0] = 2.0
    lp = log_softmax(logits)
    result = constrained_search(lp, graph, max_active=1)
    assert result.accepted and result.tokens == (3, 3, 3)
    assert result.token_frames == ((0, 0), (2, 2), (4, 4))


def test_graph_without_sentences_never_matches():
    graph = TokenGraph.from_arcs(1, 0, [], [], [], [])
    lp = log_softmax(np.random.default_rng(10).normal(0, 1, (6, V)))
    assert not constrained_search(lp, graph).accepted
