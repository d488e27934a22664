"""Grammar-constrained CTC Viterbi beam search over a TokenGraph, plus the free best path for rejection."""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from runtime.decoding.token_graph import EPSILON, TokenGraph

_LOGGER = logging.getLogger(__name__)

DEFAULT_BEAM = 16.0
DEFAULT_MAX_ACTIVE = 256
_UNREACHABLE = np.iinfo(np.int32).max // 2


@dataclass(frozen=True)
class ConstrainedResult:
    """Best grammar path through the log-probs (if any) and the unconstrained best path for comparison."""

    accepted: bool  # a path reached a final state exactly at the last frame
    log_likelihood: float  # Viterbi log-likelihood of the best accepted path; -inf when none
    free_log_likelihood: float  # sum over frames of the per-frame max log-prob
    num_frames: int
    tokens: tuple[int, ...] = ()  # unit ids of the accepted path
    token_frames: tuple[tuple[int, int], ...] = ()  # (first, last) frame of each token
    token_confidences: tuple[float, ...] = ()  # max posterior of the token over its frames
    arc_path: tuple[int, ...] = ()  # token-graph arcs taken, epsilon arcs included, in order
    outputs: tuple[int, ...] = ()  # output labels met along the path (index into TokenGraph.outputs)
    origins: tuple[int, ...] = ()  # arc_origin ids met along the path, in order
    free_tokens: tuple[int, ...] = ()  # greedy CTC transcript (argmax, repeats merged, blanks dropped)

    @property
    def margin(self) -> float:
        """(constrained - free) log-likelihood per frame: 0 = the grammar path is the free best path."""
        if not self.accepted or self.num_frames == 0:
            return -math.inf
        return (self.log_likelihood - self.free_log_likelihood) / self.num_frames


