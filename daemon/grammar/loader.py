"""Load hassil-syntax YAML grammar files (with line/column of every node) into the grammar model."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import yaml

from daemon.grammar.model import (
    ExpansionRule,
    GrammarProblem,
    IntentData,
    ListValue,
    RangeList,
    Sentence,
    SlotList,
    SourcePosition,
    ValueList,
    WildcardList,
)
from daemon.grammar.numbers import MAX_SPOKEN_NUMBER
from daemon.grammar.template import Expression, TemplateSyntaxError, parse_template

_LOGGER = logging.getLogger(__name__)

_TOP_LEVEL_KEYS = ("language", "intents", "lists", "expansion_rules", "skip_words", "settings", "responses")
_FIXTURE_KEYS = ("areas", "entities", "floors", "timers")
_DATA_KEYS = (
    "sentences", "slots", "requires_context", "excludes_context", "expansion_rules", "lists",
    "metadata", "required_keywords", "response", "wildcard_list", "intent_context",
)
_RANGE_TYPES = ("number", "percentage", "temperature")
_TEMPLATE_CHARS = set("(){}<>[]|")
_MAX_RANGE_VALUES = 20000

try:  # the C loader is much faster on the board; both give node marks
    _YAML_LOADER = yaml.CSafeLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _YAML_LOADER = yaml.SafeLoader


# ---------------------------------------------------------------------------- YAML with positions


class _Str(str):
    """A YAML string that remembers where it was written."""

    line: int
    column: int
    quoted: bool


@dataclass
class _Node:
    """A YAML mapping/sequence/scalar converted to Python, with its position."""

    value: object
    line: int
    column: int
    quoted: bool = False
    raw: str | None = None  # source text of a plain scalar (YAML 1.1 reads on/off/yes/no as booleans)

    @property
    def text(self) -> object:
        """The scalar as text when YAML made a boolean/null of a plain word (``- off``), else the value."""
        if self.raw is not None and (self.value is None or isinstance(self.value, bool)):
            return self.raw
        return self.value


def _convert(node: yaml.Node, constructor: yaml.constructor.SafeConstructor) -> _Node:
    line, column = node.start_mark.line + 1, node.start_mark.column + 1
    if isinstance(node, yaml.MappingNode):
        mapping: dict = {}
        for key_node, value_node in node.value:
            key = _convert(key_node, constructor)
            mapping[key.text] = (key, _convert(value_node, constructor))
        return _Node(mapping, line, column)
    if isinstance(node, yaml.SequenceNode):
        return _Node([_convert(item, constructor) for item in node.value], line, column)
    value = constructor.construct_object(node, deep=True)
    if isinstance(value, str):
        value = str(value)
    quoted = isinstance(node, yaml.ScalarNode) and node.style in ("'", '"')
    raw = node.value if isinstance(node, yaml.ScalarNode) and not node.style and node.value else None
    return _Node(value, line, column, quoted, raw)


def _compose_file(path: Path) -> _Node | None:
    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text, Loader=_YAML_LOADER)
    if root is None:
        return None
    return _convert(root, yaml.constructor.SafeConstructor())


# ---------------------------------------------------------------------------- loading


@dataclass
class LoadedGrammarData:
    """Everything read from the grammar files, merged, before the graph is built."""

    files: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    intents: dict[str, list[IntentData]] = field(default_factory=dict)
    lists: dict[str, dict[str, SlotList]] = field(default_factory=dict)  # language -> name -> list
    rules: dict[str, dict[str, ExpansionRule]] = field(default_factory=dict)  # language -> name -> rule
    skip_words: list[str] = field(default_factory=list)
    ignore_whitespace: bool = False
    problems: list[GrammarProblem] = field(default_factory=list)


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files named by ``paths``: files as given, directories as the ``*.yaml``/``*.yml`` files under them (sorted)."""
    result: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # Sub-directories too, so grammars/ loads grammars/zh and grammars/en.
            found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            result.extend(found)
        else:
            result.append(path)
    return result


