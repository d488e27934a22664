"""Ambiguity detection: one word string, two intents or two slot readings."""

from __future__ import annotations

import time

from daemon.grammar.ambiguity import find_ambiguities
from daemon.grammar.check import check_grammar
from tests.grammar.helpers import grammar_from, write_grammar
from tests.grammar.test_grammar_errors import position_of


def test_two_intents_for_one_sentence(tmp_path):
    path = write_grammar(tmp_path, """
    language: en
    intents:
      TurnOn:
        data:
          - sentences: ["turn on [the] {device}"]
      OpenDoor:
        data:
          - sentences: ["turn on the door"]
    lists:
      device:
        values: [door, light]
    """)
    _, problems = check_grammar([path])
    first, second = position_of(path, "turn on [the]"), position_of(path, "turn on the door")
    assert len(problems) == 1
    assert str(problems[0]) == (
        f"{path}:{first[0]}:{first[1]}: ambiguous: 'turn on the door' means TurnOn(device='door') or OpenDoor() "
        f"(this sentence and the one at {path}:{second[0]}:{second[1]}); "
        "change a template or list value so that only one reading remains"
    )


def test_two_slot_readings(tmp_path):
    path = write_grammar(tmp_path, """
    language: en
    intents:
      Pair:
        data:
          - sentences: ["set {a} {b}"]
    lists:
      a:
        values: [red, red green]
      b:
        values: [green blue, blue]
    """)
    _, problems = check_grammar([path])
    assert len(problems) == 1 and "two slot readings of this sentence" in str(problems[0])
    assert "'set red green blue'" in str(problems[0])


def test_same_meaning_twice_is_not_ambiguous(tmp_path):
    grammar = grammar_from(tmp_path, """
    language: en
    intents:
      TurnOn:
        data:
          - sentences: ["turn on [the] light", "turn on the light[s]"]
          - sentences: ["(switch|turn) on the light"]
    """)
    assert find_ambiguities(grammar.word_graph()) == ([], True)


def test_same_words_different_values_are_ambiguous(tmp_path):
    grammar = grammar_from(tmp_path, """
    language: zh-cn
    intents:
      Set:
        data:
          - sentences: ["调到{mode}"]
    lists:
      mode:
        values:
          - {in: 自动, out: auto}
          - {in: 自动, out: automatic}
    """)
    found, complete = find_ambiguities(grammar.word_graph())
    assert complete and [a.text for a in found] == ["调到自动"]


def test_shipped_grammars_are_unambiguous_and_checked_quickly(repo_root):
    for language in ("zh", "en"):
        start = time.perf_counter()
        grammar, problems = check_grammar([repo_root / "grammars" / language])
        assert problems == [] and time.perf_counter() - start < 5


def test_large_grammar_ambiguity_search_stays_bounded(tmp_path):
    lists = "\n".join(f"  l{k}:\n    values: [{', '.join(f'w{k}x{i}' for i in range(10))}]" for k in range(6))
    grammar = grammar_from(tmp_path, "language: en\nintents:\n  A:\n    data:\n      - sentences: ['{l0} {l1} {l2} {l3} {l4} {l5}']\n"
                           "lists:\n" + lists + "\n")
    start = time.perf_counter()
    assert find_ambiguities(grammar.word_graph()) == ([], True)
    assert time.perf_counter() - start < 5
