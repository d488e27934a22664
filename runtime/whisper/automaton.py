"""Byte-level automaton of the allowed transcripts and, per automaton state set, the Whisper tokens that fit it."""

from __future__ import annotations

import itertools
from array import array
from dataclasses import dataclass

import numpy as np

from runtime.whisper.tokens import TokenTrie


@dataclass(frozen=True)
class TokenChoices:
    """Tokens allowed after a state set: their ids, the state set each leads to, and whether the text may end."""

    token_ids: np.ndarray
    next_states: tuple
    can_end: bool


#: Cache bounds per automaton. Unbounded, the caches grew with every new command (shipped grammars, 300 different
#: utterances: +29 MB, still growing); at these bounds they stay within a few MB and the states of the common
#: prefixes, used by every utterance, are never the ones dropped (least recently used go first).
MAX_CACHED_CLOSURES = 8192
MAX_CACHED_STEPS = 2048
MAX_CACHED_CHOICES = 1024


def _recall(cache: dict, key):
    """The cached value (None when absent), marked as just used."""
    value = cache.pop(key, None)
    if value is not None:
        cache[key] = value
    return value


def _remember(cache: dict, key, value, limit: int):
    """Store ``value``; when the cache is full its least recently used quarter goes first. Safe for the decode
    threads sharing an automaton: each dict operation is atomic, and a key another thread took is skipped."""
    if len(cache) >= limit:
        for old in list(itertools.islice(cache, max(1, limit // 4))):
            cache.pop(old, None)
    cache[key] = value
    return value


class TextAutomaton:
    """A byte NFA with epsilon arcs (built by ``add_state``/``add_arc``); state sets are always epsilon-closed.

    Grammar-agnostic: the caller spells its sentences into it (``daemon.grammar.surface`` does it for grammars).
    ``choices`` walks the vocabulary's byte trie along the automaton and caches the answer per state set (least
    recently used dropped beyond MAX_CACHED_*), so a grammar's common prefixes cost nothing after the first
    utterance.
    """

    def __init__(self) -> None:
        # Flat tables rather than a dict per state: grammars of 10^5 states stay a few MB.
        self._targets: dict[int, list[int]] = {}  # state << 8 | byte -> next states
        self._bytes: dict[int, bytearray] = {}  # state -> bytes it has arcs on
        self._epsilon: dict[int, list[int]] = {}  # state -> epsilon successors
        self._num_states = 0
        self._frozen: tuple | None = None
        self.finals: set[int] = set()
        self.start = self.add_state()
        self._closures: dict[int, frozenset] = {}
        self._steps: dict[frozenset, dict[int, frozenset]] = {}
        self._choices: dict[frozenset, TokenChoices] = {}

    @property
    def num_states(self) -> int:
        """States so far."""
        return self._num_states

    def add_state(self) -> int:
        """A new state's number."""
        self._num_states += 1
        return self._num_states - 1

    def add_arc(self, src: int, byte: int | None, dst: int) -> None:
        """An arc on one byte (None = epsilon)."""
        if byte is None:
            self._epsilon.setdefault(src, []).append(dst)
            return
        key = src << 8 | byte
        targets = self._targets.get(key)
        if targets is None:
            self._targets[key] = [dst]
            self._bytes.setdefault(src, bytearray()).append(byte)
        else:
            targets.append(dst)

    def freeze(self) -> None:
        """Pack the arcs into flat arrays (a few bytes per arc); no arcs can be added afterwards."""
        if self._targets is None:
            return
        count = self._num_states
        arc_offsets = array("i", bytes(4 * (count + 1)))
        arc_bytes = bytearray()
        arc_targets = array("i")
        for key in sorted(self._targets):
            for target in self._targets[key]:
                arc_bytes.append(key & 0xFF)
                arc_targets.append(target)
                arc_offsets[(key >> 8) + 1] += 1
        eps_offsets = array("i", bytes(4 * (count + 1)))
        eps_targets = array("i")
        for state in sorted(self._epsilon):
            eps_targets.extend(self._epsilon[state])
            eps_offsets[state + 1] = len(self._epsilon[state])
        for index in range(count):
            arc_offsets[index + 1] += arc_offsets[index]
            eps_offsets[index + 1] += eps_offsets[index]
        self._frozen = (arc_offsets, bytes(arc_bytes), arc_targets, eps_offsets, eps_targets)
        self._targets = self._bytes = self._epsilon = None

    def _successors(self, state: int) -> "list[int] | tuple":
        if self._frozen is None:
            return self._epsilon.get(state, ())
        _, _, _, offsets, targets = self._frozen
        return targets[offsets[state]:offsets[state + 1]]

    def _arcs_of(self, state: int):
        """(byte, target) pairs leaving ``state``."""
        if self._frozen is None:
            for byte in self._bytes.get(state, ()):
                for target in self._targets[state << 8 | byte]:
                    yield byte, target
            return
        offsets, arc_bytes, targets, _, _ = self._frozen
        for index in range(offsets[state], offsets[state + 1]):
            yield arc_bytes[index], targets[index]

    def add_bytes(self, src: int, data: bytes, dst: int) -> None:
        """A chain of arcs spelling ``data`` from src to dst (epsilon when empty)."""
        if not data:
            self.add_arc(src, None, dst)
            return
        state = src
        for index, byte in enumerate(data):
            target = dst if index == len(data) - 1 else self.add_state()
            self.add_arc(state, byte, target)
            state = target

    def closure(self, states) -> frozenset:
        """Epsilon closure of some states."""
        result: set[int] = set()
        for state in states:
            cached = _recall(self._closures, state)
            if cached is None:
                seen = {state}
                stack = [state]
                while stack:
                    for nxt in self._successors(stack.pop()):
                        if nxt not in seen:
                            seen.add(nxt)
                            stack.append(nxt)
                cached = _remember(self._closures, state, frozenset(seen), MAX_CACHED_CLOSURES)
            result |= cached
        return frozenset(result)

    def start_states(self) -> frozenset:
        """The closed start state set."""
        return self.closure((self.start,))

    def is_final(self, states: frozenset) -> bool:
        """True when a sentence may end here."""
        return not self.finals.isdisjoint(states)

    def _byte_steps(self, states: frozenset) -> dict[int, frozenset]:
        steps = _recall(self._steps, states)
        if steps is None:
            targets: dict[int, list[int]] = {}
            for state in states:
                for byte, target in self._arcs_of(state):
                    targets.setdefault(byte, []).append(target)
            steps = _remember(self._steps, states, {byte: self.closure(dsts) for byte, dsts in targets.items()},
                              MAX_CACHED_STEPS)
        return steps

    def cache_sizes(self) -> tuple[int, int, int]:
        """Entries cached now: closures, byte steps, token choices (each bounded by its MAX_CACHED_*)."""
        return len(self._closures), len(self._steps), len(self._choices)

    def accepts(self, data: bytes) -> bool:
        """True when ``data`` spells a whole sentence."""
        states = self.start_states()
        for byte in data:
            states = self._byte_steps(states).get(byte)
            if not states:
                return False
        return self.is_final(states)

    def choices(self, states: frozenset, trie: TokenTrie) -> TokenChoices:
        """Tokens of the trie whose bytes the automaton can read from ``states`` (cached per state set)."""
        cached = _recall(self._choices, states)
        if cached is not None:
            return cached
        ids: list[int] = []
        nexts: list[frozenset] = []
        edges, token_at, inner = trie.edges, trie.token, trie.inner
        stack = [(0, states)]
        while stack:
            node, current = stack.pop()
            base = node << 8
            for byte, following in self._byte_steps(current).items():
                child = edges.get(base | byte)
                if child is None:
                    continue
                token = token_at[child]
                if token >= 0:
                    ids.append(token)
                    nexts.append(following)
                if inner[child]:
                    stack.append((child, following))
        return _remember(self._choices, states,
                         TokenChoices(np.array(ids, dtype=np.int64), tuple(nexts), self.is_final(states)),
                         MAX_CACHED_CHOICES)
