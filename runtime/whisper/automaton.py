"""Byte-level automaton of the allowed transcripts and, per automaton state set, the Whisper tokens that fit it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.whisper.tokens import TrieNode


@dataclass(frozen=True)
class TokenChoices:
    """Tokens allowed after a state set: their ids, the state set each leads to, and whether the text may end."""

    token_ids: np.ndarray
    next_states: tuple
    can_end: bool


class TextAutomaton:
    """A byte NFA with epsilon arcs (built by ``add_state``/``add_arc``); state sets are always epsilon-closed.

    Grammar-agnostic: the caller spells its sentences into it (``daemon.grammar.surface`` does it for grammars).
    ``choices`` walks the vocabulary's byte trie along the automaton and caches the answer per state set, so a
    grammar's common prefixes cost nothing after the first utterance.
    """

    def __init__(self) -> None:
        self._arcs: list[dict[int, list[int]]] = []
        self._epsilon: list[list[int]] = []
        self.finals: set[int] = set()
        self.start = self.add_state()
        self._closures: dict[int, frozenset] = {}
        self._steps: dict[frozenset, dict[int, frozenset]] = {}
        self._choices: dict[frozenset, TokenChoices] = {}

    @property
    def num_states(self) -> int:
        """States so far."""
        return len(self._arcs)

    def add_state(self) -> int:
        """A new state's number."""
        self._arcs.append({})
        self._epsilon.append([])
        return len(self._arcs) - 1

    def add_arc(self, src: int, byte: int | None, dst: int) -> None:
        """An arc on one byte (None = epsilon)."""
        if byte is None:
            self._epsilon[src].append(dst)
        else:
            self._arcs[src].setdefault(byte, []).append(dst)

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
            cached = self._closures.get(state)
            if cached is None:
                seen = {state}
                stack = [state]
                while stack:
                    for nxt in self._epsilon[stack.pop()]:
                        if nxt not in seen:
                            seen.add(nxt)
                            stack.append(nxt)
                cached = self._closures[state] = frozenset(seen)
            result |= cached
        return frozenset(result)

    def start_states(self) -> frozenset:
        """The closed start state set."""
        return self.closure((self.start,))

    def is_final(self, states: frozenset) -> bool:
        """True when a sentence may end here."""
        return not self.finals.isdisjoint(states)

    def _byte_steps(self, states: frozenset) -> dict[int, frozenset]:
        steps = self._steps.get(states)
        if steps is None:
            targets: dict[int, list[int]] = {}
            for state in states:
                for byte, dsts in self._arcs[state].items():
                    targets.setdefault(byte, []).extend(dsts)
            steps = self._steps[states] = {byte: self.closure(dsts) for byte, dsts in targets.items()}
        return steps

    def accepts(self, data: bytes) -> bool:
        """True when ``data`` spells a whole sentence."""
        states = self.start_states()
        for byte in data:
            states = self._byte_steps(states).get(byte)
            if not states:
                return False
        return self.is_final(states)

    def choices(self, states: frozenset, trie: TrieNode) -> TokenChoices:
        """Tokens of the trie whose bytes the automaton can read from ``states`` (cached per state set)."""
        cached = self._choices.get(states)
        if cached is not None:
            return cached
        ids: list[int] = []
        nexts: list[frozenset] = []
        stack = [(trie, states)]
        while stack:
            node, current = stack.pop()
            children = node.children
            for byte, following in self._byte_steps(current).items():
                child = children.get(byte)
                if child is None:
                    continue
                if child.token >= 0:
                    ids.append(child.token)
                    nexts.append(following)
                if child.children:
                    stack.append((child, following))
        cached = TokenChoices(np.array(ids, dtype=np.int64), tuple(nexts), self.is_final(states))
        self._choices[states] = cached
        return cached
