"""compile_token_graph: same sentences in unit space, unit chains, unspellable words, compaction, size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from daemon.grammar import load_grammar
from daemon.grammar.graph import Arc, WordGraph
from daemon.grammar.token_compiler import compile_token_graph, flat_word_arcs, graph_summary, unspellable_words
from runtime.decoding.token_graph import EPSILON, TokenGraph
from runtime.tokenizer import ModelTokenizer
from runtime.units import UnitTable

ZH_GRAMMAR = """
language: zh-cn
settings:
  ignore_whitespace: true
skip_words: ["请"]
intents:
  TurnOn:
    data:
      - sentences:
          - "打开{room}[的](灯|风扇|空调)"
  TurnOff:
    data:
      - sentences:
          - "关闭{room}[的](灯|风扇)"
          - "把{room}的灯关闭"
lists:
  room:
    values:
      - in: 客厅
        out: living_room
      - in: 卧室
        out: bedroom
"""

EN_GRAMMAR = """
language: en
intents:
  TurnOn:
    data:
      - sentences:
          - "turn on [the] {room} light"
          - "turn on [the] air conditioner"
  Open:
    data:
      - sentences:
          - "open [the] (door|window)"
lists:
  room:
    values:
      - kitchen
      - in: living room
        out: living_room
"""


@pytest.fixture(scope="module")
def units(wenet_fixtures: Path) -> UnitTable:
    return UnitTable.from_file(wenet_fixtures / "transformer_sub8" / "units.txt")


def grammar_from(tmp_path: Path, text: str, name: str = "g.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_grammar([path])


def word_sentences(graph: WordGraph, limit: int = 100_000) -> set[tuple[str, ...]]:
    """All word sequences of a small word graph."""
    out: set[tuple[str, ...]] = set()
    stack = [(graph.start, ())]
    while stack and len(out) < limit:
        state, words = stack.pop()
        if state in graph.finals:
            out.add(words)
        for arc in graph.arcs[state]:
            stack.append((arc.next, words if arc.word is None else words + (arc.word,)))
    return out


def unit_sentences(graph: TokenGraph) -> set[tuple[int, ...]]:
    return {tokens for tokens, _ in graph.token_sequences()}


def count_paths(graph: TokenGraph) -> int:
    """Number of accepted paths of an acyclic token graph (dynamic programming, no enumeration)."""
    order: list[int] = []
    seen = np.zeros(graph.num_states, bool)
    stack = [(graph.start, False)]
    while stack:
        state, done = stack.pop()
        if done:
            order.append(state)
            continue
        if seen[state]:
            continue
        seen[state] = True
        stack.append((state, True))
        for arc in graph.arcs_of(state):
            if not seen[graph.arc_next[arc]]:
                stack.append((int(graph.arc_next[arc]), False))
    paths = [0] * graph.num_states
    for state in order:  # reverse topological order: successors first
        total = 1 if graph.final[state] else 0
        for arc in graph.arcs_of(state):
            total += paths[int(graph.arc_next[arc])]
        paths[state] = total
    return paths[graph.start]


@pytest.mark.parametrize("text", [ZH_GRAMMAR, EN_GRAMMAR], ids=["zh", "en"])
def test_compiled_graph_accepts_exactly_the_spelled_sentences(tmp_path, units, text):
    grammar = grammar_from(tmp_path, text)
    word_graph = grammar.word_graph()
    tokenizer = ModelTokenizer(units)
    graph = compile_token_graph(word_graph, tokenizer)
    expected = set()
    for words in word_sentences(word_graph):
        ids = tokenizer.encode_words(words)
        if ids is not None:
            expected.add(ids)
    assert expected
    assert unit_sentences(graph) == expected


def test_multi_piece_words_become_unit_chains(tmp_path, units):
    graph = compile_token_graph(grammar_from(tmp_path, EN_GRAMMAR).word_graph(), ModelTokenizer(units))
    ids = units.symbol_to_id
    sentences = unit_sentences(graph)
    assert (ids["▁TURN"], ids["▁ON"], ids["▁AIR"], ids["▁CONDITION"], ids["ER"]) in sentences
    assert (ids["▁TURN"], ids["▁ON"], ids["▁THE"], ids["▁LIVING"], ids["▁ROOM"], ids["▁LIGHT"]) in sentences


def test_unspellable_words_are_reported_and_their_sentences_dropped(tmp_path, units):
    graph = compile_token_graph(grammar_from(tmp_path, EN_GRAMMAR).word_graph(), ModelTokenizer(units))
    assert graph.unknown_words == ("window",)
    ids = units.symbol_to_id
    sentences = unit_sentences(graph)
    assert (ids["▁OPEN"], ids["▁DOOR"]) in sentences
    assert not any(len(s) == 2 and s[0] == ids["▁OPEN"] and s[1] != ids["▁DOOR"] for s in sentences)
    assert unspellable_words(grammar_from(tmp_path, EN_GRAMMAR).word_graph(), ModelTokenizer(units)) == ["window"]


def test_grammar_with_no_spellable_sentence_compiles_to_an_empty_graph(tmp_path, units):
    text = "language: en\nintents:\n  X:\n    data:\n      - sentences:\n          - \"open the window\"\n"
    graph = compile_token_graph(grammar_from(tmp_path, text).word_graph(), ModelTokenizer(units))
    assert graph.num_arcs == 0 and not graph.final.any()
    assert graph.unknown_words == ("window",)


def test_outputs_and_origins_point_back_to_word_arcs(tmp_path, units):
    word_graph = grammar_from(tmp_path, ZH_GRAMMAR).word_graph()
    graph = compile_token_graph(word_graph, ModelTokenizer(units))
    word_arcs = flat_word_arcs(word_graph)
    assert graph.outputs == word_graph.outputs
    for arc in range(graph.num_arcs):
        origin = int(graph.arc_origin[arc])
        if origin < 0:
            assert graph.arc_output[arc] == -1
            continue
        word_arc = word_arcs[origin]
        assert graph.arc_output[arc] == word_arc.output
        if word_arc.word is None:
            assert graph.arc_token[arc] == EPSILON
        else:
            assert units.symbols[graph.arc_token[arc]] == word_arc.word
    # Every output label of the word graph survives on some arc.
    kept = {int(o) for o in graph.arc_output if o >= 0}
    used = {a.output for arcs in word_graph.arcs for a in arcs if a.output >= 0}
    assert kept == used


def test_plain_epsilons_are_merged_away():
    # 0 -a-> 1 -eps-> 2 -eps-> 3 -b-> 4 ; plus an epsilon with an output that must stay.
    arcs = (
        (Arc("打", 1),),
        (Arc(None, 2),),
        (Arc(None, 3),),
        (Arc("开", 4), Arc(None, 5, 0)),
        (),
        (Arc("灯", 4),),
    )
    word_graph = WordGraph(num_states=6, start=0, finals=frozenset([4]), arcs=arcs, outputs=("x",))
    units = UnitTable(["<blank>", "<unk>", "打", "开", "灯", "<sos/eos>"])
    graph = compile_token_graph(word_graph, ModelTokenizer(units))
    assert graph_summary(graph)["epsilon_arcs"] == 1
    assert graph.num_states == 4
    assert unit_sentences(graph) == {(2, 3), (2, 4)}


def test_final_state_with_only_an_epsilon_out_keeps_its_finality():
    # "打" alone or "打 开": state 1 is final and has one plain epsilon to a non-final state.
    arcs = ((Arc("打", 1),), (Arc(None, 2),), (Arc("开", 3),), ())
    word_graph = WordGraph(num_states=4, start=0, finals=frozenset([1, 3]), arcs=arcs, outputs=())
    units = UnitTable(["<blank>", "<unk>", "打", "开", "<sos/eos>"])
    graph = compile_token_graph(word_graph, ModelTokenizer(units))
    assert unit_sentences(graph) == {(2,), (2, 3)}


MILLION_GRAMMAR_FILE = Path(__file__).resolve().parents[2] / "bench" / "data" / "million_sentences_zh.yaml"


def test_million_sentence_grammar_compiles_to_a_small_graph(tmp_path):
    grammar = load_grammar([MILLION_GRAMMAR_FILE])
    word_graph = grammar.word_graph()
    vocab = sorted(word_graph.vocabulary())
    units = UnitTable(["<blank>", "<unk>", *vocab, "<sos/eos>"])
    graph = compile_token_graph(word_graph, ModelTokenizer(units))
    assert graph.unknown_words == ()
    assert count_paths(graph) >= 2 * 10**6  # [请] doubles 10^6 (number variants such as 两 add more)
    assert graph.num_arcs < 5_000
    assert graph.nbytes < 1_000_000
