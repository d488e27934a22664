"""Whether a recognized sentence is over: nothing the grammar lets follow it could change its intent or slots."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from daemon.grammar.words import contains_cjk, join_words, split_words

if TYPE_CHECKING:  # pragma: no cover
    from daemon.grammar.grammar import Grammar

#: Continuations are followed this many words deep; a sentence that can go on longer is never final.
MAX_EXTENSION_WORDS = 4
#: ... and at most this many of them are interpreted; more is never final either.
MAX_EXTENSIONS = 64


class SentenceCompletion:
    """Answers "is this sentence over?" for one grammar, from its word graph and its parser."""

    def __init__(self, grammar: "Grammar") -> None:
        self._grammar = grammar
        self._graph = grammar.word_graph()

    def is_final(self, text: str) -> bool:
        """True when ``text`` is a whole sentence of the grammar and every way the grammar lets it go on gives
        the same intent and slots ("打开客厅的灯" → "…灯光", "turn on the light" → "… please"), so waiting
        for more speech cannot change what is published. "set the light to fifty" is not final ("… five" would
        change the value). Text the graph cannot follow (or a wildcard sentence, absent from the speech graph)
        is not final: the caller then waits for the usual endpoint."""
        words = split_words(text, "zh" if contains_cjk(text) else "en")
        graph = self._graph
        states = self._closure({graph.start})
        for word in words:
            states = self._closure({arc.next for state in states for arc in graph.arcs[state] if arc.word == word})
            if not states:
                return False
        if not words or not states & graph.finals:
            return False
        extensions = self._extensions(states)
        if extensions is None:
            return False
        if not extensions:
            return True
        meaning = self._meaning(words)
        return meaning is not None and all(self._meaning(words + list(more)) == meaning for more in extensions)

    def _meaning(self, words: list[str]) -> Any:
        match = self._grammar.parse(join_words(words))
        return None if match is None else (match.intent, sorted(match.slots.items(), key=lambda kv: kv[0]).__repr__())

    def _extensions(self, states: set[int]) -> list[tuple[str, ...]] | None:
        """Every word sequence that takes ``states`` to the end of a sentence; None when there are too many or
        they are too long to follow."""
        graph = self._graph
        found: list[tuple[str, ...]] = []
        frontier = [((), states)]
        for _ in range(MAX_EXTENSION_WORDS + 1):
            following: dict[tuple[str, ...], set[int]] = {}
            for words, current in frontier:
                for state in current:
                    for arc in graph.arcs[state]:
                        if arc.word is not None:
                            following.setdefault(words + (arc.word,), set()).add(arc.next)
            if not following:
                return found
            frontier = []
            for words, targets in following.items():
                reached = self._closure(targets)
                if reached & graph.finals:
                    found.append(words)
                frontier.append((words, reached))
            if len(found) > MAX_EXTENSIONS or len(frontier) > MAX_EXTENSIONS:
                return None
        return None  # still going on after MAX_EXTENSION_WORDS words

    def _closure(self, states: set[int]) -> set[int]:
        arcs = self._graph.arcs
        seen = set(states)
        stack = list(states)
        while stack:
            for arc in arcs[stack.pop()]:
                if arc.word is None and arc.next not in seen:
                    seen.add(arc.next)
                    stack.append(arc.next)
        return seen