@dataclass(frozen=True, eq=False)
class SearchIndex:
    """Per-graph tables of the search; hypothesis h < S is 'blank at state h', h >= S is 'in the unit of arc h-S'.

    Every hypothesis has a precomputed successor list (itself, blank at its arc's end state, and the unit
    arcs of its state's epsilon closure minus those repeating its own unit), so a frame is a few gathers.
    """

    num_states: int
    h_node: np.ndarray  # graph state a hypothesis continues from
    succ_start: np.ndarray  # successors of h are succ_*[succ_start[h]:succ_start[h] + succ_count[h]]
    succ_count: np.ndarray
    succ_hyp: np.ndarray
    succ_token: np.ndarray  # unit emitted when moving to the successor (0 = blank)
    succ_dist: np.ndarray  # fewest further units the successor needs to reach a final state
    max_dist: int  # largest finite distance: below it the frames left start to prune
    start_dist: int  # fewest units of any accepted path (unreachable: a huge number)
    final_reachable: np.ndarray  # bool per state: a final state is within its epsilon closure
    eps_out: tuple[tuple[int, ...], ...]  # epsilon arcs per state, for the back-trace

    @classmethod
    def build(cls, graph: TokenGraph) -> "SearchIndex":
        """Precompute epsilon closures, successor lists and distances to a final state."""
        num_states = graph.num_states
        src = graph.arc_src()
        token = graph.arc_token.astype(np.int64)
        nxt = graph.arc_next.astype(np.int64)
        is_eps = token == EPSILON
        eps_idx = np.flatnonzero(is_eps)
        eps_lists: list[list[int]] = [[] for _ in range(num_states)]
        for arc in eps_idx.tolist():
            eps_lists[src[arc]].append(arc)
        eps_out = tuple(tuple(v) for v in eps_lists)

        # Epsilon closure as (state, member) pairs; most states have none besides themselves.
        pair_state: list[int] = []
        pair_member: list[int] = []
        if len(eps_idx):
            nxt_list = nxt.tolist()
            for state in np.unique(src[eps_idx]).tolist():
                seen = {state}
                stack = [state]
                while stack:
                    u = stack.pop()
                    for arc in eps_out[u]:
                        v = nxt_list[arc]
                        if v not in seen:
                            seen.add(v)
                            stack.append(v)
                seen.discard(state)
                pair_state.extend([state] * len(seen))
                pair_member.extend(seen)
        ps = np.concatenate([np.arange(num_states), np.asarray(pair_state, np.int64)])
        pm = np.concatenate([np.arange(num_states), np.asarray(pair_member, np.int64)])
        final_reachable = np.zeros(num_states, bool)
        final_reachable[ps[graph.final[pm]]] = True

        # Unit arcs reachable from each state through its closure: (state, arc) pairs.
        real_idx = np.flatnonzero(~is_eps)
        real_start = np.zeros(num_states + 1, np.int64)
        np.cumsum(np.bincount(src[real_idx], minlength=num_states), out=real_start[1:])
        closure_state, closure_arc = _expand_ranges(ps, real_start[pm], real_start[pm + 1] - real_start[pm])
        closure_arc = real_idx[closure_arc]

        # Successor pairs (hypothesis, successor hypothesis, unit on the move).
        hyp_of_arc = real_idx + num_states
        blank_states = np.arange(num_states)
        # Blank at s: stays blank, or enters any closure arc of s.
        from_blank = (closure_state, closure_arc + num_states, token[closure_arc])
        # In the unit of arc a: repeats (merges), goes blank at its end state, or enters a closure
        # arc of its end state whose unit differs (the same unit twice needs a blank in between).
        order = np.argsort(closure_state, kind="stable")
        cs_sorted, ca_sorted = closure_state[order], closure_arc[order]
        cs_start = np.zeros(num_states + 1, np.int64)
        np.cumsum(np.bincount(cs_sorted, minlength=num_states), out=cs_start[1:])
        dst = nxt[real_idx]
        arc_rows, pos = _expand_ranges(real_idx, cs_start[dst], cs_start[dst + 1] - cs_start[dst])
        entered = ca_sorted[pos]
        allowed = token[entered] != token[arc_rows]
        arc_rows, entered = arc_rows[allowed], entered[allowed]
        succ_from = np.concatenate([blank_states, from_blank[0], hyp_of_arc, hyp_of_arc, arc_rows + num_states])
        succ_to = np.concatenate([blank_states, from_blank[1], hyp_of_arc, dst, entered + num_states])
        succ_tok = np.concatenate(
            [np.zeros(num_states, np.int64), from_blank[2], token[real_idx], np.zeros(len(real_idx), np.int64),
             token[entered]]
        )
        order = np.argsort(succ_from, kind="stable")
        num_hyps = num_states + graph.num_arcs
        succ_start = np.zeros(num_hyps + 1, np.int64)
        np.cumsum(np.bincount(succ_from, minlength=num_hyps), out=succ_start[1:])
        succ_hyp = succ_to[order]

        dist = _distance_to_final(graph)
        h_node = np.concatenate([np.arange(num_states, dtype=np.int64), nxt])
        finite = dist[dist < _UNREACHABLE]
        return cls(
            num_states=num_states,
            h_node=h_node,
            succ_start=succ_start[:-1],
            succ_count=np.diff(succ_start),
            succ_hyp=succ_hyp,
            succ_token=succ_tok[order],
            succ_dist=dist[h_node[succ_hyp]],
            max_dist=int(finite.max()) if len(finite) else 0,
            start_dist=int(dist[graph.start]),
            final_reachable=final_reachable,
            eps_out=eps_out,
        )


