"""WordGraph: structure, interpretation of paths, size without enumerating sentences."""

from __future__ import annotations

import time

from daemon.grammar.graph import Arc, WordGraph
from daemon.grammar.matcher import TextMatcher
from daemon.grammar.words import is_cjk
from tests.grammar.helpers import grammar_from, one_intent


def _accepted_path(grammar, text):
    matcher = TextMatcher(grammar)
    return next(iter(matcher.accepted_paths(matcher.words_of(text))))


def test_arcs_carry_single_words(repo_root):
    from daemon.grammar import load_grammar

    for language in ("zh", "en"):
        graph = load_grammar(repo_root / "grammars" / language).word_graph()
        assert isinstance(graph, WordGraph)
        for word in graph.vocabulary():
            if language == "zh":
                assert is_cjk(word), word
            else:
                assert word == word.lower() and " " not in word and word.isascii(), word
        assert graph.start not in graph.finals and graph.num_states == len(graph.arcs)


def test_interpret_gives_intent_slots_raw_slots_and_text(tmp_path):
    lists = """
    room:
      values:
        - in: living room
          out: living_room
    level:
      range: {from: 0, to: 100}
    """
    grammar = grammar_from(tmp_path, one_intent(["set [the] {room} to {level} percent"], lists))
    path = _accepted_path(grammar, "set the living room to forty two percent")
    match = grammar.word_graph().interpret(path)
    assert match.intent == "Test"
    assert match.slots == {"room": "living_room", "level": 42}
    assert match.raw_slots == {"room": "living room", "level": "forty two"}
    assert match.text == "set the living room to forty two percent"


def test_interpret_needs_only_word_arcs_and_output_arcs(tmp_path):
    """The token compiler drops epsilon arcs without output; interpretation must not depend on them."""
    grammar = grammar_from(tmp_path, one_intent(["打开[{room}的]灯"], "room:\n  values: [{in: 客厅, out: living}]", "zh"))
    path = _accepted_path(grammar, "打开客厅的灯")
    reduced = [Arc(a.word, -1, a.output) for a in path if a.word is not None or a.output >= 0]
    match = grammar.word_graph().interpret(reduced)
    assert (match.intent, match.slots, match.text) == ("Test", {"room": "living"}, "打开客厅的灯")


def test_lists_and_rules_are_built_once_and_copied(tmp_path):
    values = "\n".join(f"    - v{i}" for i in range(50))
    text = one_intent(["{x} one", "{x} two", "<r> three", "<r> four"], f"x:\n  values:\n{values}",
                      extra='expansion_rules:\n  r: "(a|b|c) {x}"\n')
    graph = grammar_from(tmp_path, text).word_graph()
    # four references to a 50-value list: linear in the uses, far below the 50*4 sentences' words
    assert graph.num_arcs < 4 * (50 * 2 + 10) + 40


def test_million_sentence_grammar_compiles_small_and_fast(tmp_path):
    lists = "\n".join(f"l{k}:\n  values: [{', '.join(f'w{k}x{i}' for i in range(10))}]" for k in range(6))
    grammar = grammar_from(tmp_path, one_intent(["{l0} {l1} {l2} {l3} {l4} {l5}"], lists))  # 10**6 sentences
    start = time.perf_counter()
    graph = grammar.word_graph()
    elapsed = time.perf_counter() - start
    assert graph.num_arcs < 500
    assert elapsed < 2.0
    assert grammar.parse("w0x3 w1x4 w2x5 w3x6 w4x7 w5x8").slots == {f"l{k}": f"w{k}x{k + 3}" for k in range(6)}


def test_origins_name_the_sentence_of_a_state(tmp_path):
    grammar = grammar_from(tmp_path, one_intent(["first sentence", "second sentence"]))
    graph = grammar.word_graph()
    origins = {graph.origin_of(arc.next) for arcs in graph.arcs for arc in arcs if arc.word == "second"}
    assert {(o.line, o.column) for o in origins} == {(7, 14)}  # the first character of the template


def test_wildcard_sentences_are_left_out_of_the_speech_graph(tmp_path):
    text = """
    language: en
    intents:
      Add:
        data:
          - sentences: ["add {item}", "clear the list"]
    lists:
      item: {wildcard: true}
    """
    grammar = grammar_from(tmp_path, text)
    assert grammar.word_graph().vocabulary() == {"clear", "the", "list"}
    assert grammar.parse("add milk").slots == {"item": "milk"}


def test_skip_words_optional_at_both_ends_of_the_speech_graph(tmp_path):
    grammar = grammar_from(tmp_path, one_intent(["lights on"], extra="skip_words: [please]"))
    assert "please" in grammar.word_graph().vocabulary()
    assert grammar.parse("please lights on please") is not None


def test_one_word_sentences_have_an_origin(tmp_path):
    grammar = grammar_from(tmp_path, one_intent(["louder", "quieter please"]))
    graph = grammar.word_graph()
    origins = {arc.word: graph.origin_of(arc.next) for arcs in graph.arcs for arc in arcs if arc.word}
    assert (origins["louder"].line, origins["louder"].column) == (6, 14)


def _random_path(graph, rng):
    state, path = graph.start, []
    while True:
        arcs = graph.arcs[state]
        if state in graph.finals and (not arcs or rng.random() < 0.5):
            return path
        arc = rng.choice(arcs)
        path.append(arc)
        state = arc.next


def test_random_paths_of_the_speech_graph_parse_to_their_interpretation(repo_root):
    """What the speech side decodes (a path of the WordGraph) means the same as its text parsed."""
    import random

    from daemon.grammar import load_grammar
    from daemon.grammar.words import join_words

    rng = random.Random(5)
    for language in ("zh", "en"):
        grammar = load_grammar(repo_root / "grammars" / language)
        graph = grammar.word_graph()
        for _ in range(300):
            path = _random_path(graph, rng)
            decoded = graph.interpret(path)
            text = join_words([arc.word for arc in path if arc.word is not None])
            parsed = grammar.parse(text)
            assert parsed is not None, text
            assert (parsed.intent, parsed.slots) == (decoded.intent, decoded.slots), text
            assert decoded.text == text
