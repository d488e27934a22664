"""WordGraph: the grammar as a word-level automaton (epsilon arcs, output labels), built without enumerating sentences."""

from __future__ import annotations

import bisect
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence as SequenceType

from daemon.grammar.model import IntentData, IntentMatch, RangeList, ValueList, WildcardList
from daemon.grammar.numbers import is_chinese, number_variants
from daemon.grammar.template import (
    Alternative,
    Expression,
    ListReference,
    Permutation,
    RuleReference,
    Sequence,
    Word,
    iter_references,
    permutations_of,
)
from daemon.grammar.words import contains_cjk, join_words, split_words

if TYPE_CHECKING:  # pragma: no cover
    from daemon.grammar.grammar import Grammar

_LOGGER = logging.getLogger(__name__)

#: Arc word of a wildcard list in the text parser's graph (never in the speech graph).
WILDCARD = "\x00*"

# Output label kinds (the text before the first tab of an output label).
LABEL_INTENT = "intent"  # intent\t["Name", {fixed slots}]
LABEL_SLOT = "slot"  # slot\tname              (slot starts)
LABEL_VALUE = "value"  # value\t<json value>   (list value chosen; slot ends)
LABEL_NUMBER = "number"  # number\t<json number> (range value spoken; slot ends)
LABEL_SPOKEN = "spoken"  # spoken\t             (slot ends; its value is the spoken text)
LABEL_END = "end"  # end\t                    (wildcard slot ends; its value is the spoken text)
LABEL_CONTEXT = "context"  # context\t{...}      (context of the chosen list value)
_LABEL_KINDS = (LABEL_INTENT, LABEL_SLOT, LABEL_VALUE, LABEL_NUMBER, LABEL_SPOKEN, LABEL_END, LABEL_CONTEXT)

@dataclass(frozen=True, slots=True)
class Arc:
    """One arc: ``word`` (None = epsilon; a lowercase English word or one CJK character), target, output label."""

    word: str | None
    next: int
    output: int = -1


@dataclass(frozen=True)
class WordGraph:
    """Word-level automaton of a grammar; ``outputs`` are opaque labels that ``interpret`` turns into intents."""

    num_states: int
    start: int
    finals: frozenset
    arcs: tuple
    outputs: tuple
    #: (first state, SourcePosition) of each sentence, ascending: states from one entry up to the next belong to it.
    origins: tuple = ()
    _decoded: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def num_arcs(self) -> int:
        """Total number of arcs."""
        return sum(len(arcs) for arcs in self.arcs)

    def vocabulary(self) -> set[str]:
        """Every word on an arc."""
        return {arc.word for arcs in self.arcs for arc in arcs if arc.word is not None}

    def origin_of(self, state: int):
        """SourcePosition of the sentence that created ``state`` (None for shared start/end states)."""
        rank = self.sentence_rank(state)
        return self.origins[rank - 1][1] if rank > 0 else None

    def sentence_rank(self, state: int) -> int:
        """Build order of the sentence that created ``state`` (hassil tries sentences in this order);
        odd for states inside a sentence, even for the shared states between sentences."""
        starts = self._decoded.get("origin_starts")
        if starts is None:
            starts = self._decoded["origin_starts"] = [entry[0] for entry in self.origins]
        return bisect.bisect_right(starts, state)

    def _labels(self) -> list:
        """Decoded output labels (kind, payload), decoded once."""
        labels = self._decoded.get("all")
        if labels is None:
            labels = []
            kinds = {kind: kind for kind in _LABEL_KINDS}  # the constants themselves, so == is an identity check
            for text in self.outputs:
                kind, _, payload = text.partition("\t")
                labels.append((kinds.get(kind, kind), json.loads(payload) if payload else None))
            self._decoded["all"] = labels
        return labels

    def interpret(self, path_arcs: SequenceType[Arc]) -> "IntentMatch":
        """The intent of one accepted path (its arcs in order; epsilon arcs without output may be left out)."""
        return self.interpret_with_context(path_arcs)[0]

    def interpret_with_context(self, path_arcs: SequenceType[Arc]) -> tuple:
        """(IntentMatch, True when the data block's requires/excludes_context hold for the list values' contexts)."""
        words: list[str] = []
        positioned: list[tuple[int, tuple]] = []
        for arc in path_arcs:
            if arc.output >= 0:
                positioned.append((len(words), (arc.output,)))
            if arc.word is not None:
                words.append(arc.word)
        return self.interpret_positioned(words, positioned)

    def interpret_positioned(self, words: list[str], chosen: list[tuple]) -> tuple:
        """(IntentMatch, context ok) from the spoken words and the outputs grouped by word position:
        ``chosen`` = [(position, outputs emitted before word ``position``), ...]."""
        intent = ""
        slots: dict = {}
        raw_slots: dict = {}
        context: dict = {}
        requires: dict = {}
        excludes: dict = {}
        open_slots: list[tuple] = []  # (slot name, first word index)
        labels = self._decoded.get("all") or self._labels()
        for position, outputs in chosen:
            for output in outputs:
                kind, payload = labels[output]
                if kind == LABEL_SLOT:
                    open_slots.append((payload, position))
                elif kind == LABEL_VALUE or kind == LABEL_NUMBER:
                    if open_slots:
                        name, first = open_slots.pop()
                        slots[name] = payload
                        raw_slots[name] = join_words(words[first:position])
                elif kind == LABEL_INTENT:
                    intent = payload[0]
                    if payload[1]:
                        slots.update(payload[1])
                    if len(payload) > 2:
                        requires, excludes = payload[2], payload[3]
                elif kind == LABEL_SPOKEN or kind == LABEL_END:
                    if open_slots:
                        name, first = open_slots.pop()
                        slots[name] = raw_slots[name] = join_words(words[first:position])
                elif kind == LABEL_CONTEXT:
                    context.update(payload)
        ok = True
        if requires or excludes:
            ok = context_satisfied(requires, excludes, context, slots)
        return IntentMatch(intent=intent, slots=slots, raw_slots=raw_slots, text=join_words(words)), ok