def _expand_ranges(owner: np.ndarray, begin: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [begin, begin+count) per owner: (owner repeated, every index of its range)."""
    total = int(count.sum())
    rows = np.repeat(owner, count)
    offs = np.arange(total, dtype=np.int64) + np.repeat(begin - (np.cumsum(count) - count), count)
    return rows, offs


def _distance_to_final(graph: TokenGraph) -> np.ndarray:
    """Fewest unit arcs from each state to a final state (epsilons are free), by vectorised relaxation."""
    dist = np.where(graph.final, 0, _UNREACHABLE).astype(np.int64)
    weight = (graph.arc_token != EPSILON).astype(np.int64)
    nxt = graph.arc_next.astype(np.int64)
    # Arcs are grouped by source state (CSR), so a per-state minimum is one reduceat (ufunc.at is slow
    # on the older numpy of the board's distribution).
    has_arcs = np.flatnonzero(np.diff(graph.arc_start) > 0)
    seg_starts = graph.arc_start[has_arcs]
    if len(seg_starts) == 0:
        return dist
    for _ in range(graph.num_states + 1):
        cand = np.minimum(dist[nxt] + weight, _UNREACHABLE)
        new = dist.copy()
        new[has_arcs] = np.minimum(dist[has_arcs], np.minimum.reduceat(cand, seg_starts))
        if np.array_equal(new, dist):
            break
        dist = new
    return dist


def search_index(graph: TokenGraph) -> SearchIndex:
    """The graph's search tables, built on first use and kept with the (immutable) graph."""
    index = graph._cache.get("search")
    if index is None:
        index = SearchIndex.build(graph)
        graph._cache["search"] = index
    return index


def free_best_path(logprobs: np.ndarray) -> tuple[float, tuple[int, ...]]:
    """Unconstrained Viterbi: (sum of per-frame max log-probs, greedy CTC tokens)."""
    if len(logprobs) == 0:
        return 0.0, ()
    best = logprobs.argmax(axis=1)
    score = float(logprobs[np.arange(len(best)), best].astype(np.float64).sum())
    keep = np.ones(len(best), bool)
    keep[1:] = best[1:] != best[:-1]
    keep &= best != 0
    return score, tuple(int(i) for i in best[keep])


def constrained_search(
    logprobs: np.ndarray,
    graph: TokenGraph,
    beam: float = DEFAULT_BEAM,
    max_active: int = DEFAULT_MAX_ACTIVE,
) -> ConstrainedResult:
    """Best CTC path of ``logprobs`` (T, V) that spells a complete path of ``graph`` in exactly T frames.

    Viterbi token passing: per frame every hypothesis may stay (blank or a repeated unit that merges),
    move to blank, or enter a unit arc of its state's epsilon closure; two identical units in a row
    need a blank between them. Hypotheses that can no longer reach a final state in the frames left,
    fall more than ``beam`` below the best, or rank below ``max_active`` are dropped.
    """
    logprobs = np.asarray(logprobs)
    if logprobs.ndim != 2:
        raise ValueError(f"log-probs must be (T, V), got shape {logprobs.shape}")
    num_frames = len(logprobs)
    free_score, free_tokens = free_best_path(logprobs)
    if num_frames == 0:
        return ConstrainedResult(False, -math.inf, free_score, 0, free_tokens=free_tokens)
    if graph.num_arcs and int(graph.arc_token.max()) >= logprobs.shape[1]:
        raise ValueError(
            f"the graph uses unit {int(graph.arc_token.max())} but the log-probs have only {logprobs.shape[1]} units"
        )
    index = search_index(graph)
    no_match = ConstrainedResult(False, -math.inf, free_score, num_frames, free_tokens=free_tokens)
    if index.start_dist > num_frames:
        return no_match  # too short for any sentence: one frame per unit at the very least
    history = _forward(logprobs, index, graph.start, float(beam), int(max_active))
    if history is None or not index.final_reachable[index.h_node[history[-1][0]]].any():
        # Pruning can drop every path that fits (units that repeat need extra blank frames the
        # distance bound ignores): search once more with a much wider beam before giving up.
        history = _forward(logprobs, index, graph.start, float(beam) * 2.0, int(max_active) * 8)
        if history is None or not index.final_reachable[index.h_node[history[-1][0]]].any():
            return no_match
    ids, preds, scores = history[-1]
    final_mask = index.final_reachable[index.h_node[ids]]
    candidates = np.flatnonzero(final_mask)
    best = int(candidates[np.argmax(scores[candidates])])
    best_score = float(scores[best])
    states = _backtrace(history, best)
    return _path_result(logprobs, graph, index, states, best_score, free_score, free_tokens)


def _forward(
    logprobs: np.ndarray, index: SearchIndex, start: int, beam: float, max_active: int
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
    """Run the frames; returns per frame (hypothesis ids, index of the predecessor, scores) or None if all died."""
    succ_start, succ_count = index.succ_start, index.succ_count
    succ_hyp, succ_token, succ_dist = index.succ_hyp, index.succ_token, index.succ_dist
    num_frames = len(logprobs)
    lp_all = logprobs.astype(np.float64)
    ids = np.array([start], np.int64)
    scores = np.zeros(1, np.float64)
    history: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for t in range(num_frames):
        cnt = succ_count[ids]
        ends = np.cumsum(cnt)
        total = int(ends[-1])
        preds = np.repeat(np.arange(len(ids)), cnt)
        offs = np.arange(total) + np.repeat(succ_start[ids] - ends + cnt, cnt)
        remaining = num_frames - 1 - t
        if remaining < index.max_dist:
            # Near the end: drop moves that cannot reach a final state in the frames left.
            reaching = succ_dist[offs] <= remaining
            offs, preds = offs[reaching], preds[reaching]
            if len(offs) == 0:
                return None
        cand = succ_hyp[offs]
        cand_scores = scores[preds] + lp_all[t][succ_token[offs]]
        best = cand_scores.max()
        keep = cand_scores >= best - beam
        if not keep.all():
            cand, cand_scores, preds = cand[keep], cand_scores[keep], preds[keep]
        # Viterbi merge: one sort groups candidates by hypothesis, best score first within a group.
        spread = best - cand_scores
        key = cand * (float(spread.max()) * 2.0 + 1.0) + spread
        order = np.argsort(key)
        sorted_cand = cand[order]
        first = np.empty(len(order), bool)
        first[0] = True
        np.not_equal(sorted_cand[1:], sorted_cand[:-1], out=first[1:])
        sel = order[first]
        if len(sel) > max_active:
            sel = sel[np.argpartition(spread[sel], max_active - 1)[:max_active]]
        ids, scores = cand[sel], cand_scores[sel]
        history.append((ids, preds[sel], scores))
    return history


def _backtrace(history: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], best: int) -> list[int]:
    """Hypothesis id at every frame along the best path."""
    states = [0] * len(history)
    k = best
    for t in range(len(history) - 1, -1, -1):
        ids, preds, _ = history[t]
        states[t] = int(ids[k])
        k = int(preds[k])
    return states


def _eps_path(graph: TokenGraph, index: SearchIndex, source: int, target: int | None) -> list[int]:
    """Shortest epsilon-arc path from ``source`` to ``target`` (or to any final state when target is None)."""
    if (target is None and graph.final[source]) or source == target:
        return []
    parent: dict[int, int] = {source: -1}
    queue = deque([source])
    nxt = graph.arc_next
    while queue:
        u = queue.popleft()
        for arc in index.eps_out[u]:
            v = int(nxt[arc])
            if v in parent:
                continue
            parent[v] = arc
            if v == target or (target is None and graph.final[v]):
                path = []
                while v != source:
                    arc_v = parent[v]
                    path.append(arc_v)
                    v = _arc_source(graph, arc_v)
                return path[::-1]
            queue.append(v)
    raise AssertionError(f"no epsilon path from state {source} to {target}")


def _arc_source(graph: TokenGraph, arc: int) -> int:
    return int(np.searchsorted(graph.arc_start, arc, side="right") - 1)


def _path_result(
    logprobs: np.ndarray,
    graph: TokenGraph,
    index: SearchIndex,
    states: list[int],
    score: float,
    free_score: float,
    free_tokens: tuple[int, ...],
) -> ConstrainedResult:
    """Turn the per-frame hypotheses of the best path into units, frames, arcs and output labels."""
    num_states = index.num_states
    arc_path: list[int] = []
    tokens: list[int] = []
    frames: list[list[int]] = []
    prev = graph.start
    for t, h in enumerate(states):
        if h >= num_states:
            if h != prev:
                arc = h - num_states
                arc_path.extend(_eps_path(graph, index, int(index.h_node[prev]), _arc_source(graph, arc)))
                arc_path.append(arc)
                tokens.append(int(graph.arc_token[arc]))
                frames.append([t, t])
            else:
                frames[-1][1] = t
        prev = h
    arc_path.extend(_eps_path(graph, index, int(index.h_node[prev]), None))
    confidences = tuple(
        float(np.exp(logprobs[first : last + 1, tok].max())) for tok, (first, last) in zip(tokens, frames)
    )
    outputs = tuple(int(o) for o in graph.arc_output[arc_path] if o >= 0) if arc_path else ()
    origins = tuple(int(o) for o in graph.arc_origin[arc_path] if o >= 0) if arc_path else ()
    return ConstrainedResult(
        accepted=True,
        log_likelihood=score,
        free_log_likelihood=free_score,
        num_frames=len(states),
        tokens=tuple(tokens),
        token_frames=tuple((f, l) for f, l in frames),
        token_confidences=confidences,
        arc_path=tuple(arc_path),
        outputs=outputs,
        origins=origins,
        free_tokens=free_tokens,
    )
