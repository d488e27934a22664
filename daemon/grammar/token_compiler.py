"""Compile a grammar's WordGraph into a TokenGraph over the model's units (word arcs become unit chains)."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import numpy as np

from runtime.decoding.token_graph import EPSILON, TokenGraph

_LOGGER = logging.getLogger(__name__)


class WordTokenizer(Protocol):
    """What the compiler needs from runtime.tokenizer.ModelTokenizer."""

    def encode_word(self, word: str) -> tuple[int, ...] | None:
        """Unit ids of one word, or None."""


def flat_word_arcs(word_graph: Any) -> tuple[Any, ...]:
    """The word graph's arcs in state order: ``TokenGraph.arc_origin`` ids index this tuple."""
    return tuple(arc for arcs in word_graph.arcs for arc in arcs)


def compile_token_graph(word_graph: Any, tokenizer: WordTokenizer) -> TokenGraph:
    """Replace every word arc by a chain of unit arcs, drop unspellable words, merge plain epsilons, trim.

    The result's ``arc_origin`` is the index of the originating arc in ``flat_word_arcs(word_graph)``
    (set on the first unit arc of a word and on kept epsilon arcs); ``unknown_words`` lists the words
    the model cannot spell, whose arcs were dropped.
    """
    num_states = int(word_graph.num_states)
    src: list[int] = []
    tok: list[int] = []
    nxt: list[int] = []
    out: list[int] = []
    origin: list[int] = []
    unknown: set[str] = set()
    spelled: dict[str, tuple[int, ...] | None] = {}
    arc_id = 0
    for state, arcs in enumerate(word_graph.arcs):
        for arc in arcs:
            word = arc.word
            if word is None:
                src.append(state)
                tok.append(EPSILON)
                nxt.append(arc.next)
                out.append(arc.output)
                origin.append(arc_id)
            else:
                units = spelled.get(word, _MISSING)
                if units is _MISSING:
                    units = tokenizer.encode_word(word)
                    spelled[word] = units
                if not units:
                    unknown.add(word)
                else:
                    last = len(units) - 1
                    here = state
                    for i, unit in enumerate(units):
                        if i == last:
                            there = arc.next
                        else:
                            there = num_states
                            num_states += 1
                        src.append(here)
                        tok.append(unit)
                        nxt.append(there)
                        out.append(arc.output if i == 0 else -1)
                        origin.append(arc_id if i == 0 else -1)
                        here = there
            arc_id += 1
    if unknown:
        _LOGGER.warning("the model cannot spell %d grammar word(s): %s", len(unknown), " ".join(sorted(unknown)))
    arrays = _Arcs(
        np.asarray(src, np.int64),
        np.asarray(tok, np.int32),
        np.asarray(nxt, np.int64),
        np.asarray(out, np.int32),
        np.asarray(origin, np.int32),
    )
    final = np.zeros(num_states, bool)
    final[list(word_graph.finals)] = True
    start = int(word_graph.start)
    arrays, final, start = _merge_plain_epsilons(arrays, final, start, into_target=True)
    arrays, final, start = _merge_plain_epsilons(arrays, final, start, into_target=False)
    arrays, final, start, num_states = _trim(arrays, final, start)
    return TokenGraph.from_arcs(
        num_states,
        start,
        np.flatnonzero(final),
        arrays.src,
        arrays.tok,
        arrays.nxt,
        arrays.out,
        arrays.origin,
        outputs=tuple(word_graph.outputs),
        unknown_words=tuple(sorted(unknown)),
    )


_MISSING: Any = object()


class _Arcs:
    """Parallel arc arrays being rewritten."""

    __slots__ = ("src", "tok", "nxt", "out", "origin")

    def __init__(self, src: np.ndarray, tok: np.ndarray, nxt: np.ndarray, out: np.ndarray, origin: np.ndarray):
        self.src, self.tok, self.nxt, self.out, self.origin = src, tok, nxt, out, origin

    def select(self, mask: np.ndarray) -> "_Arcs":
        return _Arcs(self.src[mask], self.tok[mask], self.nxt[mask], self.out[mask], self.origin[mask])


