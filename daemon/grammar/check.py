"""Grammar checks behind ``voicecmd check-grammar``: load problems, ambiguity, words a model cannot spell."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable

from daemon.grammar.ambiguity import ambiguity_problems
from daemon.grammar.grammar import Grammar
from daemon.grammar.graph import WordGraph
from daemon.grammar.loader import load_grammar_data
from daemon.grammar.model import GrammarProblem, SourcePosition

_LOGGER = logging.getLogger(__name__)


def check_grammar(paths: Iterable[str | Path], ambiguity: bool = True) -> tuple[Grammar, list[GrammarProblem]]:
    """Load ``paths`` and collect every problem (errors and warnings) instead of raising."""
    grammar = Grammar(load_grammar_data(list(paths)))
    problems = list(grammar.problems)
    if not grammar.errors and ambiguity:
        problems.extend(ambiguity_problems(grammar.word_graph()))
    return grammar, problems


def unspellable_word_problems(graph: WordGraph, encode_word: Callable[[str], object]) -> list[GrammarProblem]:
    """One problem per graph word that ``encode_word`` cannot spell (returns None), at its first sentence."""
    first_state: dict[str, int] = {}
    for state, arcs in enumerate(graph.arcs):
        for arc in arcs:
            if arc.word is not None and arc.word not in first_state:
                first_state[arc.word] = state
    problems: list[GrammarProblem] = []
    for word in sorted(first_state, key=lambda w: first_state[w]):
        if encode_word(word) is None:
            position = graph.origin_of(first_state[word]) or SourcePosition("<grammar>", 1, 1)
            problems.append(GrammarProblem(position, (
                f"the model cannot spell {word!r} with its units; use another word or a model whose units cover it")))
    return problems
