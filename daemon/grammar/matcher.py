"""Text parser: priority-ordered NFA simulation (Pike VM) over the grammar's WordGraph."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from daemon.grammar.graph import WILDCARD, Arc, WordGraph, build_word_graph
from daemon.grammar.model import WildcardList
from daemon.grammar.numbers import is_chinese
from daemon.grammar.words import contains_cjk, split_words

if TYPE_CHECKING:  # pragma: no cover
    from daemon.grammar.grammar import Grammar, IntentMatch

_LOGGER = logging.getLogger(__name__)


class GraphWalker:
    """Epsilon closures and per-state word transitions of a WordGraph, computed lazily and cached."""

    def __init__(self, graph: WordGraph) -> None:
        self.graph = graph
        self._transitions: list[dict | None] = [None] * graph.num_states
        self._closures: list[tuple | None] = [None] * graph.num_states

    def _explore(self, state: int) -> tuple[tuple, dict]:
        """Depth-first walk of the epsilon arcs from ``state`` in arc order (the priority order of backtracking):
        the states reached (with their epsilon paths) and word -> [(target, arcs)] in the order met."""
        arcs_of = self.graph.arcs
        members: list[tuple[int, tuple]] = [(state, ())]
        table: dict[str, list] = {}
        seen = {state}
        stack: list[tuple[int, tuple, int]] = [(state, (), 0)]
        while stack:
            current, path, index = stack.pop()
            arcs = arcs_of[current]
            while index < len(arcs):
                arc = arcs[index]
                index += 1
                if arc.word is not None:
                    table.setdefault(arc.word, []).append((arc.next, path + (arc,)))
                elif arc.next not in seen:
                    seen.add(arc.next)
                    stack.append((current, path, index))  # resume here after the deeper state
                    new_path = path + (arc,)
                    members.append((arc.next, new_path))
                    stack.append((arc.next, new_path, 0))
                    break
        return tuple(members), table

    def closure(self, state: int) -> tuple:
        """States reachable from ``state`` over epsilon arcs, in priority order, with the arcs taken."""
        cached = self._closures[state]
        if cached is None:
            cached, table = self._explore(state)
            self._closures[state] = cached
            self._transitions[state] = table
        return cached

    def transitions(self, state: int) -> dict:
        """word -> [(target, arcs from ``state`` to target)] through the epsilon closure, in priority order."""
        cached = self._transitions[state]
        if cached is None:
            self.closure(state)
            cached = self._transitions[state]
        return cached

    def final_paths(self, state: int) -> list[tuple]:
        """Epsilon paths from ``state`` to a final state."""
        finals = self.graph.finals
        return [path for member, path in self.closure(state) if member in finals]


class TextMatcher:
    """Matches texts against one grammar with a priority-ordered NFA simulation (Pike VM)."""

    def __init__(self, grammar: "Grammar") -> None:
        has_wildcards = any(isinstance(lst, WildcardList) for lst in grammar.all_lists())
        self.graph: WordGraph = build_word_graph(grammar, include_wildcards=True) if has_wildcards else grammar.word_graph()
        self.has_wildcards = has_wildcards
        self.finals = self.graph.finals
        self.walker = GraphWalker(self.graph)
        self._transitions = self.walker._transitions
        self.chinese_language = next((lang for lang in grammar.languages if is_chinese(lang)), None)
        self.other_language = next((lang for lang in grammar.languages if not is_chinese(lang)), None)
        self.skip_sequences: list[tuple[str, ...]] = []
        for skip in grammar.skip_words:
            words = tuple(split_words(skip, self.chinese_language or grammar.language))
            if words:
                self.skip_sequences.append(words)
        # Longer skip phrases first so "could you" wins over "could".
        self.skip_sequences.sort(key=len, reverse=True)

    def accepted_paths(self, words: list[str]):
        """The arcs of each accepted path for ``words`` (one per final thread), highest priority first."""
        transitions = self._transitions
        active: dict[int, tuple | None] = {self.graph.start: None}
        wildcards = self.has_wildcards
        for word in words:
            new: dict[int, tuple] = {}
            for state, node in active.items():
                table = transitions[state]
                if table is None:
                    table = self.walker.transitions(state)
                moves = table.get(word)
                if wildcards:
                    extra = table.get(WILDCARD)
                    if extra:
                        moves = (moves or []) + extra
                if moves:
                    for target, arcs in moves:
                        if target not in new:
                            new[target] = (node, arcs)
            if not new:
                return
            active = new
        finals = self.finals
        for state, node in active.items():
            for member, path in self.walker.closure(state):
                if member in finals:
                    pieces = [path]
                    while node is not None:
                        node, arcs = node
                        pieces.append(arcs)
                    yield [arc for arcs in reversed(pieces) for arc in arcs]

    # -- text

    def words_of(self, text: str) -> list[str]:
        """Words of ``text`` with written numbers spoken in the text's language."""
        if contains_cjk(text) and self.chinese_language:
            language = self.chinese_language
        else:
            language = self.other_language or self.chinese_language or "en"
        return split_words(text, language)

    def remove_skip_words(self, words: list[str]) -> list[str]:
        """``words`` without any skip-word phrase."""
        if not self.skip_sequences:
            return words
        result: list[str] = []
        index = 0
        while index < len(words):
            for skip in self.skip_sequences:
                if tuple(words[index : index + len(skip)]) == skip:
                    index += len(skip)
                    break
            else:
                result.append(words[index])
                index += 1
        return result

    def parse(self, text: str) -> "IntentMatch | None":
        """Intent of ``text`` (skip words tried as part of the sentence first, then dropped), or None."""
        words = self.words_of(text)
        match = self.match_words(words)
        if match is None:
            without = self.remove_skip_words(words)
            if without != words and without:
                match = self.match_words(without)
        return match

    def match_words(self, words: list[str]) -> "IntentMatch | None":
        """The first accepted reading of ``words`` whose context requirements hold."""
        for path in self.accepted_paths(words):
            if self.has_wildcards:
                path = _fill_wildcards(path, words)
            match, context_ok = self.graph.interpret_with_context(path)
            if context_ok:
                return match
        return None


def _fill_wildcards(path: list[Arc], words: list[str]) -> list[Arc]:
    """Put the input words on the wildcard arcs of an accepted path so that slots get the spoken text."""
    filled: list[Arc] = []
    position = 0
    for arc in path:
        if arc.word is None:
            filled.append(arc)
            continue
        if arc.word == WILDCARD:
            arc = Arc(words[position], arc.next, arc.output)
        filled.append(arc)
        position += 1
    return filled
