"""The loaded grammar: name resolution, validation, parse, word graph; ``load_grammar`` entry point."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from daemon.errors import GrammarError
from daemon.grammar.loader import LoadedGrammarData, load_grammar_data
from daemon.grammar.model import (
    ExpansionRule,
    GrammarProblem,
    IntentData,
    SlotList,
    SourcePosition,
)
from daemon.grammar.template import Expression, ListReference, RuleReference, iter_references

if TYPE_CHECKING:  # pragma: no cover
    from daemon.grammar.graph import WordGraph

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntentMatch:
    """What a sentence means: intent name, slot values (list ``out``/numbers), spoken slot texts, spoken text."""

    intent: str
    slots: dict
    raw_slots: dict
    text: str


class Grammar:
    """A merged set of grammar files, validated; parse text with ``parse``, get the speech graph with ``word_graph``."""

    def __init__(self, data: LoadedGrammarData) -> None:
        self.files = list(data.files)
        self.languages = list(data.languages) or ["en"]
        self.language = self.languages[0]
        self.intents: dict[str, list[IntentData]] = data.intents
        self.lists: dict[str, SlotList] = data.lists
        self.rules: dict[str, ExpansionRule] = data.rules
        self.skip_words = list(dict.fromkeys(data.skip_words))
        self.ignore_whitespace = data.ignore_whitespace
        self.problems: list[GrammarProblem] = list(data.problems)
        self._graph: WordGraph | None = None
        self._matcher = None
        self.problems.extend(self._check_references())

    # -- name resolution

    def find_list(self, name: str, data: IntentData | None) -> SlotList | None:
        """The list called ``name`` as seen from a data block (its local lists first)."""
        if data is not None and name in data.lists:
            return data.lists[name]
        return self.lists.get(name)

    def find_rule(self, name: str, data: IntentData | None) -> ExpansionRule | None:
        """The expansion rule called ``name`` as seen from a data block (local rules first)."""
        if data is not None and name in data.expansion_rules:
            return data.expansion_rules[name]
        return self.rules.get(name)

    @property
    def errors(self) -> list[GrammarProblem]:
        """Problems of severity error."""
        return [p for p in self.problems if p.severity == "error"]

    def _check_references(self) -> list[GrammarProblem]:
        problems: list[GrammarProblem] = []
        seen: set[tuple] = set()

        def check(expr: Expression, position: SourcePosition, data: IntentData | None, stack: tuple[str, ...]) -> None:
            for ref in iter_references(expr):
                where = SourcePosition(position.file, position.line, position.column + ref.offset)
                if isinstance(ref, ListReference):
                    if self.find_list(ref.list_name, data) is None:
                        known = sorted(set(self.lists) | set(data.lists if data else ()))
                        problems.append(GrammarProblem(where, f"unknown list {{{ref.list_name}}}; define it under "
                                                       f"'lists:' (known lists: {', '.join(known) or 'none'})"))
                    continue
                rule = self.find_rule(ref.rule_name, data)
                if rule is None:
                    known = sorted(set(self.rules) | set(data.expansion_rules if data else ()))
                    problems.append(GrammarProblem(where, f"unknown rule <{ref.rule_name}>; define it under "
                                                   f"'expansion_rules:' (known rules: {', '.join(known) or 'none'})"))
                    continue
                if ref.rule_name in stack:
                    problems.append(GrammarProblem(where, f"rule <{ref.rule_name}> refers to itself "
                                                   f"({' -> '.join(stack + (ref.rule_name,))}); break the cycle"))
                    continue
                key = (id(rule), id(data) if data is not None and ref.rule_name in data.expansion_rules else None)
                if (key, stack) in seen:
                    continue
                seen.add((key, stack))
                check(rule.expression, rule.position, data, stack + (ref.rule_name,))

        for datas in self.intents.values():
            for data in datas:
                for sentence in data.sentences:
                    check(sentence.expression, sentence.position, data, ())
        for slot_list in self.lists.values():
            for value in getattr(slot_list, "values", ()):
                check(value.expression, value.position, None, ())
        return problems

    # -- uses

    def word_graph(self) -> "WordGraph":
        """The word-level automaton of all sentences (built once, without enumerating sentences)."""
        if self._graph is None:
            from daemon.grammar.graph import build_word_graph

            self._graph = build_word_graph(self)
        return self._graph

    def parse(self, text: str) -> IntentMatch | None:
        """Match ``text`` against the grammar; None when no sentence matches."""
        if self._matcher is None:
            from daemon.grammar.matcher import TextMatcher

            self._matcher = TextMatcher(self)
        return self._matcher.parse(text)


def load_grammar(paths: Iterable[str | Path] | str | Path) -> Grammar:
    """Load grammar files/directories (directory = all ``*.yaml``); raises GrammarError on the first error."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    grammar = Grammar(load_grammar_data(list(paths)))
    errors = grammar.errors
    if errors:
        more = f" (and {len(errors) - 1} more problems; run 'voicecmd check-grammar')" if len(errors) > 1 else ""
        raise GrammarError(f"{errors[0]}{more}")
    for warning in grammar.problems:
        _LOGGER.warning("%s", warning)
    return grammar
