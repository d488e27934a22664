"""The loaded grammar: name resolution, validation, parse, word graph; ``load_grammar`` entry point."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from daemon.errors import GrammarError
from daemon.grammar.loader import LoadedGrammarData, load_grammar_data
from daemon.grammar.model import (
    ExpansionRule,
    GrammarProblem,
    IntentData,
    IntentMatch,
    SlotList,
    SourcePosition,
)
from daemon.grammar.template import Expression, ListReference, iter_references

if TYPE_CHECKING:  # pragma: no cover
    from daemon.grammar.graph import WordGraph

_LOGGER = logging.getLogger(__name__)



class Grammar:
    """A merged set of grammar files, validated; parse text with ``parse``, get the speech graph with ``word_graph``."""

    def __init__(self, data: LoadedGrammarData) -> None:
        self.files = list(data.files)
        self.languages = list(data.languages) or ["en"]
        self.language = self.languages[0]
        self.intents: dict[str, list[IntentData]] = data.intents
        # Lists and rules are per language so that zh and en files can share names (area, device ...).
        self.lists_by_language: dict[str, dict[str, SlotList]] = data.lists
        self.rules_by_language: dict[str, dict[str, ExpansionRule]] = data.rules
        self.skip_words = list(dict.fromkeys(data.skip_words))
        self.ignore_whitespace = data.ignore_whitespace
        self.problems: list[GrammarProblem] = list(data.problems)
        self._graph: WordGraph | None = None
        self._matcher = None
        self.problems.extend(self._check_references())

    # -- name resolution

    def find_list(self, name: str, scope: IntentData | str | None) -> SlotList | None:
        """The list called ``name`` seen from a data block or a language: local lists, same language, any language."""
        return _lookup(self.lists_by_language, name, scope, "lists")

    def find_rule(self, name: str, scope: IntentData | str | None) -> ExpansionRule | None:
        """The expansion rule called ``name`` seen from a data block or a language (local rules first)."""
        return _lookup(self.rules_by_language, name, scope, "expansion_rules")

    def all_lists(self) -> list[SlotList]:
        """Every list: global ones of every language and the data blocks' local ones."""
        result = [lst for lists in self.lists_by_language.values() for lst in lists.values()]
        result.extend(lst for datas in self.intents.values() for d in datas for lst in d.lists.values())
        return result

    @property
    def errors(self) -> list[GrammarProblem]:
        """Problems of severity error."""
        return [p for p in self.problems if p.severity == "error"]

    def _check_references(self) -> list[GrammarProblem]:
        problems: list[GrammarProblem] = []
        seen: set[tuple] = set()

        def check(expr: Expression, position: SourcePosition, data: IntentData | str, stack: tuple[str, ...]) -> None:
            """Report unknown lists/rules and rule cycles reachable from ``expr``."""
            for ref in iter_references(expr):
                where = SourcePosition(position.file, position.line, position.column + ref.offset)
                if isinstance(ref, ListReference):
                    if self.find_list(ref.list_name, data) is None:
                        known = sorted({n for lists in self.lists_by_language.values() for n in lists}
                                       | set(data.lists if isinstance(data, IntentData) else ()))
                        problems.append(GrammarProblem(where, f"unknown list {{{ref.list_name}}}; define it under "
                                                       f"'lists:' (known lists: {', '.join(known) or 'none'})"))
                    continue
                rule = self.find_rule(ref.rule_name, data)
                if rule is None:
                    known = sorted({n for rules in self.rules_by_language.values() for n in rules}
                                   | set(data.expansion_rules if isinstance(data, IntentData) else ()))
                    problems.append(GrammarProblem(where, f"unknown rule <{ref.rule_name}>; define it under "
                                                   f"'expansion_rules:' (known rules: {', '.join(known) or 'none'})"))
                    continue
                if ref.rule_name in stack:
                    problems.append(GrammarProblem(where, f"rule <{ref.rule_name}> refers to itself "
                                                   f"({' -> '.join(stack + (ref.rule_name,))}); break the cycle"))
                    continue
                key = (id(rule), id(data))
                if (key, stack) in seen:
                    continue
                seen.add((key, stack))
                check(rule.expression, rule.position, data, stack + (ref.rule_name,))

        for datas in self.intents.values():
            for data in datas:
                for sentence in data.sentences:
                    check(sentence.expression, sentence.position, data, ())
        for slot_list in self.all_lists():
            for value in getattr(slot_list, "values", ()):
                check(value.expression, value.position, slot_list.language, ())
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


def _lookup(by_language: dict, name: str, scope: IntentData | str | None, local_field: str):
    """``name`` in the data block's own ``local_field`` table, else in its language's table, else in any language's."""
    if isinstance(scope, IntentData):
        local = getattr(scope, local_field)
        if name in local:
            return local[name]
        scope = scope.language
    language = scope
    if language is not None:
        found = by_language.get(language, {}).get(name)
        if found is not None:
            return found
    for items in by_language.values():
        if name in items:
            return items[name]
    return None


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