def _unpack(value):
    return value.get("value") if isinstance(value, dict) else value


def _value_allowed(actual, wanted) -> bool:
    if isinstance(wanted, (list, tuple, set)):
        return actual in wanted
    return wanted is None or actual == wanted


def _value_excluded(actual, excluded) -> bool:
    if isinstance(excluded, (list, tuple, set)):
        return actual in excluded
    return actual == excluded


def context_satisfied(requires: dict, excludes: dict, context: dict, slots: dict) -> bool:
    """hassil's rule: every required key is in the context with an allowed value, no excluded value is;
    ``slot: true`` requirements copy the context value into the slots."""
    for key, wanted in excludes.items():
        if key in context and _value_excluded(_unpack(context[key]), _unpack(wanted)):
            return False
    for key, wanted in requires.items():
        if key not in context:
            return False
        actual = _unpack(context[key])
        if actual is None or not _value_allowed(actual, _unpack(wanted)):
            return False
        if isinstance(wanted, dict) and wanted.get("slot"):
            slot_name = wanted["slot"] if isinstance(wanted["slot"], str) else key
            slots.setdefault(slot_name, actual)
    return True


def value_fits(value_context: dict, requires: dict, excludes: dict) -> bool:
    """hassil's list-value filter: a value whose context contradicts the block's requirements is left out."""
    if not value_context:
        return True
    for key, wanted in requires.items():
        if key in value_context and not _value_allowed(_unpack(value_context[key]), _unpack(wanted)):
            return False
    for key, wanted in excludes.items():
        if key in value_context and _value_excluded(_unpack(value_context[key]), _unpack(wanted)):
            return False
    return True


# ---------------------------------------------------------------------------- building


_MAX_TRIE_FORMS = 64


def _word_forms(expr: Expression, limit: int) -> list[tuple[str, ...]] | None:
    """Every word sequence of an expression made only of words and alternatives (at most ``limit``), else None."""
    if isinstance(expr, Word):
        return [(expr.text,)]
    if isinstance(expr, Sequence):
        forms: list[tuple[str, ...]] = [()]
        for item in expr.items:
            item_forms = _word_forms(item, limit)
            if item_forms is None:
                return None
            forms = [a + b for a in forms for b in item_forms]
            if len(forms) > limit:
                return None
        return forms
    if isinstance(expr, Alternative):
        forms = []
        for choice in expr.choices:
            choice_forms = _word_forms(choice, limit)
            if choice_forms is None:
                return None
            forms.extend(choice_forms)
        if expr.optional:
            forms.append(())
        if len(forms) > limit:
            return None
        return list(dict.fromkeys(forms))
    return None


class _Trie:
    """Word sequences from one state, sharing prefixes."""

    def __init__(self, builder: "_Builder", root: int) -> None:
        self.builder = builder
        self.root = root
        self.children: dict[tuple[int, str], int] = {}

    def walk(self, words: tuple[str, ...]) -> int:
        """The state after ``words`` (created as needed)."""
        state = self.root
        for word in words:
            nxt = self.children.get((state, word))
            if nxt is None:
                nxt = self.children[(state, word)] = self.builder.new_state()
                self.builder.arc(state, word, nxt)
            state = nxt
        return state


