"""Text parser: priority-ordered NFA simulation (Pike VM) over the grammar's WordGraph."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from daemon.grammar.graph import WILDCARD, WordGraph, build_word_graph
from daemon.grammar.model import WildcardList
from daemon.grammar.numbers import is_chinese
from daemon.grammar.words import PUNCTUATION_TO_SPACE, contains_cjk, has_unit_sign, split_words

if TYPE_CHECKING:  # pragma: no cover
    from daemon.grammar.grammar import Grammar
    from daemon.grammar.model import IntentMatch

_LOGGER = logging.getLogger(__name__)

#: Cached lazy-DFA states before the cache starts over (keeps memory bounded on odd input).
_MAX_DFA_STATES = 50_000
_MISSING = object()


class GraphWalker:
    """Epsilon closures and per-state word transitions of a WordGraph, computed lazily and cached."""

    def __init__(self, graph: WordGraph, distinct_outputs: bool = False) -> None:
        self.graph = graph
        # The parser needs one (the first) path per state; the ambiguity search needs every path that emits
        # different outputs, even when they meet again in one state.
        self.distinct_outputs = distinct_outputs
        self._transitions: list[dict | None] = [None] * graph.num_states
        self._closures: list[tuple | None] = [None] * graph.num_states

    def _explore(self, state: int) -> tuple[tuple, dict]:
        """Depth-first walk of the epsilon arcs from ``state`` in arc order (the priority order of backtracking):
        the states reached (with their epsilon paths) and word -> [(target, arcs)] in the order met.
        Paths hold word arcs and arcs with an output only."""
        arcs_of = self.graph.arcs
        members: list[tuple[int, tuple]] = [(state, ())]
        table: dict[str, list] = {}
        distinct = self.distinct_outputs
        seen = {(state, ()) if distinct else state}
        stack: list[tuple[int, tuple, int]] = [(state, (), 0)]
        while stack:
            current, path, index = stack.pop()
            arcs = arcs_of[current]
            while index < len(arcs):
                arc = arcs[index]
                index += 1
                if arc.word is not None:
                    arcs_taken = path + (arc,)
                    outputs = tuple(a.output for a in path if a.output >= 0)
                    if arc.output >= 0:
                        outputs += (arc.output,)
                    table.setdefault(arc.word, []).append((arc.next, arcs_taken, outputs))
                else:
                    # Epsilon arcs without output mean nothing to interpret(): leave them out of the paths.
                    new_path = path + (arc,) if arc.output >= 0 else path
                    key = (arc.next, tuple(a.output for a in new_path)) if distinct else arc.next
                    if key in seen:
                        continue
                    seen.add(key)
                    stack.append((current, path, index))  # resume here after the deeper state
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
        """word -> [(target, arcs from ``state`` to target, their outputs)] through the epsilon closure,
        in priority order."""
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
        self._dfa = _LazyDfa(self.walker, has_wildcards)
        self.has_keywords = any(d.required_keywords for datas in grammar.intents.values() for d in datas)
        self.chinese_language = next((lang for lang in grammar.languages if is_chinese(lang)), None)
        self.other_language = next((lang for lang in grammar.languages if not is_chinese(lang)), None)
        self.skip_sequences: list[tuple[str, ...]] = []
        for skip in grammar.skip_words:
            words = tuple(split_words(skip, self.chinese_language or grammar.language))
            if words:
                self.skip_sequences.append(words)
        # Longer skip phrases first so "could you" wins over "could".
        self.skip_sequences.sort(key=len, reverse=True)
        self._skip_first_words = frozenset(sequence[0] for sequence in self.skip_sequences)

    def accepted_paths(self, words: list[str]):
        """The arcs of each accepted path for ``words`` (one per final thread), highest priority first."""
        dfa = self._current_dfa()
        walked = dfa.walk(words)
        if walked is None:
            return
        current, history = walked
        for index, path in dfa.finals_of(current):
            pieces = [path]
            for links in reversed(history):
                index, arcs, _outputs = links[index]
                pieces.append(arcs)
            yield [arc for arcs in reversed(pieces) for arc in arcs]

    def _current_dfa(self) -> "_LazyDfa":
        dfa = self._dfa
        if len(dfa.members) >= _MAX_DFA_STATES:
            # Bounded memory: start over. Parses still walking the old DFA finish on it undisturbed.
            dfa = self._dfa = _LazyDfa(self.walker, self.has_wildcards)
        return dfa

    # -- text

    def words_of(self, text: str, speak_units: bool = True) -> list[str]:
        """Words of ``text`` with written numbers spoken in the text's language."""
        if self.other_language is None:
            language = self.chinese_language or "en"
        elif self.chinese_language is not None and contains_cjk(text):
            language = self.chinese_language
        else:
            language = self.other_language
        return split_words(text, language, speak_units)

    def remove_skip_words(self, words: list[str]) -> list[str]:
        """``words`` without any skip-word phrase."""
        if not self.skip_sequences or self._skip_first_words.isdisjoint(words):
            return words
        return self._without_skip_sequences(words, words)

    def _without_skip_sequences(self, words: list[str], keys: list[str]) -> list[str]:
        """``words`` minus every skip phrase found in ``keys`` (the same words, possibly case-folded)."""
        result: list[str] = []
        first_words = self._skip_first_words
        index = 0
        count = len(words)
        while index < count:
            skipped = 0
            if keys[index] in first_words:
                for skip in self.skip_sequences:
                    if tuple(keys[index : index + len(skip)]) == skip:
                        skipped = len(skip)
                        break
            if skipped:
                index += skipped
            else:
                result.append(words[index])
                index += 1
        return result

    def parse(self, text: str) -> "IntentMatch | None":
        """Intent of ``text`` (skip words tried as part of the sentence first, then dropped), or None."""
        keywords = self.text_keywords(text) if self.has_keywords else None
        match = self.parse_words(self.words_of(text), keywords)
        if match is None and has_unit_sign(text):
            # "{brightness}%" templates: the sign is punctuation there, so try the number without its unit word.
            match = self.parse_words(self.words_of(text, speak_units=False), keywords)
        return match

    def text_keywords(self, text: str) -> frozenset:
        """hassil's keyword set: the text's whitespace-separated words without punctuation and skip words."""
        words = text.translate(PUNCTUATION_TO_SPACE).split()
        if not self.skip_sequences:
            return frozenset(words)
        return frozenset(self._without_skip_sequences(words, [w.casefold() for w in words]))

    def parse_words(self, words: list[str], keywords: frozenset | None = None) -> "IntentMatch | None":
        """Intent of a word list (skip words handled as in parse)."""
        match, states = self.match_words(words, keywords)
        if self.skip_sequences:
            without = self.remove_skip_words(words)
            if without is not words and without != words and without:
                # hassil tries each sentence with the skip words left in, then without them, before moving on
                # to the next sentence: the earlier sentence wins.
                other, other_states = self.match_words(without, keywords)
                if other is not None and (match is None or self._rank(other_states) < self._rank(states)):
                    match = other
        return match

    def match_words(self, words: list[str], keywords: frozenset | None = None) -> tuple:
        """(first accepted reading of ``words`` whose context requirements hold, its trail for _rank) or None."""
        # The walk of _LazyDfa.walk, inlined: this is the hot path of parse().
        dfa = self._current_dfa()
        current = dfa.start
        history: list[tuple] = []
        nexts = dfa.next
        missing = _MISSING
        for word in words:
            step = nexts[current].get(word, missing)
            if step is missing:
                step = dfa.step(current, word)
            if step is None:
                return None, ([], 0)
            current, links = step
            history.append(links)
        interpret = self.graph.interpret_positioned
        for final_index, final_outputs in dfa.final_outputs_of(current):
            position = len(words)
            chosen: list[tuple] = [(position, final_outputs)] if final_outputs else []
            index = final_index
            for links in reversed(history):
                position -= 1
                index, _arcs, outputs = links[index]
                if outputs:
                    chosen.append((position, outputs))
            chosen.reverse()
            match, context_ok = interpret(words, chosen)
            if context_ok and (keywords is None or self._keywords_ok(chosen, keywords)):
                return match, (history, final_index)
        return None, ([], 0)

    def _keywords_ok(self, chosen: list[tuple], keywords: frozenset) -> bool:
        """False when the matched data block requires keywords and the text has none of them."""
        kind, payload = self.graph._labels()[chosen[0][1][0]]  # a path starts with its data block's intent label
        return len(payload) < 5 or not keywords.isdisjoint(payload[4])

    def _rank(self, trail: tuple) -> int:
        """Build order of the sentence of a path (its first state inside a sentence; skip words are outside)."""
        history, index = trail
        states: list[int] = []
        for links in reversed(history):
            index, arcs, _outputs = links[index]
            states.append(arcs[-1].next)
        for state in reversed(states):
            rank = self.graph.sentence_rank(state)
            if rank % 2 == 1:  # odd: inside a sentence's range of states
                return rank
        return 0