class _FileLoader:
    def __init__(self, data: LoadedGrammarData, path: Path) -> None:
        self.data = data
        self.file = str(path)
        self.path = path
        self.language = ""

    def pos(self, node: _Node, offset: int | None = None) -> SourcePosition:
        """Where ``node`` starts; with ``offset``: that many characters into its text (after an opening quote)."""
        if offset is None:
            return SourcePosition(self.file, node.line, node.column)
        return SourcePosition(self.file, node.line, node.column + offset + (1 if node.quoted else 0))

    def problem(self, node: _Node | None, message: str, offset: int | None = None, severity: str = "error") -> None:
        """Record a problem at ``node``."""
        position = self.pos(node, offset) if node is not None else SourcePosition(self.file, 1, 1)
        self.data.problems.append(GrammarProblem(position, message, severity))

    def load(self) -> None:
        """Read this file into the shared LoadedGrammarData."""
        try:
            root = _compose_file(self.path)
        except OSError as exc:
            self.problem(None, f"cannot read grammar file: {exc.strerror or exc}")
            return
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            problem = getattr(exc, "problem", None) or str(exc)
            self.data.problems.append(
                GrammarProblem(SourcePosition(self.file, line, column), f"invalid YAML: {problem}")
            )
            return
        except UnicodeDecodeError:
            self.problem(None, "grammar file is not UTF-8 text")
            return
        self.data.files.append(self.file)
        if root is None:
            self.problem(None, "empty grammar file", severity="warning")
            return
        if not isinstance(root.value, dict):
            self.problem(root, "a grammar file must be a mapping with 'language' and 'intents'/'lists'")
            return
        top = root.value
        if "tests" in top and not set(top) & {"intents", "lists", "expansion_rules"}:
            self.problem(root, "a sentence test file (top-level 'tests:'), not a grammar; skipped", severity="warning")
            return
        fixtures = "areas" in top or "entities" in top
        for key, (key_node, _value) in top.items():
            if key not in _TOP_LEVEL_KEYS and not (fixtures and key in _FIXTURE_KEYS):
                self.problem(key_node, f"unknown top-level key {key!r}; allowed: {', '.join(_TOP_LEVEL_KEYS)}")
        language_node = top.get("language", (None, None))[1]
        if language_node is None or not isinstance(language_node.value, str) or not language_node.value:
            self.problem(root, "missing 'language' (e.g. language: zh-cn or language: en)")
            self.language = self.data.languages[0] if self.data.languages else "en"
        else:
            self.language = language_node.value
        if self.language not in self.data.languages:
            self.data.languages.append(self.language)
        settings = top.get("settings", (None, None))[1]
        if settings is not None:
            self.load_settings(settings)
        skip = top.get("skip_words", (None, None))[1]
        if skip is not None:
            for item in self.expect_list(skip, "skip_words"):
                if isinstance(item.text, str) and item.text.strip():
                    self.data.skip_words.append(item.text)
                else:
                    self.problem(item, "skip_words entries must be non-empty strings")
        lists = top.get("lists", (None, None))[1]
        if lists is not None:
            self.data.lists.setdefault(self.language, {}).update(self.load_lists(lists))
        rules = top.get("expansion_rules", (None, None))[1]
        if rules is not None:
            self.data.rules.setdefault(self.language, {}).update(self.load_rules(rules))
        intents = top.get("intents", (None, None))[1]
        if intents is not None:
            self.load_intents(intents)
        if fixtures:
            self.data.lists.setdefault(self.language, {}).update(self.load_fixtures(top))

    def load_fixtures(self, top: dict) -> dict[str, SlotList]:
        """home-assistant/intents test fixtures (``areas:``, ``entities:``) as the lists ``area`` and ``name``:
        area name -> id; entity name -> entity id with context domain (and area, device_class)."""
        lists: dict[str, SlotList] = {}
        for key, list_name in (("areas", "area"), ("entities", "name")):
            if key not in top:
                continue
            key_node, node = top[key]
            values: list[ListValue] = []
            for item in self.expect_list(node, key):
                fields = self.expect_mapping(item, f"{key} entry")
                name_node = fields.get("name", (None, None))[1]
                id_node = fields.get("id", (None, None))[1]
                if name_node is None or id_node is None or not isinstance(name_node.text, str):
                    self.problem(item, f"{key} entries need 'name' and 'id'")
                    continue
                expression = self.parse(name_node.text, name_node)
                if expression is None:
                    continue
                entity_id = str(id_node.value)
                context: dict = {}
                if list_name == "name":
                    context["domain"] = entity_id.split(".", 1)[0]
                    if "area" in fields:
                        context["area"] = _plain(fields["area"][1])
                    attributes = _plain(fields["attributes"][1]) if "attributes" in fields else {}
                    if isinstance(attributes, dict) and "device_class" in attributes:
                        context["device_class"] = attributes["device_class"]
                values.append(ListValue(expression, entity_id, self.pos(name_node, 0), context=context))
            if values:
                lists[list_name] = ValueList(list_name, tuple(values), self.language, self.pos(key_node))
        return lists

    # -- helpers

    def expect_mapping(self, node: _Node, what: str) -> dict:
        """The mapping of ``node``, or {} after recording a problem."""
        if not isinstance(node.value, dict):
            self.problem(node, f"{what} must be a mapping")
            return {}
        return node.value

    def expect_list(self, node: _Node, what: str) -> list[_Node]:
        """The items of ``node``, or [] after recording a problem."""
        if not isinstance(node.value, list):
            self.problem(node, f"{what} must be a list")
            return []
        return node.value

    def parse(self, text: str, node: _Node) -> Expression | None:
        """Parse a template written at ``node``; None after recording a syntax problem."""
        try:
            return parse_template(text, self.language)
        except TemplateSyntaxError as exc:
            self.problem(node, exc.message, offset=exc.offset)
            return None

    def load_settings(self, node: _Node) -> None:
        """Read ``settings:``."""
        for key, (key_node, value) in self.expect_mapping(node, "settings").items():
            if key == "ignore_whitespace":
                if not isinstance(value.value, bool):
                    self.problem(value, "settings.ignore_whitespace must be true or false")
                elif value.value:
                    self.data.ignore_whitespace = True
            elif key not in ("filter_with_regex",):
                self.problem(key_node, f"unknown setting {key!r}; allowed: ignore_whitespace", severity="warning")

    def load_rules(self, node: _Node) -> dict[str, ExpansionRule]:
        """Read ``expansion_rules:``."""
        rules: dict[str, ExpansionRule] = {}
        for name, (key_node, value) in self.expect_mapping(node, "expansion_rules").items():
            if not isinstance(value.text, str):
                self.problem(value, f"expansion rule <{name}> must be a template string")
                continue
            expression = self.parse(value.text, value)
            if expression is not None:
                rules[str(name)] = ExpansionRule(str(name), expression, self.language, self.pos(value, 0))
        return rules

    def load_lists(self, node: _Node) -> dict[str, SlotList]:
        """Read ``lists:``."""
        lists: dict[str, SlotList] = {}
        for name, (key_node, value) in self.expect_mapping(node, "lists").items():
            loaded = self.load_list(str(name), key_node, value)
            if loaded is not None:
                lists[str(name)] = loaded
        return lists

    def load_list(self, name: str, key_node: _Node, node: _Node) -> SlotList | None:
        """Read one list: values, range or wildcard."""
        if isinstance(node.value, list):  # shorthand: a bare list of values
            return self.load_values(name, key_node, node)
        body = self.expect_mapping(node, f"list {name!r}")
        if "values" in body:
            return self.load_values(name, key_node, body["values"][1])
        if "range" in body:
            return self.load_range(name, key_node, body["range"][1])
        if "wildcard" in body:
            return WildcardList(name, self.language, self.pos(key_node))
        self.problem(node, f"list {name!r} needs 'values:', 'range:' or 'wildcard: true'")
        return None

    def load_values(self, name: str, key_node: _Node, node: _Node) -> ValueList:
        """Read ``values:`` (plain strings or {in, out, context, metadata})."""
        values: list[ListValue] = []
        for item in self.expect_list(node, f"list {name!r} values"):
            if isinstance(item.value, dict):
                fields = item.value
                if "in" not in fields:
                    self.problem(item, f"list {name!r}: a value mapping needs 'in' (and usually 'out')")
                    continue
                in_node = fields["in"][1]
                if not isinstance(in_node.text, (str, int, float)) or isinstance(in_node.text, bool):
                    self.problem(in_node, f"list {name!r}: 'in' must be text")
                    continue
                in_text = str(in_node.text)
                expression = self.parse(in_text, in_node)
                if expression is None:
                    continue
                is_template = bool(_TEMPLATE_CHARS & set(in_text))
                context = _plain(fields["context"][1]) if "context" in fields else {}
                if not isinstance(context, dict):
                    self.problem(fields["context"][1], f"list {name!r}: 'context' must be a mapping")
                    context = {}
                if "out" in fields:
                    out = _plain(fields["out"][1])
                    values.append(ListValue(expression, out, self.pos(in_node, 0), context=context))
                else:
                    values.append(ListValue(expression, in_text, self.pos(in_node, 0), spoken_value=is_template,
                                            context=context))
            elif isinstance(item.text, (str, int, float)) and not isinstance(item.text, bool):
                text = str(item.text)
                expression = self.parse(text, item)
                if expression is None:
                    continue
                is_template = bool(_TEMPLATE_CHARS & set(text))
                values.append(ListValue(expression, text, self.pos(item, 0), spoken_value=is_template))
            else:
                self.problem(item, f"list {name!r}: a value must be text or {{in: ..., out: ...}}")
        if not values:
            self.problem(node, f"list {name!r} has no values")
        return ValueList(name, tuple(values), self.language, self.pos(key_node))

    def load_range(self, name: str, key_node: _Node, node: _Node) -> RangeList | None:
        """Read ``range:`` and check it can be spoken."""
        body = self.expect_mapping(node, f"list {name!r} range")
        numbers: dict[str, float] = {}
        for key, default in (("from", None), ("to", None), ("step", 1), ("multiplier", 1)):
            if key in body:
                value = body[key][1].value
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    self.problem(body[key][1], f"list {name!r}: range '{key}' must be a number")
                    return None
                numbers[key] = value
            elif default is None:
                self.problem(node, f"list {name!r}: range needs '{key}:'")
                return None
            else:
                numbers[key] = default
        range_type = "number"
        if "type" in body:
            range_type = str(body["type"][1].value)
            if range_type not in _RANGE_TYPES:
                self.problem(body["type"][1], f"list {name!r}: range type must be one of {', '.join(_RANGE_TYPES)}")
                return None
        fractions = None
        if "fractions" in body and body["fractions"][1].value:
            fractions = str(body["fractions"][1].value)
            if fractions not in ("halves", "tenths"):
                self.problem(body["fractions"][1], f"list {name!r}: fractions must be 'halves' or 'tenths'")
                return None
        start, stop, step = numbers["from"], numbers["to"], numbers["step"]
        if step <= 0:
            self.problem(node, f"list {name!r}: range step must be positive")
            return None
        if stop < start:
            self.problem(node, f"list {name!r}: range 'to' ({stop}) is below 'from' ({start}); swap them")
            return None
        if max(abs(start), abs(stop)) > MAX_SPOKEN_NUMBER:
            self.problem(node, f"list {name!r}: numbers beyond ±{MAX_SPOKEN_NUMBER} cannot be spoken; narrow the range")
            return None
        if (stop - start) / step > _MAX_RANGE_VALUES:
            self.problem(node, f"list {name!r}: range has more than {_MAX_RANGE_VALUES} values; raise 'step'")
            return None
        return RangeList(
            name, start, stop, step, range_type, numbers["multiplier"], fractions, self.language, self.pos(key_node)
        )

    def load_intents(self, node: _Node) -> None:
        """Read ``intents:``."""
        for name, (key_node, intent_node) in self.expect_mapping(node, "intents").items():
            body = self.expect_mapping(intent_node, f"intent {name!r}")
            if not body:
                continue
            data_node = body.get("data", (None, None))[1]
            if data_node is None:
                self.problem(intent_node, f"intent {name!r} needs 'data:' (a list of sentence blocks)")
                continue
            for block in self.expect_list(data_node, f"intent {name!r} data"):
                data = self.load_data(str(name), block)
                if data is not None:
                    self.data.intents.setdefault(str(name), []).append(data)

    def load_data(self, intent: str, node: _Node) -> IntentData | None:
        """Read one data block of an intent."""
        body = self.expect_mapping(node, f"intent {intent!r} data block")
        if not body:
            return None
        for key, (key_node, _value) in body.items():
            if key not in _DATA_KEYS:
                self.problem(key_node, f"unknown key {key!r} in a data block of {intent!r}; it is ignored",
                             severity="warning")
        sentences_node = body.get("sentences", (None, None))[1]
        if sentences_node is None:
            self.problem(node, f"data block of {intent!r} has no 'sentences:'")
            return None
        sentences: list[Sentence] = []
        for item in self.expect_list(sentences_node, "sentences"):
            if not isinstance(item.text, str) or not item.text.strip():
                self.problem(item, "a sentence must be a non-empty template string")
                continue
            expression = self.parse(item.text, item)
            if expression is not None:
                sentences.append(Sentence(item.text, expression, self.pos(item, 0)))
        slots: dict = {}
        if "slots" in body:
            for key, (_k, value) in self.expect_mapping(body["slots"][1], "slots").items():
                slots[str(key)] = _plain(value)
        lists = self.load_lists(body["lists"][1]) if "lists" in body else {}
        rules = self.load_rules(body["expansion_rules"][1]) if "expansion_rules" in body else {}
        extra = {key: _plain(body[key][1]) if key in body else {} for key in
                 ("requires_context", "excludes_context", "metadata")}
        return IntentData(
            intent=intent,
            sentences=tuple(sentences),
            slots=slots,
            lists=lists,
            expansion_rules=rules,
            language=self.language,
            position=self.pos(node),
            requires_context=extra["requires_context"] or {},
            excludes_context=extra["excludes_context"] or {},
            metadata=extra["metadata"] or {},
            required_keywords=self.load_keywords(body),
        )

    def load_keywords(self, body: dict) -> tuple:
        """``required_keywords:`` as a tuple of words (hassil compares them with the text's words, case and all)."""
        if "required_keywords" not in body:
            return ()
        node = body["required_keywords"][1]
        keywords = _plain(node)
        if isinstance(keywords, str):
            keywords = [keywords]
        if not isinstance(keywords, list) or not all(isinstance(k, (str, int, float)) for k in keywords):
            self.problem(node, "required_keywords must be a list of words")
            return ()
        return tuple(str(k) for k in keywords)


def _plain(node: _Node) -> object:
    """The Python value of a node; values JSON cannot hold (YAML dates, binary) become their text."""
    if isinstance(node.value, dict):
        return {str(key): _plain(value) for key, (_k, value) in node.value.items()}
    if isinstance(node.value, list):
        return [_plain(item) for item in node.value]
    if node.value is None or isinstance(node.value, (str, int, float, bool)):
        return node.value
    return str(node.value)


def load_grammar_data(paths: Iterable[str | Path]) -> LoadedGrammarData:
    """Read and merge grammar files; problems are collected, not raised."""
    data = LoadedGrammarData()
    files = expand_paths(paths)
    if not files:
        data.problems.append(
            GrammarProblem(SourcePosition(", ".join(str(p) for p in paths) or "<none>", 1, 1),
                           "no grammar files (*.yaml) found")
        )
    for path in files:
        _FileLoader(data, path).load()
    return data
