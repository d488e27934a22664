"""Spell a grammar's sentences as the text a Whisper-style model writes: a byte automaton per language.

Each word may be written lower- or upper-case, English words are separated by a space or hyphen (a leading
space is optional), CJK characters by nothing or a space; sentence punctuation may follow any word; range
numbers may be written in digits (and ``percent`` as ``%``). ``normalize_written`` undoes what it allows
before the text parser interprets the sentence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
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
_LOGGER = logging.getLogger(__name__)


def grammar_languages(grammar: "Grammar") -> list[str]:
    """The languages of a grammar's data blocks, in a stable order."""
    return sorted({data.language for datas in grammar.intents.values() for data in datas if data.sentences})


@dataclass(frozen=True)
class WrittenGrammar:
    """Byte automata of a grammar's sentences as written (one per language), and how to read a written text back."""

    automata: dict
    #: written character -> the grammar's character (traditional 燈 -> simplified 灯)
    char_map: dict = field(default_factory=dict)

    def to_parser_text(self, text: str) -> str:
        """Written model output → the text parser's input (see ``normalize_written``)."""
        if self.char_map:
            text = "".join(self.char_map.get(char, char) for char in text)
        return normalize_written(text)


def written_grammar(grammar: "Grammar") -> WrittenGrammar:
    """The written forms of every sentence of ``grammar``; CJK characters also in their traditional form when
    OpenCC (PyPI ``opencc``) is installed, since Whisper often writes Mandarin that way."""
    char_map: dict[str, str] = {}
    traditional = _traditional_converter()
    automata = {}
    for language in grammar_languages(grammar):
        graph = build_word_graph(grammar, written_numbers=True, language=language)
        variants: dict[str, str] = {}
        if traditional is not None and is_chinese(language):
            for word in graph.vocabulary():
                for char in word:
                    if is_cjk(char):
                        other = traditional(char)
                        if other != char and len(other) == 1:
                            variants[char] = other
                            char_map.setdefault(other, char)
        automata[language] = spell_graph(graph, unspaced=is_chinese(language), variants=variants)
    return WrittenGrammar(automata, char_map)


def written_automata(grammar: "Grammar") -> dict[str, TextAutomaton]:
    """One byte automaton per grammar language accepting the sentences as a model writes them."""
    return written_grammar(grammar).automata


def _traditional_converter():
    """Per-character simplified → traditional conversion, or None when OpenCC is missing."""
    try:
        import opencc  # noqa: PLC0415
    except ImportError:
        _LOGGER.warning("opencc is not installed: Mandarin grammars accept simplified characters only "
                        "(pip install opencc)")
        return None
    return opencc.OpenCC("s2t").convert


def _spell_word(automaton: TextAutomaton, src: int, word: str, dst: int, variants: dict) -> None:
    """Arcs spelling ``word`` from src to dst: letters in either case, apostrophes in either form, CJK characters
    also in their ``variants``."""
    state = src
    for index, char in enumerate(word):
        target = dst if index == len(word) - 1 else automaton.add_state()
        if char in _APOSTROPHES:
            forms = set(_APOSTROPHES)
        else:
            forms = {char, char.lower(), char.upper()}
            if char in variants:
                forms.add(variants[char])
        for form in forms:
            if len(form) == 1:
                automaton.add_bytes(state, form.encode("utf-8"), target)
        state = target


def spell_graph(graph: "WordGraph", unspaced: bool = False, variants: dict | None = None) -> TextAutomaton:
    """The byte automaton of a word graph's sentences in their written forms.

    Every graph state has two automaton states: ``after`` (a word just ended: one punctuation mark may follow)
    and ``ready`` (where the next word or the end may start), so punctuation never repeats; states reachable
    from the start without a word also have an ``opening`` state, where the first word needs no separator.
    ``unspaced`` (Chinese) lets any word follow without a separator (调到26度).
    """
    variants = variants or {}
    automaton = TextAutomaton()
    ready = [automaton.add_state() for _ in range(graph.num_states)]
    after = [automaton.add_state() for _ in range(graph.num_states)]
    opening = {state: automaton.add_state() for state in _epsilon_reachable(graph, graph.start)}
    automaton.add_arc(automaton.start, None, opening[graph.start])
    automaton.finals.update(ready[final] for final in graph.finals)
    automaton.finals.update(opening[final] for final in graph.finals if final in opening)
    for state in range(graph.num_states):
        automaton.add_arc(after[state], None, ready[state])
        for mark in WRITTEN_PUNCTUATION:
            automaton.add_bytes(after[state], mark.encode("utf-8"), ready[state])
    for state, arcs in enumerate(graph.arcs):
        for arc in arcs:
            if arc.word is None:
                automaton.add_arc(ready[state], None, ready[arc.next])
                if state in opening:
                    automaton.add_arc(opening[state], None, opening[arc.next])
                continue
            _word_arcs(automaton, ready[state], arc.word, after[arc.next], unspaced, variants)
            if state in opening:
                _word_arcs(automaton, opening[state], arc.word, after[arc.next], True, variants)
    automaton.freeze()
    return automaton


def _word_arcs(automaton: TextAutomaton, src: int, word: str, dst: int, unspaced: bool, variants: dict) -> None:
    """A word with its separator (a space, a hyphen between English words, nothing where ``unspaced`` or CJK)."""
    word_start = automaton.add_state()
    automaton.add_arc(src, ord(" "), word_start)
    if unspaced or is_cjk(word):
        automaton.add_arc(src, None, word_start)
    else:
        automaton.add_arc(src, ord("-"), word_start)
    _spell_word(automaton, word_start, word, dst, variants)
    for symbol in WRITTEN_SYMBOLS.get(word, ()):
        automaton.add_bytes(src, symbol.encode("utf-8"), dst)


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