def _merge_plain_epsilons(
    arcs: _Arcs, final: np.ndarray, start: int, into_target: bool
) -> tuple[_Arcs, np.ndarray, int]:
    """Merge the two ends of output-less epsilon arcs where that cannot change the language.

    into_target: p -eps-> q is p's only arc (p final only if q is) -> p and q accept the same suffixes.
    otherwise: p -eps-> q is q's only incoming arc and q is not the start -> they see the same prefixes.
    Each pass merges only states equivalent in one direction, so all its merges hold at once.
    """
    num_states = len(final)
    plain = (arcs.tok == EPSILON) & (arcs.out < 0) & (arcs.src != arcs.nxt)
    if not plain.any():
        return arcs, final, start
    if into_target:
        degree = np.bincount(arcs.src, minlength=num_states)
        cand = plain & (degree[arcs.src] == 1) & (~final[arcs.src] | final[arcs.nxt])
        pairs = zip(arcs.src[cand].tolist(), arcs.nxt[cand].tolist())
    else:
        degree = np.bincount(arcs.nxt, minlength=num_states)
        cand = plain & (degree[arcs.nxt] == 1) & (arcs.nxt != start)
        pairs = zip(arcs.nxt[cand].tolist(), arcs.src[cand].tolist())
    if not cand.any():
        return arcs, final, start
    parent = list(range(num_states))

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for merged, kept in pairs:
        a, b = find(merged), find(kept)
        if a != b:
            parent[a] = b
    rep = np.fromiter((find(x) for x in range(num_states)), np.int64, num_states)
    new_final = np.zeros(num_states, bool)
    new_final[rep[final]] = True
    new_src, new_nxt = rep[arcs.src], rep[arcs.nxt]
    keep = ~(plain & (new_src == new_nxt))
    arcs = _Arcs(new_src, arcs.tok, new_nxt, arcs.out, arcs.origin).select(keep)
    return arcs, new_final, int(rep[start])


def _trim(arcs: _Arcs, final: np.ndarray, start: int) -> tuple[_Arcs, np.ndarray, int, int]:
    """Keep states on some start-to-final path and number them densely in order of first reach."""
    num_states = len(final)
    forward = np.zeros(num_states, bool)
    forward[start] = True
    while True:
        reached = forward.copy()
        reached[arcs.nxt[forward[arcs.src]]] = True
        if np.array_equal(reached, forward):
            break
        forward = reached
    backward = final.copy()
    while True:
        reached = backward.copy()
        reached[arcs.src[backward[arcs.nxt]]] = True
        if np.array_equal(reached, backward):
            break
        backward = reached
    alive = forward & backward
    if not alive[start]:
        # Nothing is accepted (e.g. every word unspellable): a single non-final start state.
        empty = np.zeros(0, np.int64)
        return _Arcs(empty, empty.astype(np.int32), empty, empty.astype(np.int32), empty.astype(np.int32)), np.zeros(1, bool), 0, 1
    keep_arc = alive[arcs.src] & alive[arcs.nxt]
    arcs = arcs.select(keep_arc)
    new_id = np.cumsum(alive) - 1
    arcs = _Arcs(new_id[arcs.src], arcs.tok, new_id[arcs.nxt], arcs.out, arcs.origin)
    return arcs, final[alive], int(new_id[start]), int(alive.sum())


def graph_summary(graph: TokenGraph) -> dict[str, int]:
    """Sizes for logs and benchmarks."""
    return {
        "states": graph.num_states,
        "arcs": graph.num_arcs,
        "epsilon_arcs": int((graph.arc_token == EPSILON).sum()),
        "bytes": graph.nbytes,
    }


def unspellable_words(word_graph: Any, tokenizer: WordTokenizer) -> list[str]:
    """Words of the graph that the model's units cannot spell, sorted."""
    words = {arc.word for arcs in word_graph.arcs for arc in arcs if arc.word is not None}
    return sorted(word for word in words if not tokenizer.encode_word(word))
