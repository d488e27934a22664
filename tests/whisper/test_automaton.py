"""The grammar automaton's caches: bounded, and a dropped entry is rebuilt to the same answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import runtime.whisper.automaton as automaton_module
from daemon.grammar import load_grammar
from daemon.grammar.surface import written_automata
from runtime.whisper.tokens import WhisperVocabulary

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trie():
    return WhisperVocabulary.from_file(REPO / "models" / "whisper-base" / "vocabulary.txt").trie()


def _walk(automaton, trie, steps: int) -> list:
    """Every (state set, choices) met breadth-first from the start for ``steps`` tokens, in a fixed order."""
    seen = []
    frontier = [automaton.start_states()]
    for _ in range(steps):
        following = []
        for states in frontier:
            choices = automaton.choices(states, trie)
            seen.append((states, tuple(choices.token_ids.tolist()), choices.next_states, choices.can_end))
            following.extend(choices.next_states[:3])
        frontier = following
    return seen


def test_caches_stay_bounded_and_answer_the_same(monkeypatch, trie) -> None:
    grammar = load_grammar([REPO / "grammars" / "en"])
    unbounded = _walk(written_automata(grammar)["en"], trie, 4)
    monkeypatch.setattr(automaton_module, "MAX_CACHED_CLOSURES", 64)
    monkeypatch.setattr(automaton_module, "MAX_CACHED_STEPS", 16)
    monkeypatch.setattr(automaton_module, "MAX_CACHED_CHOICES", 8)
    small = written_automata(grammar)["en"]
    bounded = _walk(small, trie, 4)
    assert len(bounded) == len(unbounded) >= 40
    for (states, ids, nexts, can_end), (states2, ids2, nexts2, can_end2) in zip(unbounded, bounded):
        assert (states, ids, nexts, can_end) == (states2, ids2, nexts2, can_end2)
    closures, steps, choices = small.cache_sizes()
    assert closures <= 64 and steps <= 16 and choices <= 8
    # Asked again, the same answers (rebuilt after eviction where needed).
    again = _walk(small, trie, 4)
    assert [(s, i) for s, i, _, _ in again] == [(s, i) for s, i, _, _ in unbounded]


def test_the_start_stays_cached_while_other_state_sets_come_and_go(monkeypatch, trie) -> None:
    """Least recently used go first: a state set asked for before every new one is never dropped."""
    monkeypatch.setattr(automaton_module, "MAX_CACHED_CHOICES", 8)
    automaton = written_automata(load_grammar([REPO / "grammars" / "en"]))["en"]
    start = automaton.start_states()
    first = automaton.choices(start, trie)
    others = [states for states in first.next_states if states != start][:30]
    assert len(others) == 30
    for states in others:
        assert automaton.choices(start, trie) is first
        automaton.choices(states, trie)
    assert automaton.choices(start, trie) is first
    assert automaton.cache_sizes()[2] <= 8
    assert np.array_equal(first.token_ids, automaton.choices(start, trie).token_ids)
