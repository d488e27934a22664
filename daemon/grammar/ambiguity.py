"""Ambiguity check: find word strings that two paths of the WordGraph accept with different outputs."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from daemon.grammar.graph import WILDCARD, WordGraph
from daemon.grammar.matcher import GraphWalker
from daemon.grammar.model import GrammarProblem, SourcePosition
from daemon.grammar.words import join_words

_LOGGER = logging.getLogger(__name__)

_DIVERGED = "diverged"
#: Outputs one path may run ahead of the other before the pair counts as different (keeps the search finite).
_MAX_DELAY = 12


@dataclass(frozen=True)
class Ambiguity:
    """A word string with two readings."""

    text: str
    first: object  # IntentMatch
    second: object  # IntentMatch
    first_position: SourcePosition | None
    second_position: SourcePosition | None


def _advance(delay, outputs_a: tuple, outputs_b: tuple):
    """Compare the outputs emitted by two paths so far; return the unmatched rest or _DIVERGED."""
    if delay == _DIVERGED:
        return delay
    ahead_a, ahead_b = delay
    if outputs_a:
        ahead_a = ahead_a + outputs_a
    if outputs_b:
        ahead_b = ahead_b + outputs_b
    common = 0
    limit = min(len(ahead_a), len(ahead_b))
    while common < limit and ahead_a[common] == ahead_b[common]:
        common += 1
    if common:
        ahead_a, ahead_b = ahead_a[common:], ahead_b[common:]
    if (ahead_a and ahead_b) or len(ahead_a) > _MAX_DELAY or len(ahead_b) > _MAX_DELAY:
        return _DIVERGED
    return (ahead_a, ahead_b)


def _outputs(arcs: tuple) -> tuple:
    return tuple(arc.output for arc in arcs if arc.output >= 0)


def find_ambiguities(graph: WordGraph, limit: int = 10, budget: int = 2_000_000) -> tuple[list[Ambiguity], bool]:
    """Ambiguous word strings (at most ``limit``, shortest first) and whether the search finished within ``budget``."""
    walker = GraphWalker(graph, distinct_outputs=True)
    start_config = (graph.start, graph.start, ((), ()))
    parents: dict[tuple, tuple | None] = {start_config: None}
    queue: deque = deque([start_config])
    found: list[Ambiguity] = []
    reported: set[tuple] = set()
    explored = 0
    while queue:
        config = queue.popleft()
        explored += 1
        if explored > budget:
            return found, False
        p, q, delay = config
        for final_p in walker.final_paths(p):
            for final_q in walker.final_paths(q):
                end_delay = _advance(delay, _outputs(final_p), _outputs(final_q))
                if end_delay != ((), ()):
                    ambiguity = _witness(graph, parents, config, final_p, final_q)
                    key = (ambiguity.first_position, ambiguity.second_position)
                    if key not in reported:
                        reported.add(key)
                        found.append(ambiguity)
                        if len(found) >= limit:
                            return found, True
        table_p, table_q = walker.transitions(p), walker.transitions(q)
        if len(table_q) < len(table_p):
            words = [w for w in table_q if w in table_p]
        else:
            words = [w for w in table_p if w in table_q]
        for word in words:
            if word == WILDCARD:
                continue
            for next_p, arcs_p, _ in table_p[word]:
                out_p = _outputs(arcs_p)
                for next_q, arcs_q, _ in table_q[word]:
                    new_delay = _advance(delay, out_p, _outputs(arcs_q))
                    if next_p <= next_q:
                        new_config = (next_p, next_q, new_delay)
                        link = (config, word, arcs_p, arcs_q, False)
                    else:
                        swapped = new_delay if new_delay == _DIVERGED else (new_delay[1], new_delay[0])
                        new_config = (next_q, next_p, swapped)
                        link = (config, word, arcs_p, arcs_q, True)
                    if new_config not in parents:
                        parents[new_config] = link
                        queue.append(new_config)
    return found, True


def _witness(graph: WordGraph, parents: dict, config: tuple, final_p: tuple, final_q: tuple) -> Ambiguity:
    """Rebuild both paths to ``config`` (whose sides may have been swapped on the way) and interpret them."""
    pieces_a: list = [final_p]
    pieces_b: list = [final_q]
    words: list[str] = []
    side_a = 0  # which side of the current configuration carries path A
    current = config
    while parents[current] is not None:
        previous, word, arcs_side0, arcs_side1, swapped = parents[current]
        previous_side_a = 1 - side_a if swapped else side_a
        if previous_side_a == 0:
            pieces_a.append(arcs_side0)
            pieces_b.append(arcs_side1)
        else:
            pieces_a.append(arcs_side1)
            pieces_b.append(arcs_side0)
        words.append(word)
        side_a = previous_side_a
        current = previous
    words.reverse()
    path_a = [arc for piece in reversed(pieces_a) for arc in piece]
    path_b = [arc for piece in reversed(pieces_b) for arc in piece]
    first, second = graph.interpret(path_a), graph.interpret(path_b)
    return Ambiguity(
        text=join_words(words),
        first=first,
        second=second,
        first_position=_path_origin(graph, path_a),
        second_position=_path_origin(graph, path_b),
    )


def _path_origin(graph: WordGraph, path: list) -> SourcePosition | None:
    for arc in path:
        origin = graph.origin_of(arc.next)
        if origin is not None:
            return origin
    return None


def _describe(match) -> str:
    slots = ", ".join(f"{k}={v!r}" for k, v in sorted(match.slots.items()))
    return f"{match.intent}({slots})"


def ambiguity_problems(graph: WordGraph, limit: int = 10) -> list[GrammarProblem]:
    """check-grammar problems for the ambiguous sentences of ``graph``."""
    ambiguities, complete = find_ambiguities(graph, limit=limit)
    problems: list[GrammarProblem] = []
    for item in ambiguities:
        position = item.first_position or item.second_position or SourcePosition("<grammar>", 1, 1)
        if item.first_position == item.second_position:
            where = "two slot readings of this sentence"
        else:
            where = f"this sentence and the one at {item.second_position}"
        problems.append(GrammarProblem(position, (
            f"ambiguous: {item.text!r} means {_describe(item.first)} or {_describe(item.second)} ({where}); "
            "change a template or list value so that only one reading remains")))
    if not complete:
        problems.append(GrammarProblem(SourcePosition("<grammar>", 1, 1),
                                       "ambiguity check stopped early (grammar too large); results are partial",
                                       severity="warning"))
    return problems
