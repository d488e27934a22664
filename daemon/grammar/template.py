"""Template language parser: hassil sentence syntax -> word-level expression tree."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Union

from daemon.grammar.words import split_words

# ---------------------------------------------------------------------------- expression tree


@dataclass(frozen=True)
class Word:
    """One spoken word (lowercase English word or one CJK character)."""

    text: str


@dataclass(frozen=True)
class Sequence:
    """Items spoken one after the other."""

    items: tuple["Expression", ...]


@dataclass(frozen=True)
class Alternative:
    """Exactly one of the choices (``optional`` adds the empty choice)."""

    choices: tuple["Expression", ...]
    optional: bool = False


@dataclass(frozen=True)
class Permutation:
    """All items, in any order (``(a; b)``)."""

    items: tuple["Expression", ...]


@dataclass(frozen=True)
class ListReference:
    """``{list}`` or ``{list:slot}``; ``offset`` is the column of ``{`` inside the template."""

    list_name: str
    slot_name: str
    offset: int


@dataclass(frozen=True)
class RuleReference:
    """``<rule>``; ``offset`` is the column of ``<`` inside the template."""

    rule_name: str
    offset: int


Expression = Union[Word, Sequence, Alternative, Permutation, ListReference, RuleReference]


class TemplateSyntaxError(ValueError):
    """A template cannot be parsed; ``offset`` is the character index of the problem."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# ---------------------------------------------------------------------------- raw parse

# Raw nodes keep the original text so that in-word alternatives (``light[s]``) can be glued.


@dataclass
class _Text:
    text: str


@dataclass
class _Group:
    choices: list  # list of list of raw nodes
    optional: bool
    permutation: bool
    offset: int


_CLOSERS = {"(": ")", "[": "]"}
#: Largest permutation ``(a; b; ...)``: its orders are built one by one (6 items = 720 orders).
MAX_PERMUTATION_ITEMS = 6
_MAX_GLUED_FORMS = 4096
_WORD_PIECES = re.compile(r"(?<=\s)(?=\S)")
_WORD_CHAR = re.compile(r"[^\W\u3000-\u303f\u3400-\u9fff\uf900-\ufaff]", re.UNICODE)


class _Parser:
    def __init__(self, template: str) -> None:
        self.text = template
        self.pos = 0

    def error(self, message: str, offset: int | None = None) -> TemplateSyntaxError:
        """A syntax error at ``offset`` (default: the current position)."""
        return TemplateSyntaxError(message, self.pos if offset is None else offset)

    def parse(self) -> list:
        """Parse the whole template."""
        items = self.parse_sequence(closer=None)
        if self.pos < len(self.text):  # pragma: no cover - parse_sequence consumes everything at top level
            raise self.error(f"unexpected {self.text[self.pos]!r}")
        return items

    def parse_sequence(self, closer: str | None) -> list:
        """Parse items up to ``|``/``;``/closer (not consumed) or the end."""
        items: list = []
        buffer: list[str] = []

        def flush() -> None:
            """Close the pending text run."""
            if buffer:
                items.append(_Text("".join(buffer)))
                buffer.clear()

        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == "\\" and self.pos + 1 < len(text):
                buffer.append(text[self.pos + 1])
                self.pos += 2
                continue
            if char in "([":
                flush()
                items.append(self.parse_group(char))
                continue
            if char in ")]":
                if closer is None:
                    raise self.error(f"unbalanced {char!r}: no matching opening bracket; remove it or add the opening one")
                if char != closer:
                    raise self.error(f"expected {closer!r} but found {char!r}; check the brackets")
                break
            if char in "|;":
                if closer is None:
                    if char == ";":
                        buffer.append(char)
                        self.pos += 1
                        continue
                    raise self.error(
                        "'|' outside a group; put the alternatives in parentheses, e.g. (a|b)"
                    )
                break
            if char == "{":
                flush()
                items.append(self.parse_list())
                continue
            if char == "<":
                flush()
                items.append(self.parse_rule())
                continue
            if char in "}>":
                raise self.error(f"unbalanced {char!r}: no matching opening bracket; remove it or escape it with '\\'")
            buffer.append(char)
            self.pos += 1
        flush()
        return items

    def parse_group(self, opener: str) -> _Group:
        """Parse ``( ... )`` or ``[ ... ]`` starting at the current position."""
        start = self.pos
        closer = _CLOSERS[opener]
        self.pos += 1
        choices: list[list] = []
        separators: set[str] = set()
        while True:
            choice_start = self.pos
            choice = self.parse_sequence(closer)
            if self.pos >= len(self.text):
                raise self.error(
                    f"unclosed {opener!r} (opened at column {start + 1}); add the missing {closer!r}", start
                )
            if not _has_content(choice):
                what = "empty group" if not choices and self.text[self.pos] == closer else "empty alternative"
                if what == "empty group":
                    name = "empty optional '[]'" if opener == "[" else "empty group '()'"
                    raise self.error(f"{name}; remove it", start)
                raise self.error(
                    f"{what} in {opener}...{closer}; remove the extra '|' (use [a] for an optional part)",
                    choice_start,
                )
            choices.append(choice)
            char = self.text[self.pos]
            if char == closer:
                self.pos += 1
                break
            separators.add(char)
            self.pos += 1
        if len(separators) > 1:
            raise self.error("a group cannot mix '|' and ';'; nest one inside the other", start)
        permutation = ";" in separators
        if permutation and opener == "[":
            raise self.error("permutations use parentheses: (a; b)", start)
        if permutation and len(choices) > MAX_PERMUTATION_ITEMS:
            raise self.error(
                f"a permutation of {len(choices)} items has too many orders; use at most {MAX_PERMUTATION_ITEMS}",
                start,
            )
        return _Group(choices, optional=opener == "[", permutation=permutation, offset=start)

    def parse_list(self) -> ListReference:
        """Parse ``{list}`` / ``{list:slot}``."""
        start = self.pos
        end = self.text.find("}", start)
        if end < 0:
            raise self.error("unclosed '{'; add the missing '}'", start)
        body = self.text[start + 1 : end]
        self.pos = end + 1
        name, _, slot = body.partition(":")
        name, slot = name.strip(), slot.strip()
        if not name or any(c in name for c in "{}()[]<>|"):
            raise self.error(f"bad list reference {{{body}}}; write {{list_name}} or {{list_name:slot_name}}", start)
        return ListReference(name, slot or name, start)

    def parse_rule(self) -> RuleReference:
        """Parse ``<rule>``."""
        start = self.pos
        end = self.text.find(">", start)
        if end < 0:
            raise self.error("unclosed '<'; add the missing '>'", start)
        name = self.text[start + 1 : end].strip()
        self.pos = end + 1
        if not name or any(c in name for c in "{}()[]<|"):
            raise self.error(f"bad rule reference <{name}>; write <rule_name>", start)
        return RuleReference(name, start)


def _has_content(items: list) -> bool:
    return any(not isinstance(item, _Text) or item.text.strip() for item in items)


# ---------------------------------------------------------------------------- lowering to words


def _edge_chars(node, first: bool) -> set[str]:
    """Characters a raw node can start (or end) with; '' when it can be empty."""
    if isinstance(node, _Text):
        if not node.text:
            return {""}
        return {node.text[0] if first else node.text[-1]}
    if isinstance(node, _Group):
        result: set[str] = {""} if node.optional else set()
        for choice in node.choices:
            result |= _seq_edge_chars(choice, first)
        return result
    return {"{"}  # list/rule reference: never glued


def _seq_edge_chars(items: list, first: bool) -> set[str]:
    result: set[str] = set()
    ordered = items if first else list(reversed(items))
    for item in ordered:
        chars = _edge_chars(item, first)
        result |= chars - {""}
        if "" not in chars:
            return result
    result.add("")
    return result


def _glues(left, right) -> bool:
    """True when ``left`` and ``right`` touch inside one word (``light[s]``, ``turn(s|ed)``)."""
    if not isinstance(left, (_Text, _Group)) or not isinstance(right, (_Text, _Group)):
        return False
    if not isinstance(left, _Group) and not isinstance(right, _Group):
        return False
    lefts = _edge_chars(left, first=False) - {""}
    rights = _edge_chars(right, first=True) - {""}
    return any(_WORD_CHAR.match(a) for a in lefts) and any(_WORD_CHAR.match(b) for b in rights)


def _is_pure_text(node) -> bool:
    if isinstance(node, _Text):
        return True
    if isinstance(node, _Group):
        return all(all(_is_pure_text(item) for item in choice) for choice in node.choices)
    return False


def _strings(node) -> list[str]:
    if isinstance(node, _Text):
        return [node.text]
    result: list[str] = [""] if node.optional else []
    for choice in node.choices:
        if node.permutation:
            raise TemplateSyntaxError("a permutation cannot be glued inside a word; add spaces", node.offset)
        result.extend(_seq_strings(choice))
    return result


def _seq_strings(items: list) -> list[str]:
    forms = [""]
    for item in items:
        forms = [a + b for a in forms for b in _strings(item)]
        if len(forms) > _MAX_GLUED_FORMS:
            raise TemplateSyntaxError("in-word alternatives expand to too many forms; add spaces", 0)
    return forms


def _words_expression(text: str, language: str) -> Expression:
    words = split_words(text, language)
    if len(words) == 1:
        return Word(words[0])
    return Sequence(tuple(Word(w) for w in words))


def _lower_sequence(items: list, language: str) -> Expression:
    # Group items into clusters of nodes that touch inside one word.
    pieces: list = []
    for item in items:
        if isinstance(item, _Text):
            # One piece per word so that only the touching word is expanded with its in-word group.
            pieces.extend(_Text(part) for part in _WORD_PIECES.split(item.text) if part)
        else:
            pieces.append(item)
    clusters: list[list] = []
    for item in pieces:
        if clusters and _glues(clusters[-1][-1], item) and _is_pure_text(clusters[-1][-1]) and _is_pure_text(item):
            clusters[-1].append(item)
        else:
            clusters.append([item])
    lowered: list[Expression] = []
    for cluster in clusters:
        if len(cluster) == 1:
            lowered.append(_lower_node(cluster[0], language))
            continue
        # Expanding only the touching nodes keeps the text around them shared.
        forms = list(dict.fromkeys(_seq_strings(cluster)))
        choices = tuple(_words_expression(form, language) for form in forms)
        lowered.append(Alternative(choices) if len(choices) > 1 else choices[0])
    flat: list[Expression] = []
    for expr in lowered:
        if isinstance(expr, Sequence):
            flat.extend(expr.items)
        else:
            flat.append(expr)
    if len(flat) == 1:
        return flat[0]
    return Sequence(tuple(flat))


def _lower_node(node, language: str) -> Expression:
    if isinstance(node, _Text):
        return _words_expression(node.text, language)
    if isinstance(node, _Group):
        choices = tuple(_lower_sequence(choice, language) for choice in node.choices)
        if node.permutation:
            return Permutation(choices)
        if len(choices) == 1 and not node.optional:
            return choices[0]
        return Alternative(choices, optional=node.optional)
    return node


def parse_template(template: str, language: str) -> Expression:
    """Parse one hassil template into a word-level expression; raises TemplateSyntaxError."""
    parser = _Parser(template)
    return _lower_sequence(parser.parse(), language)


# ---------------------------------------------------------------------------- helpers


def iter_references(expr: Expression):
    """Yield every ListReference and RuleReference in ``expr``."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (ListReference, RuleReference)):
            yield node
        elif isinstance(node, Sequence):
            stack.extend(node.items)
        elif isinstance(node, Alternative):
            stack.extend(node.choices)
        elif isinstance(node, Permutation):
            stack.extend(node.items)


def permutations_of(items: tuple[Expression, ...]) -> list[tuple[Expression, ...]]:
    """All orders of a permutation's items."""
    return list(itertools.permutations(items))
