"""Every grammar error message: ``file:line:column: message`` pointing at the fault, with what to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from daemon.errors import GrammarError
from daemon.grammar import load_grammar
from daemon.grammar.check import check_grammar
from tests.grammar.helpers import one_intent, write_grammar


def position_of(path: Path, needle: str, occurrence: int = 0) -> tuple[int, int]:
    """1-based line and column of ``needle`` in the file."""
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        start = 0
        while (index := line.find(needle, start)) >= 0:
            if seen == occurrence:
                return number, index + 1
            seen += 1
            start = index + 1
    raise AssertionError(f"{needle!r} not in {path}")


def error_of(path: Path) -> str:
    """The GrammarError message loading ``path`` raises (fails the test when it loads)."""
    with pytest.raises(GrammarError) as info:
        load_grammar([path])
    return str(info.value)


def assert_error_at(path: Path, needle: str, pattern: str, occurrence: int = 0) -> None:
    """Loading ``path`` fails with a message at the line:column of ``needle`` matching ``pattern``."""
    line, column = position_of(path, needle, occurrence)
    message = error_of(path)
    assert message.startswith(f"{path}:{line}:{column}: "), message
    assert re.search(pattern, message), message


TEMPLATE_ERRORS = [
    ("turn on {missing} now", "{missing}", r"unknown list \{missing\}; define it under 'lists:'"),
    ("turn on <missing> now", "<missing>", r"unknown rule <missing>; define it under 'expansion_rules:'"),
    ("turn on (the light", "(the", r"unclosed '\(' .*add the missing '\)'"),
    ("turn on [the light", "[the", r"unclosed '\[' .*add the missing '\]'"),
    ("turn on the) light", ")", r"unbalanced '\)'.*remove it or add the opening one"),
    ("turn on the] light", "]", r"unbalanced '\]'"),
    ("turn on (the] light", "]", r"expected '\)' but found '\]'"),
    ("turn on {room light", "{room", r"unclosed '\{'; add the missing '\}'"),
    ("turn on <rule light", "<rule", r"unclosed '<'; add the missing '>'"),
    ("turn on the} light", "}", r"unbalanced '\}'"),
    ("turn on (a||b)", "|b)", r"empty alternative .*remove the extra '\|'"),
    ("turn on (a|)", ")", r"empty alternative"),
    ("turn on () now", "()", r"empty group '\(\)'; remove it"),
    ("turn on [] now", "[]", r"empty optional '\[\]'; remove it"),
    ("turn on a|b", "|", r"'\|' outside a group; put the alternatives in parentheses"),
    ("turn on (a|b;c)", "(a", r"cannot mix '\|' and ';'"),
    ("turn on {} now", "{}", r"bad list reference"),
]


@pytest.mark.parametrize("template,needle,pattern", TEMPLATE_ERRORS)
def test_template_errors_point_at_the_fault(tmp_path, template, needle, pattern):
    path = write_grammar(tmp_path, one_intent([template]))
    assert_error_at(path, needle, pattern)  # the lines before the sentence hold no brackets


def test_unknown_top_level_key(tmp_path):
    path = write_grammar(tmp_path, one_intent(["hello"]) + "sentences: [oops]\n")
    assert_error_at(path, "sentences: [oops]", r"unknown top-level key 'sentences'; allowed: language, intents")


def test_missing_language(tmp_path):
    path = write_grammar(tmp_path, "intents:\n  A:\n    data:\n      - sentences: [hi]\n")
    assert f"{path}:1:1: missing 'language'" in error_of(path)


def test_invalid_yaml(tmp_path):
    path = write_grammar(tmp_path, "language: en\nintents: [\n")
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+: invalid YAML: ", error_of(path))


def test_recursive_rule(tmp_path):
    path = write_grammar(tmp_path, one_intent(["<a>"], extra='expansion_rules:\n  a: "x <b>"\n  b: "y [<a>]"\n'))
    assert_error_at(path, "<a>", r"rule <a> refers to itself \(a -> b -> a\); break the cycle", occurrence=1)


def test_rule_error_points_into_the_rule(tmp_path):
    path = write_grammar(tmp_path, one_intent(["<a>"], extra='expansion_rules:\n  a: "turn on {nowhere}"\n'))
    assert_error_at(path, "{nowhere}", r"unknown list \{nowhere\}")


def test_list_value_error_points_into_the_value(tmp_path):
    lists = """
    room:
      values:
        - in: (kitchen|bedroom
          out: x
    """
    path = write_grammar(tmp_path, one_intent(["in the {room}"], lists))
    assert_error_at(path, "(kitchen", r"unclosed '\('")


@pytest.mark.parametrize("spec,needle,pattern", [
    ("range: {from: 10, to: 5}", "{from", r"range 'to' \(5\) is below 'from' \(10\); swap them"),
    ("range: {from: 0, to: 100, type: speed}", "speed", r"range type must be one of number, percentage, temperature"),
    ("range: {from: 0, to: 100, step: 0}", "{from", r"range step must be positive"),
    ("range: {to: 100}", "{to", r"range needs 'from:'"),
    ("range: {from: 0, to: 100000}", "{from", r"cannot be spoken; narrow the range"),
    ("{}", "{}", r"needs 'values:', 'range:' or 'wildcard: true'"),
])
def test_list_definition_errors(tmp_path, spec, needle, pattern):
    path = write_grammar(tmp_path, one_intent(["set {level}"], f"level: {{{spec}}}" if spec != "{}" else "level: {}"))
    assert_error_at(path, needle, pattern)


def test_data_block_without_sentences(tmp_path):
    path = write_grammar(tmp_path, "language: en\nintents:\n  A:\n    data:\n      - slots: {a: 1}\n")
    assert_error_at(path, "slots", r"data block of 'A' has no 'sentences:'")


def test_no_grammar_files(tmp_path):
    with pytest.raises(GrammarError, match="no grammar files"):
        load_grammar([tmp_path])


def test_missing_file(tmp_path):
    with pytest.raises(GrammarError, match="cannot read grammar file"):
        load_grammar([tmp_path / "nope.yaml"])


def test_unknown_data_key_is_a_warning_not_an_error(tmp_path):
    path = write_grammar(tmp_path, "language: en\nintents:\n  A:\n    data:\n      - sentences: [hi]\n        colour: red\n")
    grammar, problems = check_grammar([path])
    assert grammar.parse("hi").intent == "A"
    assert [p.severity for p in problems] == ["warning"]
    line, column = position_of(path, "colour")
    assert str(problems[0]) == f"{path}:{line}:{column}: warning: unknown key 'colour' in a data block of 'A'; it is ignored"


def test_error_message_counts_further_problems(tmp_path):
    path = write_grammar(tmp_path, one_intent(["{a} {b}"]))
    assert "(and 1 more problems; run 'voicecmd check-grammar')" in error_of(path)


def test_sentence_that_can_be_empty_is_a_warning(tmp_path):
    path = write_grammar(tmp_path, one_intent(["[please] [now]", "hello [there]"]))
    grammar, problems = check_grammar([path])
    line, column = position_of(path, "[please]")
    assert [str(p) for p in problems] == [
        f"{path}:{line}:{column}: warning: this sentence can be said with no words at all; "
        "make at least one part required"
    ]
    assert grammar.parse("").intent == "Test"  # as hassil: the empty text matches it


STRUCTURE_ERRORS = [
    # (yaml text, needle marking the expected position, message pattern)
    ("- just\n- a list\n", "- just", r"a grammar file must be a mapping"),
    ("language: en\nintents: [a, b]\n", "[a, b]", r"intents must be a mapping"),
    ("language: en\nintents:\n  A:\n    data: {sentences: [x]}\n", "{sentences", r"intent 'A' data must be a list"),
    ("language: en\nintents:\n  A:\n    sentences: [x]\n", "sentences: [x]", r"intent 'A' needs 'data:'"),
    ("language: en\nintents:\n  A:\n    data:\n      - sentences: ['']\n", "''", r"a sentence must be a non-empty"),
    ("language: en\nskip_words: [please, '']\n", "''", r"skip_words entries must be non-empty strings"),
    ("language: en\nskip_words: please\n", "please", r"skip_words must be a list"),
    ("language: en\nsettings:\n  ignore_whitespace: maybe\n", "maybe", r"ignore_whitespace must be true or false"),
    ("language: en\nexpansion_rules:\n  a: [x]\n", "[x]", r"expansion rule <a> must be a template string"),
    ("language: en\nlists:\n  a:\n    values:\n      - out: x\n", "out: x", r"a value mapping needs 'in'"),
    ("language: en\nlists:\n  a:\n    values:\n      - in: [x]\n        out: y\n", "[x]", r"'in' must be text"),
    ("language: en\nlists:\n  a:\n    values:\n      - [x]\n", "[x]", r"a value must be text or \{in: \.\.\., out: \.\.\.\}"),
    ("language: en\nlists:\n  a:\n    values: []\n", "[]", r"list 'a' has no values"),
    ("language: en\nlists:\n  a:\n    values:\n      - in: x\n        context: [y]\n", "[y]", r"'context' must be a mapping"),
    ("language: en\nlists:\n  a:\n    range: {from: x, to: 5}\n", "x,", r"range 'from' must be a number"),
    ("language: en\nlists:\n  a:\n    range: {from: 1, to: 5, fractions: thirds}\n", "thirds", r"fractions must be 'halves' or 'tenths'"),
    ("language: en\nintents:\n  A:\n    data:\n      - sentences: [x]\n        required_keywords: {a: b}\n", "{a: b}",
     r"required_keywords must be a list of words"),
    ("language: en\nintents:\n  A:\n    data:\n      - sentences: ['[a;b]']\n", "[a;b]", r"permutations use parentheses"),
    ("language: en\nintents:\n  A:\n    data:\n      - sentences: ['go (a;b)s']\n", "(a;b)", r"permutation cannot be glued"),
    ("language: en\nintents:\n  A:\n    data:\n      - sentences: ['go <a|b>']\n", "<a|b>", r"bad rule reference"),
    ("language: en\nareas:\n  - id: kitchen\n", "id: kitchen", r"areas entries need 'name' and 'id'"),
]


@pytest.mark.parametrize("text,needle,pattern", STRUCTURE_ERRORS)
def test_structure_errors(tmp_path, text, needle, pattern):
    path = write_grammar(tmp_path, text)
    _, problems = check_grammar([path])
    errors = [p for p in problems if p.severity == "error"]
    assert errors, problems
    line, column = position_of(path, needle)
    assert str(errors[0]).startswith(f"{path}:{line}:{column}: "), str(errors[0])
    assert re.search(pattern, str(errors[0])), str(errors[0])


def test_in_word_alternatives_that_explode(tmp_path):
    template = "go x" + "(a|b|c|d)" * 7
    path = write_grammar(tmp_path, one_intent([template]))
    assert "in-word alternatives expand to too many forms; add spaces" in error_of(path)


def test_not_utf8_and_empty_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"language: en\nintents: {\xff\xfe: 1}\n")
    assert f"{bad}:1:1: grammar file is not UTF-8 text" in error_of(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    _, problems = check_grammar([empty])
    assert [str(p) for p in problems] == [f"{empty}:1:1: warning: empty grammar file"]


def test_unknown_setting_is_a_warning(tmp_path):
    path = write_grammar(tmp_path, "language: en\nsettings:\n  shout: true\n")
    _, problems = check_grammar([path])
    assert [p.severity for p in problems] == ["warning"] and "unknown setting 'shout'" in str(problems[0])


def test_ambiguity_search_budget_is_reported(tmp_path, monkeypatch):
    from daemon.grammar import ambiguity

    real = ambiguity.find_ambiguities
    monkeypatch.setattr(ambiguity, "find_ambiguities", lambda graph, limit=10: real(graph, limit, budget=3))
    path = write_grammar(tmp_path, one_intent(["turn on the light", "turn off the light"]))
    _, problems = check_grammar([path])
    assert [str(p) for p in problems] == [
        "<grammar>:1:1: warning: ambiguity check stopped early (grammar too large); results are partial"]


def test_permutation_too_large(tmp_path):
    path = write_grammar(tmp_path, one_intent(["go (a;b;c;d;e;f;g)"]))
    assert_error_at(path, "(a;", r"a permutation of 7 items has too many orders; use at most 6")
