"""Grammar checks behind ``voicecmd check-grammar``: load problems, ambiguity, words a model cannot spell."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable

from daemon.grammar.ambiguity import ambiguity_problems
from daemon.grammar.grammar import Grammar
from daemon.grammar.graph import WordGraph
from daemon.grammar.loader import load_grammar_data
from daemon.grammar.model import GrammarProblem, SourcePosition, ValueList
from daemon.grammar.template import Alternative, ListReference, Permutation, RuleReference, Sequence, Word

_LOGGER = logging.getLogger(__name__)


def check_grammar(paths: Iterable[str | Path], ambiguity: bool = True) -> tuple[Grammar, list[GrammarProblem]]:
    """Load ``paths`` and collect every problem (errors and warnings) instead of raising."""
    grammar = Grammar(load_grammar_data(list(paths)))
    problems = list(grammar.problems)
    if not grammar.errors:
        problems.extend(empty_sentence_problems(grammar))
        if ambiguity:
            problems.extend(ambiguity_problems(grammar.word_graph()))
    return grammar, problems


def empty_sentence_problems(grammar: Grammar) -> list[GrammarProblem]:
    """Warnings for sentences that can be said with no words at all (they would match silence)."""
    problems: list[GrammarProblem] = []
    for datas in grammar.intents.values():
        for data in datas:
            for sentence in data.sentences:
                if _can_be_empty(grammar, sentence.expression, data, ()):
                    problems.append(GrammarProblem(sentence.position, (
                        "this sentence can be said with no words at all; make at least one part required"),
                        severity="warning"))
    return problems


def _can_be_empty(grammar: Grammar, expr, scope, stack: tuple) -> bool:
    if isinstance(expr, Word):
        return False
    if isinstance(expr, (Sequence, Permutation)):
        return all(_can_be_empty(grammar, item, scope, stack) for item in expr.items)
    if isinstance(expr, Alternative):
        return expr.optional or any(_can_be_empty(grammar, c, scope, stack) for c in expr.choices)
    if isinstance(expr, RuleReference):
        rule = grammar.find_rule(expr.rule_name, scope)
        if rule is None or expr.rule_name in stack:
            return False
        return _can_be_empty(grammar, rule.expression, scope, stack + (expr.rule_name,))
    if isinstance(expr, ListReference):
        slot_list = grammar.find_list(expr.list_name, scope)
        if isinstance(slot_list, ValueList):
            return any(_can_be_empty(grammar, v.expression, slot_list.language, stack) for v in slot_list.values)
        return False
    return False


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
