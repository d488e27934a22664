"""Data model of a loaded grammar: intents, data blocks, sentences, slot lists, ranges, rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from daemon.grammar.template import Expression


@dataclass(frozen=True)
class IntentMatch:
    """What a sentence means: intent name, slot values (list ``out``/numbers), spoken slot texts, spoken text."""

    intent: str
    slots: dict
    raw_slots: dict
    text: str


@dataclass(frozen=True)
class SourcePosition:
    """Where something was written: ``file:line:column`` (1-based)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class GrammarProblem:
    """One problem found while loading or checking a grammar."""

    position: SourcePosition
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return f"{self.position}: {prefix}{self.message}"


@dataclass(frozen=True)
class Sentence:
    """One template of a data block, parsed."""

    template: str
    expression: Expression
    position: SourcePosition


@dataclass(frozen=True)
class IntentData:
    """One ``data:`` block of an intent: its sentences, fixed slots and local lists/rules."""

    intent: str
    sentences: tuple[Sentence, ...]
    slots: dict
    lists: dict
    expansion_rules: dict
    language: str
    position: SourcePosition
    requires_context: dict = field(default_factory=dict)
    excludes_context: dict = field(default_factory=dict)
    required_keywords: tuple = ()  # hassil: the block is tried only when the text has one of these words
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ListValue:
    """One value of a slot list: what is said (``expression``) and what it means (``value``)."""

    expression: Expression
    value: object
    position: SourcePosition
    spoken_value: bool = False  # True: the value is the spoken text (a template ``in`` without ``out``)
    context: dict = field(default_factory=dict)  # merged into the match context (requires_context checks)


@dataclass(frozen=True)
class ValueList:
    """``values:`` list."""

    name: str
    values: tuple[ListValue, ...]
    language: str
    position: SourcePosition


@dataclass(frozen=True)
class RangeList:
    """``range:`` list of numbers (number/percentage/temperature)."""

    name: str
    start: float
    stop: float
    step: float
    range_type: str
    multiplier: float
    fractions: str | None
    language: str
    position: SourcePosition

    def numbers(self) -> list[float | int]:
        """Every spoken number of the range (before the multiplier)."""
        numbers: list[float | int] = []
        count = int(round((self.stop - self.start) / self.step)) + 1 if self.step else 1
        for index in range(max(count, 0)):
            value = self.start + index * self.step
            numbers.append(_tidy(value))
        extra: tuple[float, ...] = ()
        if self.fractions == "halves":
            extra = (0.5,)
        elif self.fractions == "tenths":
            extra = tuple(i / 10 for i in range(1, 10))
        if extra:
            for whole in list(numbers):
                for fraction in extra:
                    candidate = _tidy(whole + fraction)
                    if candidate <= self.stop:
                        numbers.append(candidate)
            numbers.sort()
        return numbers

    def meaning(self, number: float | int) -> float | int:
        """The slot value of a spoken ``number`` (multiplier applied; int when integral)."""
        return _tidy(number * self.multiplier)


@dataclass(frozen=True)
class WildcardList:
    """``wildcard: true`` list (text parser only; not part of the speech graph)."""

    name: str
    language: str
    position: SourcePosition


SlotList = Union[ValueList, RangeList, WildcardList]


@dataclass(frozen=True)
class ExpansionRule:
    """``expansion_rules:`` entry."""

    name: str
    expression: Expression
    language: str
    position: SourcePosition


def _tidy(value: float) -> float | int:
    rounded = round(value, 6)
    return int(rounded) if float(rounded).is_integer() else rounded
