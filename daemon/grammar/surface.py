"""Spell a grammar's sentences as the text a Whisper-style model writes: a byte automaton per language.

Each word may be written lower- or upper-case, English words are separated by a space or hyphen (a leading
space is optional), CJK characters by nothing or a space; sentence punctuation may follow any word; range
numbers may be written in digits (and ``percent`` as ``%``). ``normalize_written`` undoes what it allows
before the text parser interprets the sentence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from daemon.grammar.graph import build_word_graph
from daemon.grammar.numbers import is_chinese
from daemon.grammar.words import is_cjk
from runtime.whisper.automaton import TextAutomaton

if TYPE_CHECKING:  # pragma: no cover
    from daemon.grammar.graph import WordGraph
    from daemon.grammar.grammar import Grammar

#: Punctuation a model may write after a word (ASCII and full-width).
WRITTEN_PUNCTUATION = (",", ".", "?", "!", ";", ":", "，", "。", "？", "！", "、", "；", "：")
#: Symbols a model may write instead of a word (no separator before them).
WRITTEN_SYMBOLS = {"percent": ("%",), "degrees": ("°",), "degree": ("°",)}
_APOSTROPHES = ("'", "\u2019")


def grammar_languages(grammar: "Grammar") -> list[str]:
    """The languages of a grammar's data blocks, in a stable order."""
    return sorted({data.language for datas in grammar.intents.values() for data in datas if data.sentences})


def written_automata(grammar: "Grammar") -> dict[str, TextAutomaton]:
    """One byte automaton per grammar language accepting the sentences as a model writes them."""
    return {language: spell_graph(build_word_graph(grammar, written_numbers=True, language=language),
                                  unspaced=is_chinese(language))
            for language in grammar_languages(grammar)}


def _spell_word(automaton: TextAutomaton, src: int, word: str, dst: int) -> None:
    """Arcs spelling ``word`` from src to dst, each letter in either case, apostrophes in either form."""
    state = src
    for index, char in enumerate(word):
        target = dst if index == len(word) - 1 else automaton.add_state()
        if char in _APOSTROPHES:
            variants = set(_APOSTROPHES)
        else:
            variants = {char, char.lower(), char.upper()}
        for variant in variants:
            if len(variant) == 1:
                automaton.add_bytes(state, variant.encode("utf-8"), target)
        state = target


def spell_graph(graph: "WordGraph", unspaced: bool = False) -> TextAutomaton:
    """The byte automaton of a word graph's sentences in their written forms.

    Every graph state has two automaton states: ``after`` (a word just ended: one punctuation mark may follow)
    and ``ready`` (where the next word or the end may start), so punctuation never repeats. ``unspaced``
    (Chinese) lets any word follow without a separator (调到26度).
    """
    automaton = TextAutomaton()
    ready = [automaton.add_state() for _ in range(graph.num_states)]
    after = [automaton.add_state() for _ in range(graph.num_states)]
    automaton.add_arc(automaton.start, None, ready[graph.start])
    initial = _epsilon_reachable(graph, graph.start)
    automaton.finals.update(ready[final] for final in graph.finals)
    for state in range(graph.num_states):
        automaton.add_arc(after[state], None, ready[state])
        for mark in WRITTEN_PUNCTUATION:
            automaton.add_bytes(after[state], mark.encode("utf-8"), ready[state])
    for state, arcs in enumerate(graph.arcs):
        src = ready[state]
        for arc in arcs:
            word = arc.word
            if word is None:
                automaton.add_arc(src, None, ready[arc.next])
                continue
            dst = after[arc.next]
            word_start = automaton.add_state()
            automaton.add_arc(src, ord(" "), word_start)
            if unspaced or is_cjk(word) or state in initial:
                # CJK needs no separator (the parser splits it per character); the first word none either.
                automaton.add_arc(src, None, word_start)
            if not is_cjk(word):
                automaton.add_arc(src, ord("-"), word_start)
            _spell_word(automaton, word_start, word, dst)
            for symbol in WRITTEN_SYMBOLS.get(word, ()):
                automaton.add_bytes(src, symbol.encode("utf-8"), dst)
    return automaton


def _epsilon_reachable(graph: "WordGraph", start: int) -> set[int]:
    """Graph states reachable from ``start`` without a word."""
    seen = {start}
    stack = [start]
    while stack:
        for arc in graph.arcs[stack.pop()]:
            if arc.word is None and arc.next not in seen:
                seen.add(arc.next)
                stack.append(arc.next)
    return seen


def normalize_written(text: str) -> str:
    """Written model output → the text parser's input: punctuation and hyphens become spaces."""
    for mark in WRITTEN_PUNCTUATION + ("-",):
        text = text.replace(mark, " ")
    return " ".join(text.split())
