"""A grammar compiled into the model's unit space: a compact CSR automaton over unit ids (0 = epsilon)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

_LOGGER = logging.getLogger(__name__)

EPSILON = 0  # the CTC blank id doubles as "no unit": blank itself is never a graph label


@dataclass(frozen=True, eq=False)
class TokenGraph:
    """Automaton whose arcs carry unit ids; arcs of state s are ``arc_start[s]:arc_start[s+1]``.

    ``arc_output`` indexes ``outputs`` (-1 = none); ``arc_origin`` is an opaque id of the arc of the
    word-level graph an arc came from (-1 = none), so an accepted path can be mapped back to words.
    """

    num_states: int
    start: int
    final: np.ndarray  # bool (num_states,)
    arc_start: np.ndarray  # int32 (num_states + 1,)
    arc_token: np.ndarray  # int32 (num_arcs,)
    arc_next: np.ndarray  # int32 (num_arcs,)
    arc_output: np.ndarray  # int32 (num_arcs,)
    arc_origin: np.ndarray  # int32 (num_arcs,)
    outputs: tuple[str, ...] = ()
    unknown_words: tuple[str, ...] = ()  # grammar words the model's units cannot spell (their arcs are dropped)
    # Search tables derived once per graph (epsilon closures, distances to a final state).
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_arcs(
        cls,
        num_states: int,
        start: int,
        finals: Sequence[int] | np.ndarray,
        src: Sequence[int] | np.ndarray,
        token: Sequence[int] | np.ndarray,
        next_state: Sequence[int] | np.ndarray,
        output: Sequence[int] | np.ndarray | None = None,
        origin: Sequence[int] | np.ndarray | None = None,
        outputs: Sequence[str] = (),
        unknown_words: Sequence[str] = (),
    ) -> "TokenGraph":
        """Build the CSR layout from parallel arc lists (arcs keep their relative order per state)."""
        src_a = np.asarray(src, dtype=np.int64)
        n = len(src_a)
        token_a = np.asarray(token, dtype=np.int32)
        next_a = np.asarray(next_state, dtype=np.int32)
        output_a = np.full(n, -1, np.int32) if output is None else np.asarray(output, dtype=np.int32)
        origin_a = np.full(n, -1, np.int32) if origin is None else np.asarray(origin, dtype=np.int32)
        if not (len(token_a) == len(next_a) == len(output_a) == len(origin_a) == n):
            raise ValueError("arc arrays differ in length")
        if not 0 <= start < max(num_states, 1):
            raise ValueError(f"start state {start} is outside 0..{num_states - 1}")
        if n and (src_a.min() < 0 or src_a.max() >= num_states or next_a.min() < 0 or next_a.max() >= num_states):
            raise ValueError("an arc refers to a state outside the graph")
        if n and token_a.min() < 0:
            raise ValueError("unit ids must be >= 0 (0 = epsilon)")
        order = np.argsort(src_a, kind="stable")
        counts = np.bincount(src_a, minlength=num_states)
        arc_start = np.zeros(num_states + 1, np.int32)
        np.cumsum(counts, out=arc_start[1:])
        final = np.zeros(num_states, bool)
        final[np.asarray(finals, dtype=np.int64)] = True
        return cls(
            num_states=int(num_states),
            start=int(start),
            final=final,
            arc_start=arc_start,
            arc_token=np.ascontiguousarray(token_a[order]),
            arc_next=np.ascontiguousarray(next_a[order]),
            arc_output=np.ascontiguousarray(output_a[order]),
            arc_origin=np.ascontiguousarray(origin_a[order]),
            outputs=tuple(outputs),
            unknown_words=tuple(unknown_words),
        )

    @property
    def num_arcs(self) -> int:
        """Number of arcs, epsilon arcs included."""
        return int(len(self.arc_token))

    @property
    def finals(self) -> np.ndarray:
        """Indices of the final states."""
        return np.flatnonzero(self.final)

    @property
    def nbytes(self) -> int:
        """Memory held by the graph's arrays."""
        arrays = (self.final, self.arc_start, self.arc_token, self.arc_next, self.arc_output, self.arc_origin)
        return int(sum(a.nbytes for a in arrays))

    def arc_src(self) -> np.ndarray:
        """Source state of every arc (int32), expanded from the CSR offsets."""
        return np.repeat(np.arange(self.num_states, dtype=np.int32), np.diff(self.arc_start))

    def arcs_of(self, state: int) -> range:
        """Indices of the arcs leaving ``state``."""
        return range(int(self.arc_start[state]), int(self.arc_start[state + 1]))

    def token_sequences(self, limit: int = 100_000) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Enumerate accepted (unit ids, arc indices) paths, at most ``limit``; for tests and tools on small graphs."""
        results: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        stack: list[tuple[int, tuple[int, ...], tuple[int, ...], frozenset[int]]] = [
            (self.start, (), (), frozenset({self.start}))
        ]
        while stack and len(results) < limit:
            state, tokens, path, eps_seen = stack.pop()
            if self.final[state]:
                results.append((tokens, path))
            for arc in reversed(self.arcs_of(state)):
                nxt = int(self.arc_next[arc])
                tok = int(self.arc_token[arc])
                if tok == EPSILON:
                    if nxt in eps_seen:  # an epsilon cycle adds nothing new
                        continue
                    stack.append((nxt, tokens, path + (arc,), eps_seen | {nxt}))
                else:
                    stack.append((nxt, tokens + (tok,), path + (arc,), frozenset({nxt})))
        return results