def _context_rules(data) -> tuple[dict, dict]:
    if isinstance(data, IntentData):
        return data.requires_context or {}, data.excludes_context or {}
    return {}, {}


class _Fragment:
    """A piece of graph with local states 0 (entry) and 1 (exit), reusable by copying."""

    __slots__ = ("num_states", "arcs")

    def __init__(self) -> None:
        self.num_states = 2
        self.arcs: list[tuple[int, str | None, int, int]] = []


class _Builder:
    def __init__(self, grammar: "Grammar", include_wildcards: bool, written_numbers: bool = False,
                 language: str | None = None) -> None:
        self.grammar = grammar
        self.include_wildcards = include_wildcards
        self.written_numbers = written_numbers
        self.language = language
        self.arcs: list[list[Arc]] = []
        self.outputs: list[str] = []
        self.output_index: dict[str, int] = {}
        self.fragments: dict[tuple, _Fragment] = {}
        self.skipped_wildcard_sentences = 0
        self.origins: list[tuple] = []

    def new_state(self) -> int:
        """Add a state; returns its number."""
        self.arcs.append([])
        return len(self.arcs) - 1

    def label(self, kind: str, payload: object = None) -> int:
        """Index of an output label (deduplicated by content)."""
        text = kind + "\t" + ("" if payload is None else json.dumps(payload, ensure_ascii=False, sort_keys=True))
        index = self.output_index.get(text)
        if index is None:
            index = self.output_index[text] = len(self.outputs)
            self.outputs.append(text)
        return index

    def arc(self, src: int, word: str | None, dst: int, output: int = -1) -> None:
        """Add an arc."""
        self.arcs[src].append(Arc(word, dst, output))

    # -- expressions

    def build(self, expr: Expression, src: int, dst: int, data: IntentData | str, stack: tuple) -> None:
        """Add the paths of ``expr`` from src to dst."""
        if isinstance(expr, Word):
            self.arc(src, expr.text, dst)
        elif isinstance(expr, Sequence):
            items = expr.items
            if not items:
                self.arc(src, None, dst)
                return
            current = src
            for index, item in enumerate(items):
                target = dst if index == len(items) - 1 else self.new_state()
                self.build(item, current, target, data, stack)
                current = target
        elif isinstance(expr, Alternative):
            forms = _word_forms(expr, _MAX_TRIE_FORMS)
            if forms is not None:
                # Plain word choices share their prefixes, so the parser keeps fewer states alive.
                self.build_prefix_tree(forms, src, dst)
                return
            for choice in expr.choices:
                self.build(choice, src, dst, data, stack)
            if expr.optional:
                self.arc(src, None, dst)
        elif isinstance(expr, Permutation):
            for order in permutations_of(expr.items):
                self.build(Sequence(order), src, dst, data, stack)
        elif isinstance(expr, RuleReference):
            self.build_rule(expr, src, dst, data, stack)
        elif isinstance(expr, ListReference):
            self.build_list(expr, src, dst, data, stack)

    def build_rule(self, ref: RuleReference, src: int, dst: int, data: IntentData | str, stack: tuple) -> None:
        """Add an expansion rule between src and dst (a copy of its fragment)."""
        rule = self.grammar.find_rule(ref.rule_name, data)
        if rule is None or ref.rule_name in stack:
            raise ValueError(f"unknown or recursive rule <{ref.rule_name}>")
        if isinstance(data, IntentData):
            local = bool(data.lists or data.expansion_rules or data.requires_context or data.excludes_context)
            key = ("rule", id(rule), id(data) if local else data.language)
        else:
            key = ("rule", id(rule), data)
        self.instantiate(key, src, dst, lambda s, d: self.build(rule.expression, s, d, data, stack + (ref.rule_name,)))

    def build_list(self, ref: ListReference, src: int, dst: int, data: IntentData | str, stack: tuple) -> None:
        """Add a slot: start label, then the list's fragment (values end the slot)."""
        slot_list = self.grammar.find_list(ref.list_name, data)
        if slot_list is None:
            raise ValueError(f"unknown list {{{ref.list_name}}}")
        if isinstance(slot_list, WildcardList):
            begin, end = self.new_state(), self.new_state()
            self.arc(src, None, begin, self.label(LABEL_SLOT, ref.slot_name))
            self.arc(begin, WILDCARD, end)
            self.arc(end, WILDCARD, end)
            self.arc(end, None, dst, self.label(LABEL_END))
            return
        inner_src = self.new_state()
        self.arc(src, None, inner_src, self.label(LABEL_SLOT, ref.slot_name))
        requires, excludes = _context_rules(data)
        filtered = (requires or excludes) and any(getattr(v, "context", None) for v in getattr(slot_list, "values", ()))
        key = ("list", id(slot_list), id(data) if filtered else None)
        self.instantiate(key, inner_src, dst,
                         lambda s, d: self.build_list_body(slot_list, s, d, stack, requires, excludes))

    def build_prefix_tree(self, forms: list[tuple[str, ...]], src: int, dst: int) -> None:
        """Word sequences from src to dst sharing prefixes; a branch that ends alone goes straight to dst.
        Arcs keep the order in which the forms need them (the parser's priority order)."""
        root: list = []  # ordered entries: ["word", word, child entries] or ["end"]
        for form in forms:
            node = root
            for word in form:
                for entry in node:
                    if entry[0] == "word" and entry[1] == word:
                        node = entry[2]
                        break
                else:
                    child: list = []
                    node.append(["word", word, child])
                    node = child
            if ["end"] not in node:
                node.append(["end"])

        def emit(state: int, node: list) -> None:
            """Add the arcs of one prefix-tree node."""
            for entry in node:
                if entry[0] == "end":
                    self.arc(state, None, dst)
                    continue
                child = entry[2]
                if child == [["end"]]:
                    self.arc(state, entry[1], dst)
                else:
                    target = self.new_state()
                    self.arc(state, entry[1], target)
                    emit(target, child)

        emit(src, root)

    def build_list_body(self, slot_list, src: int, dst: int, stack: tuple, requires: dict, excludes: dict) -> None:
        """Add every value of a list (plain-word values as one prefix tree)."""
        if isinstance(slot_list, RangeList):
            self.build_range(slot_list, src, dst)
            return
        if not isinstance(slot_list, ValueList):
            raise TypeError(f"list {getattr(slot_list, 'name', slot_list)!r} has no values to build")
        trie = _Trie(self, src)
        for value in slot_list.values:
            if not value_fits(value.context, requires, excludes):
                continue
            forms = _word_forms(value.expression, _MAX_TRIE_FORMS)
            if forms is not None and len(forms) == 1:
                middle = trie.walk(forms[0])  # values said as plain words share prefixes (a trie)
            else:
                middle = self.new_state()
                self.build(value.expression, src, middle, slot_list.language, stack)
            if value.context:
                after = self.new_state()
                self.arc(middle, None, after, self.label(LABEL_CONTEXT, value.context))
                middle = after
            if value.spoken_value:
                self.arc(middle, None, dst, self.label(LABEL_SPOKEN))
            else:
                self.arc(middle, None, dst, self.label(LABEL_VALUE, value.value))

    def build_range(self, slot_list: RangeList, src: int, dst: int) -> None:
        """Add the spoken forms of a range's numbers, each ending with its number label."""
        # A trie over the spoken forms shares their prefixes (二十一 ... 二十九 share 二十).
        children: dict[tuple[int, str], int] = {}
        for number in slot_list.numbers():
            meaning = slot_list.meaning(number)
            for form in number_variants(number, slot_list.language):
                state = src
                for word in split_words(form, slot_list.language):
                    nxt = children.get((state, word))
                    if nxt is None:
                        nxt = children[(state, word)] = self.new_state()
                        self.arc(state, word, nxt)
                    state = nxt
                self.arc(state, None, dst, self.label(LABEL_NUMBER, meaning))
            if self.written_numbers:
                written = self.new_state()
                self.arc(src, str(number), written)
                self.arc(written, None, dst, self.label(LABEL_NUMBER, meaning))

    def instantiate(self, key: tuple, src: int, dst: int, build) -> None:
        """Copy the cached fragment for ``key`` between src and dst (building it the first time)."""
        fragment = self.fragments.get(key)
        if fragment is None:
            fragment = self.record(build)
            self.fragments[key] = fragment
        mapping = [src, dst] + [0] * (fragment.num_states - 2)
        base = len(self.arcs)
        for local in range(2, fragment.num_states):
            mapping[local] = base + local - 2
        self.arcs.extend([] for _ in range(fragment.num_states - 2))
        arcs = self.arcs
        for local_src, word, local_dst, output in fragment.arcs:
            arcs[mapping[local_src]].append(Arc(word, mapping[local_dst], output))

    def record(self, build) -> _Fragment:
        """Build into a scratch area and return it as a fragment."""
        saved = self.arcs
        self.arcs = [[], []]
        try:
            build(0, 1)
            fragment = _Fragment()
            fragment.num_states = len(self.arcs)
            fragment.arcs = [(s, a.word, a.next, a.output) for s, arcs in enumerate(self.arcs) for a in arcs]
        finally:
            self.arcs = saved
        return fragment

    # -- whole grammar

    def build_grammar(self) -> WordGraph:
        """Build the whole graph: one branch per data block from the start state."""
        start = self.new_state()
        final = self.new_state()
        for intent, datas in self.grammar.intents.items():
            for data in datas:
                if not data.sentences or (self.language is not None and data.language != self.language):
                    continue
                self.build_data(intent, data, start, final)
        if self.skipped_wildcard_sentences:
            _LOGGER.info("%d sentences with wildcard lists are left out of the speech graph",
                         self.skipped_wildcard_sentences)
        return WordGraph(
            num_states=len(self.arcs),
            start=start,
            finals=frozenset([final]),
            arcs=tuple(tuple(arcs) for arcs in self.arcs),
            outputs=tuple(self.outputs),
            origins=tuple(self.origins),
        )

    def context_keys(self) -> set:
        """Every context key any list value provides."""
        keys = getattr(self, "_context_keys", None)
        if keys is None:
            keys = {key for lst in self.grammar.all_lists() for v in getattr(lst, "values", ()) for key in v.context}
            self._context_keys = keys
        return keys

    def build_data(self, intent: str, data: IntentData, start: int, final: int) -> None:
        """Add one data block: intent label, optional skip words, its sentences."""
        if data.requires_context and not set(data.requires_context) <= self.context_keys():
            # Nothing can supply the required context (there is no caller context): the block never matches.
            return
        chinese = is_chinese(data.language)
        skip_words = [w for w in self.grammar.skip_words if contains_cjk(w) == chinese]
        block_start, body_start, body_end = self.new_state(), self.new_state(), self.new_state()
        payload: list = [intent, data.slots]
        if data.requires_context or data.excludes_context or data.required_keywords:
            payload += [data.requires_context, data.excludes_context]
        if data.required_keywords:
            payload.append(list(data.required_keywords))
        self.arc(start, None, block_start, self.label(LABEL_INTENT, payload))
        self.skip_arcs(block_start, body_start, skip_words, data.language)
        self.skip_arcs(body_end, final, skip_words, data.language)
        for sentence in data.sentences:
            if not self.include_wildcards and self.uses_wildcard(sentence.expression, data, ()):
                self.skipped_wildcard_sentences += 1
                continue
            self.origins.append((len(self.arcs), sentence.position))
            # A state of its own, so that even a one-word sentence can be told apart (origin_of).
            sentence_end = self.new_state()
            self.build(sentence.expression, body_start, sentence_end, data, ())
            self.arc(sentence_end, None, body_end)
            self.origins.append((len(self.arcs), None))

    def uses_wildcard(self, expr: Expression, data: IntentData | str, stack: tuple) -> bool:
        """True when ``expr`` reaches a wildcard list (such sentences cannot be spoken into the graph)."""
        for ref in iter_references(expr):
            if isinstance(ref, ListReference):
                slot_list = self.grammar.find_list(ref.list_name, data)
                if isinstance(slot_list, WildcardList):
                    return True
                if isinstance(slot_list, ValueList) and any(
                    self.uses_wildcard(v.expression, slot_list.language, stack) for v in slot_list.values
                ):
                    return True
            else:
                rule = self.grammar.find_rule(ref.rule_name, data)
                if rule is not None and ref.rule_name not in stack:
                    if self.uses_wildcard(rule.expression, data, stack + (ref.rule_name,)):
                        return True
        return False

    def skip_arcs(self, src: int, dst: int, skip_words: list[str], language: str) -> None:
        """Nothing or one skip phrase between src and dst."""
        self.arc(src, None, dst)
        for skip in skip_words:
            words = split_words(skip, language)
            current = src
            for index, word in enumerate(words):
                target = dst if index == len(words) - 1 else self.new_state()
                self.arc(current, word, target)
                current = target


def build_word_graph(grammar: "Grammar", include_wildcards: bool = False, written_numbers: bool = False,
                     language: str | None = None) -> WordGraph:
    """Build the WordGraph of ``grammar`` (lists and rules are built once and copied per use).

    ``written_numbers`` adds each range number in digits ("26") beside its spoken forms, for models that write
    numbers (Whisper); ``language`` keeps only the data blocks of that language."""
    return _Builder(grammar, include_wildcards, written_numbers, language).build_grammar()
