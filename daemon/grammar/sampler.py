"""Sample spoken sentences from a grammar, balanced over intents, list values and numbers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from daemon.errors import GrammarError
from daemon.grammar.grammar import Grammar
from daemon.grammar.graph import context_satisfied, value_fits
from daemon.grammar.model import IntentData, RangeList, Sentence, ValueList
from daemon.grammar.numbers import is_chinese, number_words
from daemon.grammar.template import (
    Alternative,
    Expression,
    ListReference,
    Permutation,
    RuleReference,
    Sequence,
    Word,
)
from daemon.grammar.words import contains_cjk, join_words, split_words


@dataclass(frozen=True)
class SampledSentence:
    """One generated sentence: the words as spoken, its intent and slot values."""

    text: str
    intent: str
    slots: dict
    raw_slots: dict = field(default_factory=dict)


class _Cycle:
    """Hands out items in shuffled rounds so every item comes up equally often."""

    def __init__(self, items: list, rng: random.Random) -> None:
        self.items = items
        self.rng = rng
        self.queue: list = []

    def next(self):
        """The next item."""
        if not self.queue:
            self.queue = list(self.items)
            self.rng.shuffle(self.queue)
        return self.queue.pop()


class _WildcardSentence(Exception):
    """The chosen sentence needs free text or context it cannot get; pick another one."""


class _Sampler:
    def __init__(self, grammar: Grammar, seed: int, skip_word_rate: float = 0.0) -> None:
        self.grammar = grammar
        self.rng = random.Random(seed)
        self.skip_word_rate = skip_word_rate
        self.skip_rng = random.Random(f"skip-words-{seed}")  # separate, so the sentences stay the same
        self.cycles: dict[object, _Cycle] = {}
        self.context: dict = {}
        self.requirements: tuple[dict, dict] = ({}, {})

    def cycle(self, key: object, items: list) -> _Cycle:
        """The cycle for ``key`` (created on first use)."""
        cycle = self.cycles.get(key)
        if cycle is None:
            cycle = self.cycles[key] = _Cycle(items, self.rng)
        return cycle

    def sample(self, count: int) -> list[SampledSentence]:
        """``count`` sentences, intents in shuffled rounds."""
        intents = [name for name, datas in self.grammar.intents.items() if any(d.sentences for d in datas)]
        if not intents or count <= 0:
            return []
        intent_cycle = self.cycle("intents", intents)
        result: list[SampledSentence] = []
        failures = 0
        while len(result) < count:
            intent = intent_cycle.next()
            choices = [(data, sentence) for data in self.grammar.intents[intent] for sentence in data.sentences]
            data, sentence = self.cycle(("sentences", intent), choices).next()
            try:
                result.append(self.sample_sentence(data, sentence))
            except _WildcardSentence:
                failures += 1
                if failures > 100 * count:
                    break
        return result

    def sample_sentence(self, data: IntentData, sentence: Sentence) -> SampledSentence:
        """One random reading of ``sentence``."""
        words: list[str] = []
        slots: dict = dict(data.slots)
        raw_slots: dict = {}
        self.context = {}
        self.requirements = (data.requires_context or {}, data.excludes_context or {})
        self.expand(sentence.expression, data, words, slots, raw_slots)
        if (data.requires_context or data.excludes_context) and not context_satisfied(
            data.requires_context, data.excludes_context, self.context, slots
        ):
            raise _WildcardSentence()  # this reading would not be accepted; draw again
        if self.skip_word_rate > 0:
            words = self.add_skip_words(words, data.language)
        return SampledSentence(join_words(words), data.intent, slots, raw_slots)

    def add_skip_words(self, words: list[str], language: str) -> list[str]:
        """Put a skip phrase of the sentence's language before and/or after ``words`` (at the configured rate)."""
        chinese = is_chinese(language)
        phrases = [split_words(w, language) for w in self.grammar.skip_words if contains_cjk(w) == chinese]
        if not phrases:
            return words
        if self.skip_rng.random() < self.skip_word_rate:
            words = self.skip_rng.choice(phrases) + words
        if self.skip_rng.random() < self.skip_word_rate / 2:
            words = words + self.skip_rng.choice(phrases)
        return words

    def expand(self, expr: Expression, data: IntentData | str, words: list[str], slots: dict, raw: dict) -> None:
        """Append the words of a random reading of ``expr``."""
        if isinstance(expr, Word):
            words.append(expr.text)
        elif isinstance(expr, Sequence):
            for item in expr.items:
                self.expand(item, data, words, slots, raw)
        elif isinstance(expr, Alternative):
            count = len(expr.choices) + (1 if expr.optional else 0)
            index = self.rng.randrange(count)
            if index < len(expr.choices):
                self.expand(expr.choices[index], data, words, slots, raw)
        elif isinstance(expr, Permutation):
            items = list(expr.items)
            self.rng.shuffle(items)
            for item in items:
                self.expand(item, data, words, slots, raw)
        elif isinstance(expr, RuleReference):
            rule = self.grammar.find_rule(expr.rule_name, data)
            if rule is None:  # load_grammar rejects unknown rules, so only a hand-built Grammar gets here
                raise GrammarError(f"unknown expansion rule <{expr.rule_name}>")
            self.expand(rule.expression, data, words, slots, raw)
        elif isinstance(expr, ListReference):
            self.expand_list(expr, data, words, slots, raw)

    def expand_list(self, ref: ListReference, data: IntentData | str, words: list[str], slots: dict, raw: dict) -> None:
        """Append a balanced choice of a list's values (or a range's numbers)."""
        slot_list = self.grammar.find_list(ref.list_name, data)
        start = len(words)
        if isinstance(slot_list, RangeList):
            number = self.cycle(("range", id(slot_list)), slot_list.numbers()).next()
            words.extend(split_words(number_words(number, slot_list.language), slot_list.language))
            value: object = slot_list.meaning(number)
        elif isinstance(slot_list, ValueList):
            requires, excludes = self.requirements
            values = [v for v in slot_list.values if value_fits(v.context, requires, excludes)]
            if not values:
                raise _WildcardSentence()
            key = ("values", id(slot_list), repr(requires), repr(excludes)) if len(values) < len(slot_list.values) \
                else ("values", id(slot_list))
            list_value = self.cycle(key, values).next()
            self.context.update(list_value.context)
            self.expand(list_value.expression, slot_list.language, words, slots, raw)
            value = join_words(words[start:]) if list_value.spoken_value else list_value.value
        else:
            raise _WildcardSentence()
        slots[ref.slot_name] = value
        raw[ref.slot_name] = join_words(words[start:])


def sample_sentences(
    grammar: Grammar, count: int, seed: int = 0, skip_word_rate: float = 0.0
) -> list[SampledSentence]:
    """``count`` spoken sentences (number words, not digits), balanced over intents, list values and numbers;
    with ``skip_word_rate`` > 0 that share of sentences gets a skip phrase in front (请 / "please"), and half
    that share one at the end, as the speech graph allows."""
    return _Sampler(grammar, seed, skip_word_rate).sample(count)