class _LazyDfa:
    """Deterministic automaton over priority-ordered sets of NFA states, built lazily: each transition is one
    Pike-VM step, cached with back-links (for every new NFA state: its source's index and the arcs taken)."""

    def __init__(self, walker: GraphWalker, has_wildcards: bool) -> None:
        self.walker = walker
        self.has_wildcards = has_wildcards
        self.lock = threading.Lock()  # interning must not race; reads need no lock
        self.ids: dict[tuple, int] = {}
        self.members: list[tuple] = []
        self.next: list[dict] = []
        self.finals: list[list | None] = []
        self.final_outputs: dict[int, list] = {}
        self.start = self.intern((walker.graph.start,))

    def intern(self, members: tuple) -> int:
        """The DFA state of an ordered NFA state set (new ones are appended)."""
        with self.lock:
            dfa_state = self.ids.get(members)
            if dfa_state is None:
                dfa_state = len(self.members)
                self.members.append(members)
                self.next.append({})
                self.finals.append(None)
                self.ids[members] = dfa_state
            return dfa_state

    def step(self, dfa_state: int, word: str):
        """(next DFA state, back-links) after ``word``, or None when no thread survives; cached."""
        transitions_of = self.walker.transitions
        new: dict[int, tuple] = {}
        for index, state in enumerate(self.members[dfa_state]):
            table = transitions_of(state)
            moves = table.get(word)
            if self.has_wildcards:
                extra = table.get(WILDCARD)
                if extra:
                    moves = (moves or []) + extra
            if moves:
                for target, arcs, outputs in moves:
                    if target not in new:
                        new[target] = (index, arcs, outputs)
        result = (self.intern(tuple(new)), tuple(new.values())) if new else None
        self.next[dfa_state][word] = result
        return result

    def walk(self, words: list[str]):
        """(DFA state after ``words``, back-links per word) or None."""
        current = self.start
        history: list[tuple] = []
        for word in words:
            step = self.next[current].get(word, _MISSING)
            if step is _MISSING:
                step = self.step(current, word)
            if step is None:
                return None
            current, links = step
            history.append(links)
        return current, history

    def finals_of(self, dfa_state: int) -> list:
        """(member index, epsilon path to a final state), in priority order."""
        finals = self.finals[dfa_state]
        if finals is None:
            finals = []
            for index, state in enumerate(self.members[dfa_state]):
                for path in self.walker.final_paths(state):
                    finals.append((index, path))
            self.finals[dfa_state] = finals
        return finals

    def final_outputs_of(self, dfa_state: int) -> list:
        """(member index, outputs of its epsilon path to a final state), in priority order."""
        cached = self.final_outputs.get(dfa_state)
        if cached is None:
            cached = [(index, tuple(a.output for a in path if a.output >= 0))
                      for index, path in self.finals_of(dfa_state)]
            self.final_outputs[dfa_state] = cached
        return cached
